// Runs the GPU layer libraries (CUDA or OpenCL, as built) against the reference. Without a
// device it prints why and exits 77, which ctest reports as skipped, unless
// CNNGEN_REQUIRE_GPU names the API (CI requires OpenCL, which pocl provides on any machine).
#include "aot_calls.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <string>

// The same layer configurations built for CUDA (PTX) or OpenCL; CMake picks the API.
#define CNNGEN_PASTE2(a, b) a##b
#define CNNGEN_PASTE(a, b) CNNGEN_PASTE2(a, b)
#define LAYER(name) CNNGEN_PASTE(name, CNNGEN_GPU_SUFFIX)
#if CNNGEN_GPU_OPENCL
#include "aot_avg_pool_opencl.h"
#include "aot_ce_loss_opencl.h"
#include "aot_conv_lenet1_opencl.h"
#include "aot_conv_odd_opencl.h"
#include "aot_huber_loss_opencl.h"
#include "aot_lenet_fc1_opencl.h"
#include "aot_lenet_pool_opencl.h"
#include "aot_lrn_inter_opencl.h"
#include "aot_lrn_intra_opencl.h"
#include "aot_relu_opencl.h"
constexpr const char *kApi = "opencl";
#else
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
constexpr const char *kApi = "cuda";
#endif

namespace {

constexpr int kSkipped = 77;

bool cuda_present(std::string &why) {
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

bool opencl_present(std::string &why) {
    void *opencl = dlopen("libOpenCL.so.1", RTLD_LAZY);
    if (!opencl) {
        why = "libOpenCL.so.1 not found (install ocl-icd-libopencl1 and an ICD such as pocl-opencl-icd)";
        return false;
    }
    using PlatformsFn = int (*)(unsigned, void **, unsigned *);
    auto platforms = reinterpret_cast<PlatformsFn>(dlsym(opencl, "clGetPlatformIDs"));
    unsigned count = 0;
    if (!platforms || platforms(0, nullptr, &count) != 0 || count == 0) {
        why = "no OpenCL platform";
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
    std::printf("%-12s %s: status %d, relative error %.3g %s\n", config.c_str(), kApi, status, error, ok ? "ok" : "FAILED");
    failures += !ok;
}

void report_error(void *, const char *message) { std::fprintf(stderr, "halide: %s\n", message); }

}  // namespace

int main() {
    std::string why;
    if (!(CNNGEN_GPU_OPENCL ? opencl_present(why) : cuda_present(why))) {
        const char *required = std::getenv("CNNGEN_REQUIRE_GPU");
        if (required && std::string(required) == kApi) {
            std::printf("FAILED: CNNGEN_REQUIRE_GPU=%s but %s\n", required, why.c_str());
            return 1;
        }
        std::printf("skipped: %s\n", why.c_str());
        return kSkipped;
    }
    halide_set_error_handler(report_error);
    check("lenet_conv1", aot::Conv(LAYER(aot_conv_lenet1)));
    check("odd_conv", aot::Conv(LAYER(aot_conv_odd)));
    check("lenet_pool", aot::Unary(LAYER(aot_lenet_pool)));
    check("avg_pool", aot::Unary(LAYER(aot_avg_pool)));
    check("relu", aot::Unary(LAYER(aot_relu)));
    check("lrn_inter", aot::Unary(LAYER(aot_lrn_inter)));
    check("lrn_intra", aot::Unary(LAYER(aot_lrn_intra)));
    check("lenet_fc1", aot::Conv(LAYER(aot_lenet_fc1)));
    check("ce_loss", aot::Loss{LAYER(aot_ce_loss)});
    check("huber_loss", aot::Loss{LAYER(aot_huber_loss)});
    return failures == 0 ? 0 : 1;
}
