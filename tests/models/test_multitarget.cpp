// One LeNet-5 library holding AVX-512, AVX2 and SSE4.1 code; Halide's wrapper picks a path
// through halide_can_use_target_features on its first call and keeps it for the process.
// So each process forces one path: it checks that the path ran, compares its logits with
// the plain-loop reference, and writes them to OUT_DIR/<path>.npy; the other paths are then
// compared with the SSE4.1 path's file.
// Usage: test_multitarget avx512|avx2|sse41 FIXTURES_DIR OUT_DIR. Exit 77 (skipped) when this
// CPU cannot run the requested path.
#include "model_references.h"

#include <HalideRuntime.h>
#include <fmt/core.h>

#include <cstring>

#include "lenet5_multitarget.h"

namespace {

// The library's targets, best first, as given to cnngen_add_model.
const char *const kPaths[] = {"avx512", "avx2", "sse41"};
constexpr int kPathCount = 3;
constexpr double kReferenceTolerance = 1e-4;  // float32 vs double, relative to max |logit|
constexpr double kPathTolerance = 1e-5;       // FMA and vector width change the rounding only

int forced_path = kPathCount - 1;
int chosen_path = -1;  // the last path is the fallback: taken without asking
int questions = 0;

bool has_feature(int count, const uint64_t *features, halide_target_feature_t feature) {
    const int word = feature / 64;
    return word < count && ((features[word] >> (feature % 64)) & 1);
}

int path_of(int count, const uint64_t *features) {
    if (has_feature(count, features, halide_target_feature_avx512_skylake)) return 0;
    if (has_feature(count, features, halide_target_feature_avx2)) return 1;
    return 2;
}

// Refuses every path better than the forced one; accepts the rest as the CPU allows.
int force_path(int count, const uint64_t *features) {
    ++questions;
    const int path = path_of(count, features);
    if (path < forced_path || !halide_default_can_use_target_features(count, features)) return 0;
    chosen_path = path;
    return 1;
}

}  // namespace

int main(int argc, char **argv) {
    using namespace cnngen_test;
    int path = -1;
    for (int k = 0; argc == 4 && k < kPathCount; ++k)
        if (std::strcmp(argv[1], kPaths[k]) == 0) path = k;
    if (path < 0) {
        fmt::print(stderr, "usage: {} avx512|avx2|sse41 FIXTURES_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    const std::string fixtures = argv[2], out_dir = argv[3];
    forced_path = path;
    halide_set_custom_can_use_target_features(force_path);
    cnngen::Model model(lenet5_multitarget_model());
    model.load_weights(fixtures + "/lenet5_weights");
    // 70 images: the batch-64 function once and the batch-1 function six times.
    const auto input = cnngen::read_npy(fixtures + "/lenet5_input_70.npy");
    const int batch = input.shape[0];
    const std::vector<float> logits = model.logits(input.data.data(), batch);
    if (questions == 0) {
        fmt::print(stderr, "the library never asked halide_can_use_target_features: not a multi-target library?\n");
        return 1;
    }
    if (chosen_path < 0) chosen_path = kPathCount - 1;
    if (chosen_path != path) {
        fmt::print("skipped: this CPU cannot run the {} path (the wrapper chose {})\n", kPaths[path], kPaths[chosen_path]);
        return 77;
    }
    Params params = params_of(model);
    const reference::Tensor got = logits_tensor(logits, batch, model.classes());
    const double reference_error = reference::relative_error(got, lenet5_reference(from_npy(input), params));
    bool ok = reference_error < kReferenceTolerance;
    fmt::print("{} path: relative error {:.2e} to the reference (limit {:.0e})\n", kPaths[path], reference_error,
               kReferenceTolerance);
    cnngen::write_npy(out_dir + "/" + kPaths[path] + ".npy", {batch, model.classes()}, logits.data());
    if (path != kPathCount - 1) {
        const auto baseline = cnngen::read_npy(out_dir + "/" + kPaths[kPathCount - 1] + ".npy");
        const double path_error = reference::relative_error(got, from_npy(baseline));
        ok = ok && path_error < kPathTolerance;
        fmt::print("{} path: relative error {:.2e} to the sse41 path (limit {:.0e})\n", kPaths[path], path_error,
                   kPathTolerance);
    }
    fmt::print("{}\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
