// Runs the CUDA layer libraries against the reference on a GPU. Without a GPU
// (no libcuda, or no device) it prints why and exits 77, which ctest reports as skipped.
#include "aot_calls.h"

#include <dlfcn.h>

#include <cstdio>
#include <string>

#include "aot_avg_pool_cuda.h"
#include "aot_ce_loss_cuda.h"
#include "aot_conv_lenet1_cuda.h"
#include "aot_conv_odd_cuda.h"
#include "aot_huber_loss_cuda.h"
#include "aot_lenet_fc1_cuda.h"
#include "aot_lenet_pool_cuda.h"
#include "aot_lrn_inter_cuda.h"
#include "aot_lrn_intra_cuda.h"
#include "aot_relu_cuda.h"

namespace {

constexpr int kSkipped = 77;

bool gpu_present(std::string &why) {
    void *cuda = dlopen("libcuda.so.1", RTLD_LAZY);
    if (!cuda) {
        why = "libcuda.so.1 not found";
        return false;
    }
    using InitFn = int (*)(unsigned);
    using CountFn = int (*)(int *);
    auto init = reinterpret_cast<InitFn>(dlsym(cuda, "cuInit"));
    auto count = reinterpret_cast<CountFn>(dlsym(cuda, "cuDeviceGetCount"));
    int devices = 0;
    if (!init || !count || init(0) != 0 || count(&devices) != 0 || devices == 0) {
        why = "CUDA driver present but no usable device";
        return false;
    }
    return true;
}

int failures = 0;

template <typename Fn>
void check(const std::string &config, Fn fn) {
    aot::Fixture f = aot::fixture(config);
    int status = -1;
    reference::Tensor got = aot::run(fn, f, status);
    const double error = status == 0 ? reference::relative_error(got, f.expected) : -1;
    const bool ok = status == 0 && error < aot::kTolerance;
    std::printf("%-12s cuda: status %d, relative error %.3g %s\n", config.c_str(), status, error, ok ? "ok" : "FAILED");
    failures += !ok;
}

void report_error(void *, const char *message) { std::fprintf(stderr, "halide: %s\n", message); }

}  // namespace

int main() {
    std::string why;
    if (!gpu_present(why)) {
        std::printf("skipped: %s\n", why.c_str());
        return kSkipped;
    }
    halide_set_error_handler(report_error);
    check("lenet_conv1", aot::Conv(aot_conv_lenet1_cuda));
    check("odd_conv", aot::Conv(aot_conv_odd_cuda));
    check("lenet_pool", aot::Unary(aot_lenet_pool_cuda));
    check("avg_pool", aot::Unary(aot_avg_pool_cuda));
    check("relu", aot::Unary(aot_relu_cuda));
    check("lrn_inter", aot::Unary(aot_lrn_inter_cuda));
    check("lrn_intra", aot::Unary(aot_lrn_intra_cuda));
    check("lenet_fc1", aot::Conv(aot_lenet_fc1_cuda));
    check("ce_loss", aot::Loss{aot_ce_loss_cuda});
    check("huber_loss", aot::Loss{aot_huber_loss_cuda});
    return failures == 0 ? 0 : 1;
}
