// The layers graph networks add (add, concat, clip, hardswish, global average pooling, batch
// normalization, dropout) against the plain-loop references, over shapes and schedules.
#include "jit_harness.h"

#include <catch2/catch.hpp>
#include <layers/merge.h>
#include <layers/normalization.h>
#include <layers/pooling.h>

#include <algorithm>
#include <cmath>

using namespace testing_support;

namespace {

constexpr double kTolerance = 1e-5;
const std::vector<std::string> kSchedules = {"naive", "cpu", "mullapudi2016"};

cnngen::ActivationParams activation_of(cnngen::ActivationKind kind, float min = 0, float max = 6) {
    cnngen::ActivationParams p;
    p.kind = kind;
    p.min = min;
    p.max = max;
    return p;
}

reference::Tensor run_activation(const cnngen::ActivationParams &p, const reference::Tensor &input,
                                 const std::string &schedule) {
    Params none;
    return run_layer([&](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::activation("act", in, p); },
                     input, none, schedule);
}

}  // namespace

TEST_CASE("clip and hardswish match the reference across their kinks", "[graph][activation]") {
    std::mt19937 rng(31);
    for (const std::string &schedule : kSchedules)
        for (const std::vector<int> &shape : std::vector<std::vector<int>>{{3, 17}, {2, 5, 3, 7}}) {
            INFO("schedule " << schedule << " rank " << shape.size());
            const auto input = random_tensor(shape, rng, -9, 9);
            for (const auto &[low, high] : std::vector<std::pair<float, float>>{{0, 6}, {-1, 1}, {-0.5f, 2.5f}})
                CHECK(relative_error(run_activation(activation_of(cnngen::ActivationKind::clip, low, high), input, schedule),
                                     reference::clip(input, low, high)) < kTolerance);
            CHECK(relative_error(run_activation(activation_of(cnngen::ActivationKind::hardswish), input, schedule),
                                 reference::hardswish(input)) < kTolerance);
        }
}

TEST_CASE("add sums two or more inputs, then its activation", "[graph][add]") {
    std::mt19937 rng(37);
    for (const std::string &schedule : kSchedules)
        for (int count : {2, 3, 5})
            for (const std::vector<int> &shape : std::vector<std::vector<int>>{{2, 9}, {2, 3, 5, 7}, {1, 8, 4, 4}})
                for (bool relu : {false, true}) {
                    INFO("schedule " << schedule << ", " << count << " inputs of rank " << shape.size() << ", relu " << relu);
                    std::vector<reference::Tensor> inputs;
                    for (int k = 0; k < count; ++k) inputs.push_back(random_tensor(shape, rng, -2, 2));
                    cnngen::AddParams p;
                    if (relu) p.activation = activation_of(cnngen::ActivationKind::relu);
                    const auto got = run_join([&](const std::vector<cnngen::Tensor> &in) { return cnngen::add("sum", in, p); },
                                              inputs, schedule);
                    reference::Tensor expected = reference::add(inputs);
                    if (relu) expected = reference::clip(expected, 0, 1e30);
                    CHECK(relative_error(got, expected) < kTolerance);
                }
}

TEST_CASE("concat joins channels of images and features in order", "[graph][concat]") {
    std::mt19937 rng(41);
    for (const std::string &schedule : kSchedules)
        for (const std::vector<int> &channels : std::vector<std::vector<int>>{{3}, {1, 2}, {4, 16, 5}, {8, 8, 8, 8}})
            for (int rank : {2, 4}) {
                INFO("schedule " << schedule << ", " << channels.size() << " inputs of rank " << rank);
                std::vector<reference::Tensor> inputs;
                for (int c : channels)
                    inputs.push_back(random_tensor(rank == 4 ? std::vector<int>{2, c, 3, 5} : std::vector<int>{3, c}, rng));
                const auto got = run_join(
                    [&](const std::vector<cnngen::Tensor> &in) { return cnngen::concat("cat", in, {}); }, inputs, schedule);
                CHECK(relative_error(got, reference::concat(inputs)) < kTolerance);
            }
}

TEST_CASE("joins refuse inputs that do not meet, naming them", "[graph]") {
    const std::vector<std::string> names{"conv2", "relu1"};
    CHECK_THROWS_WITH(cnngen::add_output_shape("add1", {{1, 4, 8, 8}, {1, 4, 4, 4}}, names),
                      Catch::Contains("'conv2' gives 1x4x8x8 and 'relu1' gives 1x4x4x4"));
    CHECK_THROWS_WITH(cnngen::add_output_shape("add1", {{1, 4, 8, 8}}, {"conv2"}), Catch::Contains("at least 2 inputs"));
    CHECK_THROWS_WITH(cnngen::concat_output_shape("cat", {{1, 4, 8, 8}, {1, 2, 8, 7}}, names),
                      Catch::Contains("'relu1' gives 1x2x8x7"));
    CHECK(cnngen::concat_output_shape("cat", {{1, 4, 8, 8}, {1, 2, 8, 8}}, names) == cnngen::Shape{1, 6, 8, 8});
}

TEST_CASE("global average pooling matches the reference for any window", "[graph][pooling]") {
    std::mt19937 rng(43);
    for (const std::string &schedule : kSchedules)
        for (const std::vector<int> &shape : std::vector<std::vector<int>>{{1, 3, 1, 1}, {2, 5, 7, 7}, {3, 4, 13, 9}}) {
            INFO("schedule " << schedule << " shape " << shape[2] << "x" << shape[3]);
            const auto input = random_tensor(shape, rng);
            Params none;
            const auto got = run_layer(
                [](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::global_avg_pool("gap", in); },
                input, none, schedule);
            CHECK(relative_error(got, reference::global_avg_pool(input)) < kTolerance);
        }
}

TEST_CASE("batch_norm normalizes each channel with its running statistics", "[graph][batch_norm]") {
    std::mt19937 rng(47);
    for (const std::string &schedule : kSchedules)
        for (const std::vector<int> &shape : std::vector<std::vector<int>>{{2, 3, 4, 5}, {4, 6}, {1, 16, 7, 7}})
            for (float epsilon : {1e-5f, 1e-3f}) {
                INFO("schedule " << schedule << " rank " << shape.size() << " epsilon " << epsilon);
                const int channels = shape[1];
                Params params;
                params.tensors["bn.weight"] = random_tensor({channels}, rng, 0.5, 2);
                params.tensors["bn.bias"] = random_tensor({channels}, rng);
                params.tensors["bn.running_mean"] = random_tensor({channels}, rng);
                params.tensors["bn.running_var"] = random_tensor({channels}, rng, 0.1, 3);
                const auto input = random_tensor(shape, rng, -3, 3);
                cnngen::BatchNormParams p;
                p.epsilon = epsilon;
                const auto got = run_layer(
                    [&](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
                        return cnngen::batch_norm("bn", in, p, source);
                    },
                    input, params, schedule);
                const auto &t = params.tensors;
                CHECK(relative_error(got, reference::batch_norm(input, t.at("bn.weight"), t.at("bn.bias"),
                                                                t.at("bn.running_mean"), t.at("bn.running_var"), epsilon)) <
                      kTolerance);
            }
}

TEST_CASE("dropout while training zeroes elements with probability p as its seed's hash says, scaling the rest",
          "[graph][dropout]") {
    std::mt19937 rng(61);
    Params none;
    const auto run_dropout = [&](const reference::Tensor &input, float p, uint32_t seed, const std::string &schedule) {
        cnngen::DropoutParams params;
        params.p = p;
        params.seed = Halide::Expr(int32_t(seed));
        return run_layer([&](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::dropout("drop", in, params); },
                         input, none, schedule);
    };
    for (const std::string &schedule : kSchedules)
        for (const std::vector<int> &shape : std::vector<std::vector<int>>{{2, 3, 4, 5}, {3, 17}})
            for (float p : {0.1f, 0.5f})
                for (uint32_t seed : {1u, 12345u, 4000000000u}) {
                    INFO("schedule " << schedule << " rank " << shape.size() << " p " << p << " seed " << seed);
                    const auto input = random_tensor(shape, rng);
                    CHECK(relative_error(run_dropout(input, p, seed, schedule), reference::dropout_training(input, seed, p)) <
                          kTolerance);
                }
    // Over 32k elements: the kept fraction is 1 - p, and another seed draws another mask.
    reference::Tensor ones({4, 8, 32, 32});
    std::fill(ones.data.begin(), ones.data.end(), 1.0);
    const auto a = run_dropout(ones, 0.3f, 7, "cpu"), b = run_dropout(ones, 0.3f, 8, "cpu");
    size_t kept = 0, differ = 0;
    for (size_t k = 0; k < ones.size(); ++k) {
        kept += a.data[k] != 0;
        differ += (a.data[k] != 0) != (b.data[k] != 0);
        if (a.data[k] != 0) CHECK(a.data[k] == Approx(1 / 0.7).epsilon(1e-6));
    }
    const double kept_fraction = double(kept) / double(ones.size()), differ_fraction = double(differ) / double(ones.size());
    INFO("kept " << kept_fraction << ", differing between seeds " << differ_fraction);
    CHECK(std::abs(kept_fraction - 0.7) < 0.02);      // 8 standard deviations
    CHECK(std::abs(differ_fraction - 0.42) < 0.03);   // 2 x 0.7 x 0.3 for independent masks
}

TEST_CASE("dropout is the identity at inference", "[graph][dropout]") {
    std::mt19937 rng(53);
    const auto input = random_tensor({2, 3, 4, 5}, rng);
    Params none;
    const auto got = run_layer(
        [](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::dropout("drop", in, {0.3f}); }, input,
        none, "cpu");
    CHECK(relative_error(got, input) == 0);
}
