// Activations, softmax and LRN against the plain-loop reference.
#include "layer_builders.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <layers/activation.h>
#include <layers/lrn.h>

using namespace testing_support;

namespace {

constexpr double kTolerance = 1e-5;

const std::vector<std::pair<std::string, reference::Activation>> kActivations = {
    {"relu", reference::Activation::relu},       {"leaky_relu", reference::Activation::leaky_relu},
    {"sigmoid", reference::Activation::sigmoid}, {"tanh", reference::Activation::tanh},
    {"elu", reference::Activation::elu},         {"softmax", reference::Activation::softmax}};

reference::Tensor run_activation(const std::string &kind, float alpha, const reference::Tensor &input,
                                 const std::string &schedule) {
    Params none;
    auto build = [&](const cnngen::Tensor &in, const cnngen::ParamSource &) {
        return cnngen::activation("act", in, {cnngen::activation_kind_from_name("act", kind), alpha});
    };
    return run_layer(build, input, none, schedule);
}

reference::Tensor run_lrn(const reference::Lrn &r, const reference::Tensor &input, const std::string &schedule) {
    Params none;
    const cnngen::LrnParams p = lrn_params(r);
    auto build = [&](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::lrn("norm", in, p); };
    return run_layer(build, input, none, schedule);
}

}  // namespace

TEST_CASE("activations match the reference on 2-D and 4-D tensors", "[activation][grid]") {
    std::mt19937 rng(3);
    for (const std::string schedule : {"naive", "cpu", "mullapudi2016"})
        for (const auto &[name, kind] : kActivations)
            for (const std::vector<int> &shape : std::vector<std::vector<int>>{{3, 10}, {2, 5, 3, 7}}) {
                // Softmax gets large logits to exercise the max subtraction.
                const double range = name == "softmax" ? 80 : 4;
                const auto input = random_tensor(shape, rng, -range, range);
                const double alpha = name == "elu" ? 1.0 : 0.05;
                INFO(name << " schedule " << schedule << " rank " << shape.size());
                const auto got = run_activation(name, float(alpha), input, schedule);
                CHECK(relative_error(got, reference::activation(input, kind, alpha)) < kTolerance);
            }
}

TEST_CASE("softmax rows sum to one and survive logits near float max", "[activation]") {
    const auto input = tensor_from({1, 3}, {1e30, 1e30 - 1e24, -1e30});
    const auto got = run_activation("softmax", 0, input, "cpu");
    CHECK(got.data[0] + got.data[1] + got.data[2] == Approx(1.0));
    CHECK(std::isfinite(got.data[0]));
}

TEST_CASE("tanh's rational approximation stays within 5e-7 of tanh everywhere", "[activation]") {
    // A dense grid across the polynomial's range, its clamp at +-7.9 and the tiny-argument branch.
    const int count = 240001;
    std::vector<double> values(count);
    for (int k = 0; k < count; ++k) values[k] = -12.0 + 24.0 * k / (count - 1);
    values.push_back(3e-4);
    values.push_back(-5e-4);
    const auto input = tensor_from({1, int(values.size())}, values);
    const auto got = run_activation("tanh", 0, input, "cpu");
    double worst = 0, worst_at = 0;
    for (size_t k = 0; k < values.size(); ++k) {
        const double error = std::abs(got.data[k] - std::tanh(double(float(values[k]))));
        if (error > worst) worst = error, worst_at = values[k];
    }
    INFO("largest error " << worst << " at " << worst_at);
    CHECK(worst < 5e-7);
}

TEST_CASE("LRN matches the notes' formulas for both kinds and many windows", "[lrn][grid]") {
    std::mt19937 rng(5);
    for (const std::string schedule : {"naive", "cpu", "mullapudi2016"})
        for (bool inter : {true, false})
            for (int n : {1, 2, 3, 4, 5})
                for (bool onnx_window : {false, true}) {
                    // Large inputs make the normalization term matter with AlexNet's gamma.
                    reference::Lrn p{inter, n, 2.0, 1e-4, 0.75, onnx_window};
                    if (n % 2 == 0) p = {inter, n, 1.0, 0.05, 0.6, onnx_window};
                    const auto input = random_tensor({2, 7, 5, 6}, rng, -20, 20);
                    INFO("inter " << inter << " n " << n << " onnx window " << onnx_window << " schedule " << schedule);
                    CHECK(relative_error(run_lrn(p, input, schedule), reference::lrn(input, p)) < kTolerance);
                }
}

TEST_CASE("LRN with AlexNet constants on one pixel gives the hand-computed value", "[lrn]") {
    // One channel, value 10: 10 / (2 + 1e-4 * 100)^0.75.
    const auto input = tensor_from({1, 1, 1, 1}, {10});
    const auto got = run_lrn({true, 5, 2.0, 1e-4, 0.75}, input, "naive");
    CHECK(got.data[0] == Approx(10.0 / std::pow(2.01, 0.75)).epsilon(1e-6));
}
