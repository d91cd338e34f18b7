// Winograd's F(2x2, 3x3) and F(4x4, 3x3) convolutions against the plain-loop reference, with
// their float32 error measured the way their bound is stated (layers/winograd.h): |cnngen -
// exact| over the largest sum of |weight| x |input| over the taps (and |bias|) of an output of
// the same sample and channel.
#include "layer_builders.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <layers/winograd.h>

#include <cmath>

using namespace testing_support;

namespace {

// U = G g Gᵀ per (output, input) channel pair, in double: [O, I, m + 2, m + 2].
reference::Tensor transformed_weights(const reference::Tensor &weight, int m) {
    const std::vector<double> g_matrix = cnngen::winograd_weight_matrix(m);
    const int outputs = weight.shape[0], inputs = weight.shape[1], a = m + 2;
    reference::Tensor u({outputs, inputs, a, a});
    for (int o = 0; o < outputs; ++o)
        for (int i = 0; i < inputs; ++i)
            for (int ay = 0; ay < a; ++ay)
                for (int ax = 0; ax < a; ++ax) {
                    double sum = 0;
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx)
                            sum += g_matrix[size_t(ay * 3 + ky)] * weight.at4(o, i, ky, kx) * g_matrix[size_t(ax * 3 + kx)];
                    u.at4(o, i, ay, ax) = sum;
                }
    return u;
}

reference::Tensor absolute(reference::Tensor t) {
    for (double &v : t.data) v = std::fabs(v);
    return t;
}

struct WinogradCase {
    std::vector<int> input_shape;  // N, C, H, W
    int out_channels;
    reference::Conv2d hyper;
    std::string describe() const {
        return fmt::format("in {}x{}x{}x{} out {} pad {},{},{},{}", input_shape[0], input_shape[1], input_shape[2],
                           input_shape[3], out_channels, hyper.pad_top, hyper.pad_bottom, hyper.pad_left,
                           hyper.pad_right);
    }
};

// The largest error relative to the largest sum of |w| |x| (and |bias|) among the outputs of
// the same sample and channel: a tile's transforms mix its outputs, so an output near zero
// padding (few taps in the image) carries its neighbours' rounding.
double scaled_error(const reference::Tensor &got, const reference::Tensor &expected, const reference::Tensor &scale) {
    const size_t plane = size_t(got.shape[2]) * size_t(got.shape[3]);
    double worst = 0;
    for (size_t first = 0; first < got.size(); first += plane) {
        double largest = 1e-30;
        for (size_t k = first; k < first + plane; ++k) largest = std::max(largest, scale.data[k]);
        for (size_t k = first; k < first + plane; ++k)
            worst = std::max(worst, std::fabs(got.data[k] - expected.data[k]) / largest);
    }
    return worst;
}

}  // namespace

TEST_CASE("Winograd conv2d matches the reference within its stated error bound", "[conv2d][grid][winograd]") {
    std::mt19937 rng(13);
    const std::vector<std::array<int, 4>> paddings = {{1, 1, 1, 1}, {0, 0, 0, 0}, {0, 2, 1, 0}, {2, 2, 2, 2}};
    for (int m : {2, 4}) {
        double worst = 0;
        int variant = 0;
        for (int channels : {1, 3, 16, 37})
            for (int out_channels : {1, 5, 16, 48})
                for (const auto &pad : paddings) {
                    // Each tile on half the combinations, alternating over the paddings and
                    // from one channel pair to the next: each padding meets both tiles.
                    ++variant;
                    if ((variant + (variant - 1) / 4) % 2 == m / 2 - 1) continue;
                    WinogradCase c;
                    // Odd sizes: partial tiles on the right and bottom edges; a third at batch 2
                    // or 3 (the cpu schedule's passes a sample at a time).
                    c.input_shape = {variant % 3 ? 1 : 2 + variant % 2, channels, 4 + variant % 11,
                                     5 + (variant * 7) % 13};
                    c.out_channels = out_channels;
                    c.hyper.pad_top = pad[0];
                    c.hyper.pad_bottom = pad[1];
                    c.hyper.pad_left = pad[2];
                    c.hyper.pad_right = pad[3];
                    INFO(c.describe() << " F(" << m << "x" << m << ", 3x3)");
                    const auto weight = random_tensor({out_channels, channels, 3, 3}, rng);
                    const auto bias = random_tensor({out_channels}, rng);
                    const auto input = random_tensor(c.input_shape, rng);
                    const auto expected = reference::conv2d(input, weight, bias, c.hyper);
                    const auto scale = reference::conv2d(absolute(input), absolute(weight), absolute(bias), c.hyper);
                    Params params;
                    params.tensors["conv.weight"] = transformed_weights(weight, m);
                    params.tensors["conv.bias"] = bias;
                    auto conv = conv_params(out_channels, 3, 3, c.hyper);
                    conv.winograd_tile = m;
                    const auto build = [&](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
                        return cnngen::conv2d("conv", in, conv, source);
                    };
                    for (const char *schedule : {"naive", "cpu"}) {
                        INFO("schedule " << schedule);
                        const auto got = run_layer(build, input, params, schedule);
                        REQUIRE(got.shape == expected.shape);
                        const double error = scaled_error(got, expected, scale);
                        CHECK(error <= cnngen::winograd_error_bound(m));
                        worst = std::max(worst, error);
                    }
                }
        // The measured figure the bound in layers/winograd.h was set from.
        WARN(fmt::format("F({}x{}, 3x3): largest error {:.2e} of the sum of |w| |x| (bound {:.0e})", m, m, worst,
                         cnngen::winograd_error_bound(m)));
    }
}

// Grouped: each group's products over its own input channels. Groups of 1, 5 and 16 input and 3,
// 16 and 32 output channels (16 and 32: whole vectors of a group, as the plan picks them; 3: vectors
// across groups), odd sizes, batches 1 to 3, both tiles, against the plain loops.
TEST_CASE("Winograd conv2d of grouped convolutions matches the reference within its bound", "[conv2d][grid][winograd]") {
    std::mt19937 rng(19);
    int variant = 0;
    for (int m : {2, 4})
        for (int groups : {2, 3})
            for (int group_in : {1, 5, 16})
                for (int group_out : {3, 16, 32}) {
                    ++variant;
                    reference::Conv2d hyper;
                    hyper.groups = groups;
                    hyper.pad_top = hyper.pad_left = 1;
                    hyper.pad_bottom = hyper.pad_right = variant % 2;
                    const std::vector<int> input_shape = {1 + variant % 3, groups * group_in, 5 + variant % 9,
                                                          6 + (variant * 5) % 11};
                    const int out_channels = groups * group_out;
                    INFO(fmt::format("in {}x{}x{}x{} out {} groups {} F({}x{}, 3x3)", input_shape[0], input_shape[1],
                                     input_shape[2], input_shape[3], out_channels, groups, m, m));
                    const auto weight = random_tensor({out_channels, group_in, 3, 3}, rng);
                    const auto bias = random_tensor({out_channels}, rng);
                    const auto input = random_tensor(input_shape, rng);
                    const auto expected = reference::conv2d(input, weight, bias, hyper);
                    const auto scale = reference::conv2d(absolute(input), absolute(weight), absolute(bias), hyper);
                    Params params;
                    params.tensors["conv.weight"] = transformed_weights(weight, m);
                    params.tensors["conv.bias"] = bias;
                    auto conv = conv_params(out_channels, 3, 3, hyper);
                    conv.winograd_tile = m;
                    for (const char *schedule : {"naive", "cpu"}) {
                        INFO("schedule " << schedule);
                        const auto got = run_layer(
                            [&](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
                                return cnngen::conv2d("conv", in, conv, source);
                            },
                            input, params, schedule);
                        REQUIRE(got.shape == expected.shape);
                        CHECK(scaled_error(got, expected, scale) <= cnngen::winograd_error_bound(m));
                    }
                }
}

TEST_CASE("Winograd applies to 3x3 stride-1 cross-correlation only, grouped or not", "[conv2d][winograd]") {
    cnngen::Conv2dParams p;
    p.height = p.width = {3, 1, 1, 1, 1};
    CHECK(cnngen::winograd_applies(p));
    p.groups = 2;
    CHECK(cnngen::winograd_applies(p));
    for (auto change : std::vector<std::function<void(cnngen::Conv2dParams &)>>{
             [](auto &q) { q.width.stride = 2; }, [](auto &q) { q.height.dilation = 2; },
             [](auto &q) { q.width.kernel = 5; }, [](auto &q) { q.flip_kernel = true; }}) {
        cnngen::Conv2dParams q = p;
        change(q);
        CHECK_FALSE(cnngen::winograd_applies(q));
    }
    Halide::Func input("input");
    input(Halide::_) = 0.0f;
    p.out_channels = 4;
    p.width.stride = 2;
    p.winograd_tile = 4;
    Params params;
    CHECK_THROWS_WITH(cnngen::conv2d("conv9", {input, {1, 2, 8, 8}}, p, params.source()),
                      Catch::Contains("conv9") && Catch::Contains("3x3 kernels at stride 1"));
}

// The bound on real networks' layer shapes: ResNet-50's 3x3 layers at their sizes, VGG-16's
// channel counts (at 14x14 but the last, whose error grows with the reduction over input
// channels, not the image), AlexNet's grouped conv4 and conv5, inputs non-negative as after
// ReLU, weights of PyTorch's default scale.
TEST_CASE("Winograd conv2d stays within its bound on ResNet-50's, VGG-16's and AlexNet's layers", "[conv2d][winograd]") {
    struct Shape {
        const char *model;
        int in_channels, out_channels, size, groups = 1;
    };
    const std::vector<Shape> layers = {{"resnet50", 64, 64, 56},   {"resnet50", 128, 128, 28}, {"resnet50", 256, 256, 14},
                                       {"resnet50", 512, 512, 7},  {"vgg16", 64, 128, 14},     {"vgg16", 128, 256, 14},
                                       {"vgg16", 256, 512, 14},    {"vgg16", 512, 512, 14},    {"alexnet", 384, 384, 13, 2},
                                       {"alexnet", 384, 256, 13, 2}};
    std::mt19937 rng(17);
    for (const Shape &layer : layers) {
        reference::Conv2d hyper;
        hyper.pad_top = hyper.pad_bottom = hyper.pad_left = hyper.pad_right = 1;
        hyper.groups = layer.groups;
        const int group_in = layer.in_channels / layer.groups;
        const double bound = 1 / std::sqrt(9.0 * group_in);
        auto weight = random_tensor({layer.out_channels, group_in, 3, 3}, rng);
        for (double &w : weight.data) w *= bound;
        const auto bias = random_tensor({layer.out_channels}, rng);
        const auto input = absolute(random_tensor({1, layer.in_channels, layer.size, layer.size}, rng));
        const auto expected = reference::conv2d(input, weight, bias, hyper);
        const auto scale = reference::conv2d(input, absolute(weight), absolute(bias), hyper);
        for (int m : {2, 4}) {
            INFO(layer.model << " " << layer.in_channels << " -> " << layer.out_channels << " at " << layer.size << "x"
                             << layer.size << " in " << layer.groups << " groups, F(" << m << "x" << m << ", 3x3)");
            Params params;
            params.tensors["conv.weight"] = transformed_weights(weight, m);
            params.tensors["conv.bias"] = bias;
            auto conv = conv_params(layer.out_channels, 3, 3, hyper);
            conv.winograd_tile = m;
            const auto got = run_layer(
                [&](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
                    return cnngen::conv2d("conv", in, conv, source);
                },
                input, params, "cpu");
            const double error = scaled_error(got, expected, scale);
            CHECK(error <= cnngen::winograd_error_bound(m));
            WARN(fmt::format("{} {} -> {} at {}x{}, F({}x{}, 3x3): error {:.2e}", layer.model, layer.in_channels,
                             layer.out_channels, layer.size, layer.size, m, m, error));
        }
    }
}
