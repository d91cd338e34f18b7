// Whole models built with the gpu schedule for a GPU API (OpenCL on pocl in CI, CUDA where a
// device exists) against the same model built for the CPU: logits at batch 1 and at a batch
// that is no multiple of any thread tile, and three SGD steps (parameters and losses).
//
// Usage: test_gpu_models CASE. Exits 77 (reported as skipped) when the API has no device,
// unless CNNGEN_REQUIRE_GPU names the API: CI sets it, so a missing pocl fails instead.
#include "model_references.h"

#include <cnngen/model.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gpu_test_models.h"  // written by CMake: the cases for this API

namespace {

constexpr int kSkipped = 77;
constexpr double kTolerance = 1e-4;

int failures = 0;

// max |got - expected| / max |expected|: relative to the tensor's own scale (velocities are
// around 1e-3, so an absolute bound would hide their errors). Infinite for a size mismatch or
// any value that is not finite.
double relative_error(const std::vector<float> &got, const std::vector<float> &expected) {
    if (got.size() != expected.size()) return INFINITY;
    double difference = 0, scale = 1e-30;
    for (size_t k = 0; k < expected.size(); ++k) {
        if (!std::isfinite(got[k]) || !std::isfinite(expected[k])) return INFINITY;
        difference = std::max(difference, double(std::abs(got[k] - expected[k])));
        scale = std::max(scale, double(std::abs(expected[k])));
    }
    return difference / scale;
}

void check(const std::string &what, double error) {
    const bool ok = std::isfinite(error) && error <= kTolerance;
    std::printf("  %-44s relative error %.3g (limit %g) %s\n", what.c_str(), error, kTolerance, ok ? "ok" : "FAILED");
    failures += !ok;
}

void compare_logits(cnngen::Model &gpu, cnngen::Model &cpu) {
    // The built batches (1 and 7) and a count that takes both, padded.
    for (int count : {1, 7, 17}) {
        const std::vector<float> images = cnngen_test::random_floats(size_t(count) * gpu.sample_size(), 100 + count);
        check("logits, " + std::to_string(count) + " images",
              relative_error(gpu.logits(images.data(), count), cpu.logits(images.data(), count)));
    }
}

void compare_training(cnngen::Model &gpu, cnngen::Model &cpu) {
    const int batch = gpu.train_batch();
    const cnngen::SgdSettings sgd{0.05f, 0.9f, 1e-4f};
    for (int step = 0; step < 3; ++step) {
        const std::vector<float> images = cnngen_test::random_floats(size_t(batch) * gpu.sample_size(), 200 + step);
        std::vector<int32_t> labels(static_cast<size_t>(batch));
        for (int n = 0; n < batch; ++n) labels[size_t(n)] = (n * 7 + step) % gpu.classes();
        const cnngen::StepResult a = gpu.train_step(images.data(), labels.data(), sgd);
        const cnngen::StepResult b = cpu.train_step(images.data(), labels.data(), sgd);
        check("loss, step " + std::to_string(step + 1), relative_error({a.loss}, {b.loss}));
    }
    const std::vector<cnngen::Tensor> got = gpu.parameters(), expected = cpu.parameters();
    const std::vector<cnngen::Tensor> got_v = gpu.velocities(), expected_v = cpu.velocities();
    for (size_t k = 0; k < got.size(); ++k) {
        const std::string &name = gpu.description().parameters[k].name;
        check(name + " after 3 steps", relative_error(got[k].data, expected[k].data));
        check(name + " velocity after 3 steps", relative_error(got_v[k].data, expected_v[k].data));
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CASE\n", argv[0]);
        return 2;
    }
    const GpuCase *selected = nullptr;
    for (const GpuCase &c : gpu_cases())
        if (c.name == argv[1]) selected = &c;
    if (!selected) {
        std::fprintf(stderr, "%s: no case '%s'\n", argv[0], argv[1]);
        return 2;
    }
    try {
        cnngen::Model gpu(selected->gpu()), cpu(selected->cpu());
        const cnngen::DeviceInfo device = gpu.device();
        std::printf("%s on %s\n", selected->name.c_str(), device.description.c_str());
        if (!device.available) {
            const char *required = std::getenv("CNNGEN_REQUIRE_GPU");
            if (required && std::string(required) == kGpuApi) {
                std::printf("FAILED: CNNGEN_REQUIRE_GPU=%s but there is no device\n", required);
                return 1;
            }
            std::printf("skipped: no %s device\n", kGpuApi);
            return kSkipped;
        }
        gpu.initialize(7);
        cpu.initialize(7);
        compare_logits(gpu, cpu);
        if (gpu.train_batch() > 0) compare_training(gpu, cpu);
    } catch (const std::exception &e) {
        std::printf("FAILED: %s\n", e.what());
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
