#include "model_verify.h"

#include "cnngen/error.h"
#include "cnngen/npy.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

namespace cnngen {

namespace {

struct Named {
    std::string file;  // logits_b64.npy, velocity.conv1.weight.npy, ...
    Tensor tensor;
};

std::vector<Named> computed_values(Model &model) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> pixel(0, 1);
    model.initialize(1);
    std::vector<Named> values;
    for (int batch : model.inference_batches()) {
        std::vector<float> images(size_t(batch) * size_t(model.sample_size()));
        for (float &x : images) x = pixel(rng);
        values.push_back({fmt::format("logits_b{}.npy", batch), {{batch, model.classes()}, model.logits(images.data(), batch)}});
    }
    if (const int batch = model.train_batch()) {
        SgdSettings sgd;
        sgd.learning_rate = 0.05f;
        for (int step = 0; step < 2; ++step) {
            std::vector<float> images(size_t(batch) * size_t(model.sample_size()));
            for (float &x : images) x = pixel(rng);
            std::vector<int32_t> labels(static_cast<size_t>(batch));
            for (int32_t &l : labels) l = int32_t(rng() % unsigned(model.classes()));
            model.train_step(images.data(), labels.data(), sgd);
        }
        const auto &parameters = model.description().parameters;
        const std::vector<Tensor> velocities = model.velocities(), weights = model.parameters();
        for (size_t k = 0; k < parameters.size(); ++k) {
            values.push_back({"velocity." + parameters[k].name + ".npy", velocities[k]});
            values.push_back({"parameter." + parameters[k].name + ".npy", weights[k]});
        }
    }
    return values;
}

// Largest |a - b| over the largest |b| (at least 1e-6, so all-zero references compare absolutely).
double relative_difference(const std::vector<float> &a, const std::vector<float> &b) {
    double largest = 1e-6, difference = 0;
    for (size_t k = 0; k < b.size(); ++k) {
        largest = std::max(largest, double(std::fabs(b[k])));
        const double d = std::fabs(double(a[k]) - double(b[k]));
        if (!(d <= difference)) difference = d;  // NaN included: it must not compare away
    }
    return std::isfinite(difference) ? difference / largest : INFINITY;
}

}  // namespace

int verify_model(Model &model, const std::string &write_dir, const std::string &against_dir, double tolerance) {
    if (write_dir.empty() && against_dir.empty()) runtime_fail("verify: give --write DIR, --against DIR or both");
    const std::vector<Named> values = computed_values(model);
    if (!write_dir.empty()) {
        std::filesystem::create_directories(write_dir);
        for (const Named &v : values) write_npy(write_dir + "/" + v.file, v.tensor.shape, v.tensor.data.data());
        fmt::print("verify: wrote {} tensors to {}\n", values.size(), write_dir);
    }
    if (against_dir.empty()) return 0;
    for (const Named &v : values) {
        const std::string path = against_dir + "/" + v.file;
        if (!std::filesystem::exists(path))
            runtime_fail("verify: {} is missing (was the reference built with the same batch sizes and training?)", path);
        const NpyArray reference = read_npy(path);
        if (reference.shape != v.tensor.shape)
            runtime_fail("verify: {} has a different shape than this build's {}", path, v.file);
        const double difference = relative_difference(v.tensor.data, reference.data);
        fmt::print("verify: {:<36} {:.2e}\n", v.file, difference);
        if (!(difference <= tolerance)) {
            fmt::print(stderr, "error: verify: {} differs from {} by {:.3g} of its largest value (tolerance {:.3g})\n",
                       v.file, path, difference, tolerance);
            return 1;
        }
    }
    fmt::print("verify: {} tensors agree with {} within {:.3g}\n", values.size(), against_dir, tolerance);
    return 0;
}

}  // namespace cnngen
