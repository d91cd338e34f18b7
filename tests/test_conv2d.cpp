// conv2d against the notes' worked examples and the plain-loop reference.
#include "layer_builders.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <layers/errors.h>
#include <schedules/schedule.h>

using namespace testing_support;

namespace {

constexpr double kTolerance = 1e-5;  // relative to max(1, largest |reference|), float32 vs double

struct ConvCase {
    std::vector<int> input_shape;  // N, C, H, W
    int out_channels, kh, kw;
    reference::Conv2d hyper;
    std::string describe() const {
        return fmt::format("in {}x{}x{}x{} out {} k {}x{} stride {}x{} pad {},{},{},{} dilation {}x{} groups {} flip {}",
                           input_shape[0], input_shape[1], input_shape[2], input_shape[3], out_channels, kh, kw,
                           hyper.stride_h, hyper.stride_w, hyper.pad_top, hyper.pad_bottom, hyper.pad_left,
                           hyper.pad_right, hyper.dilation_h, hyper.dilation_w, hyper.groups, hyper.flip_kernel);
    }
};

std::vector<ConvCase> conv_grid() {
    std::vector<ConvCase> cases;
    const std::vector<std::array<int, 4>> paddings = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {0, 2, 1, 0}};
    int variant = 0;
    for (int stride = 1; stride <= 3; ++stride)
        for (const auto &pad : paddings)
            for (int dilation = 1; dilation <= 2; ++dilation)
                for (int groups : {1, 2}) {
                    ++variant;
                    ConvCase c;
                    // Rotate through batch sizes, odd non-square sizes and channel counts.
                    const int batch = variant % 3 == 0 ? 1 : 2;
                    const int channels = groups * (1 + variant % 3);
                    c.input_shape = {batch, channels, 7 + variant % 5, 9 + variant % 4};
                    c.out_channels = groups * (1 + variant % 4);
                    c.kh = 3;
                    c.kw = variant % 2 ? 3 : 2;
                    c.hyper.stride_h = stride;
                    c.hyper.stride_w = stride == 3 ? 2 : stride;
                    c.hyper.pad_top = pad[0];
                    c.hyper.pad_bottom = pad[1];
                    c.hyper.pad_left = pad[2];
                    c.hyper.pad_right = pad[3];
                    c.hyper.dilation_h = dilation;
                    c.hyper.dilation_w = variant % 4 == 0 ? 1 : dilation;
                    c.hyper.groups = groups;
                    c.hyper.flip_kernel = variant % 5 == 0;
                    cases.push_back(c);
                }
    return cases;
}

reference::Tensor run_conv(const ConvCase &c, const reference::Tensor &input, Params &params, const std::string &schedule,
                           cnngen::AlgorithmForm form = cnngen::AlgorithmForm::direct) {
    auto build = [&](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
        return cnngen::conv2d("conv", in, conv_params(c.out_channels, c.kh, c.kw, c.hyper), source, form);
    };
    return run_layer(build, input, params, schedule);
}

void check_grid(const std::string &schedule, size_t every) {
    std::mt19937 rng(7);
    const auto grid = conv_grid();
    for (size_t k = 0; k < grid.size(); k += every) {
        const ConvCase &c = grid[k];
        INFO(c.describe() << " schedule " << schedule);
        const int group_in = c.input_shape[1] / c.hyper.groups;
        Params params;
        params.tensors["conv.weight"] = random_tensor({c.out_channels, group_in, c.kh, c.kw}, rng);
        params.tensors["conv.bias"] = random_tensor({c.out_channels}, rng);
        const auto input = random_tensor(c.input_shape, rng);
        const auto expected = reference::conv2d(input, params.tensors["conv.weight"], params.tensors["conv.bias"], c.hyper);
        const auto got = run_conv(c, input, params, schedule);
        REQUIRE(got.shape == expected.shape);
        CHECK(relative_error(got, expected) < kTolerance);
        // The differentiable form (masked groups), the one autodiff goes through, computes the same values.
        if (c.hyper.groups > 1)
            CHECK(relative_error(run_conv(c, input, params, schedule, cnngen::AlgorithmForm::differentiable), expected) < kTolerance);
    }
}

}  // namespace

TEST_CASE("conv2d reproduces the 4x5 example of notes 000", "[conv2d][notes]") {
    const auto Y = tensor_from({1, 1, 4, 5}, {1, 5, -2, 0, 2, 3, 8, 7, 1, 0, -1, 0, 1, 2, 3, 4, 2, 1, -1, 2});
    Params params;
    params.tensors["conv.weight"] = tensor_from({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    params.tensors["conv.bias"] = tensor_from({1}, {0});
    ConvCase c{{1, 1, 4, 5}, 1, 3, 3, {}};
    SECTION("cross-correlation Y (x) K") {
        CHECK(run_conv(c, Y, params, "naive").data == std::vector<double>{101, 100, 87, 95, 55, 58});
    }
    SECTION("convolution Y * K flips the kernel") {
        c.hyper.flip_kernel = true;
        CHECK(run_conv(c, Y, params, "cpu").data == std::vector<double>{119, 120, 53, 155, 155, 102});
    }
}

TEST_CASE("conv2d reproduces the 5x5 example of notes 002", "[conv2d][notes]") {
    const auto input = tensor_from({1, 1, 5, 5}, {3, 3, 2, 1, 0, 0, 0, 1, 3, 1, 3, 1, 2, 2, 3, 2, 0, 0, 2, 2, 2, 0, 0, 0, 1});
    Params params;
    params.tensors["conv.weight"] = tensor_from({1, 1, 3, 3}, {0, 1, 2, 2, 2, 0, 0, 1, 2});
    params.tensors["conv.bias"] = tensor_from({1}, {0});
    ConvCase c{{1, 1, 5, 5}, 1, 3, 3, {}};
    CHECK(run_conv(c, input, params, "naive").data == std::vector<double>{12, 12, 17, 10, 17, 19, 9, 6, 14});
}

TEST_CASE("conv2d LeNet-5 conv1 keeps 28x28 with pad 2 and has 156 parameters", "[conv2d][notes]") {
    cnngen::Conv2dParams p;
    p.out_channels = 6;
    p.height = {5, 1, 2, 2, 1};
    p.width = {5, 1, 2, 2, 1};
    // Count the parameters the layer itself requests, with the shapes it requests them in.
    long long requested = 0;
    cnngen::ParamSource counting = [&](const std::string &name, const cnngen::Shape &shape) {
        requested += cnngen::element_count(shape);
        return cnngen::zeros("placeholder_" + std::to_string(requested), int(shape.size()));
    };
    auto layer = cnngen::conv2d("conv1", {cnngen::zeros("input", 4), {1, 1, 28, 28}}, p, counting);
    CHECK(layer.output.shape == cnngen::Shape{1, 6, 28, 28});
    CHECK(requested == 156);
}

TEST_CASE("conv2d naive matches the reference over the hyperparameter grid", "[conv2d][grid]") {
    check_grid("naive", 1);
}

TEST_CASE("conv2d cpu schedule matches the reference over the hyperparameter grid", "[conv2d][grid]") {
    check_grid("cpu", 1);
}

// Depthwise layers wide enough for several channel tiles per sample, where the cpu schedule
// pads each tile's own channels a row ahead of its output rows instead of the whole input.
TEST_CASE("depthwise conv2d with channel tiles matches the reference", "[conv2d][grid][depthwise]") {
    std::mt19937 rng(11);
    const std::vector<std::array<int, 4>> paddings = {{1, 1, 1, 1}, {0, 2, 1, 0}, {2, 2, 2, 2}};
    int variant = 0;
    // 128: at least 4 tiles of channel vectors even at batch 1, so the tiles run their rows in
    // turn and read a padded copy stored channels-innermost (where they run across channels).
    for (int channels : {32, 48, 36, 128})
        for (int stride = 1; stride <= 2; ++stride)
            for (const auto &pad : paddings) {
                ++variant;
                ConvCase c;
                c.input_shape = {1 + variant % 2, channels, 9 + variant % 7, 17 + variant % 19};
                c.out_channels = channels;
                c.kh = variant % 3 ? 3 : 5;
                c.kw = variant % 4 ? 3 : 5;
                c.hyper.stride_h = c.hyper.stride_w = stride;
                c.hyper.pad_top = pad[0];
                c.hyper.pad_bottom = pad[1];
                c.hyper.pad_left = pad[2];
                c.hyper.pad_right = pad[3];
                c.hyper.groups = channels;
                INFO(c.describe());
                Params params;
                params.tensors["conv.weight"] = random_tensor({channels, 1, c.kh, c.kw}, rng);
                params.tensors["conv.bias"] = random_tensor({channels}, rng);
                const auto input = random_tensor(c.input_shape, rng);
                const auto expected =
                    reference::conv2d(input, params.tensors["conv.weight"], params.tensors["conv.bias"], c.hyper);
                for (const char *schedule : {"naive", "cpu"}) {
                    INFO("schedule " << schedule);
                    const auto got = run_conv(c, input, params, schedule);
                    REQUIRE(got.shape == expected.shape);
                    CHECK(relative_error(got, expected) < kTolerance);
                }
            }
}

// Channel counts that fill vectors on wide images: the cpu schedule's tiles across output
// channels for kernels wider than 1x1 (weights transposed per call), with input channels in
// blocks from 64 of them (enough channel tiles and samples for the tiles to stay outermost), at
// strides, paddings and dilations the grid above covers narrowly.
TEST_CASE("conv2d cpu schedule on wide channel counts matches the reference", "[conv2d][grid][wide]") {
    std::mt19937 rng(13);
    struct Wide {
        std::vector<int> input_shape;
        int out_channels, kernel, stride;
        std::array<int, 4> pad;
        int dilation;
    };
    for (const Wide &w : std::vector<Wide>{{{4, 64, 20, 40}, 64, 3, 1, {1, 1, 1, 1}, 1},
                                           {{2, 96, 17, 35}, 16, 3, 2, {1, 1, 1, 1}, 1},
                                           {{1, 3, 40, 45}, 48, 7, 2, {3, 3, 3, 3}, 1},
                                           {{2, 128, 9, 50}, 64, 5, 1, {2, 0, 2, 1}, 2},
                                           {{2, 256, 6, 7}, 64, 3, 1, {1, 1, 1, 1}, 1}}) {
        ConvCase c;
        c.input_shape = w.input_shape;
        c.out_channels = w.out_channels;
        c.kh = c.kw = w.kernel;
        c.hyper.stride_h = c.hyper.stride_w = w.stride;
        c.hyper.pad_top = w.pad[0];
        c.hyper.pad_bottom = w.pad[1];
        c.hyper.pad_left = w.pad[2];
        c.hyper.pad_right = w.pad[3];
        c.hyper.dilation_h = c.hyper.dilation_w = w.dilation;
        INFO(c.describe());
        Params params;
        params.tensors["conv.weight"] = random_tensor({c.out_channels, c.input_shape[1], c.kh, c.kw}, rng);
        params.tensors["conv.bias"] = random_tensor({c.out_channels}, rng);
        const auto input = random_tensor(c.input_shape, rng);
        const auto expected = reference::conv2d(input, params.tensors["conv.weight"], params.tensors["conv.bias"], c.hyper);
        const auto got = run_conv(c, input, params, "cpu");
        REQUIRE(got.shape == expected.shape);
        CHECK(relative_error(got, expected) < kTolerance);
    }
}

TEST_CASE("conv2d autoscheduled versions match the reference", "[conv2d][auto]") {
    check_grid("mullapudi2016", 9);
    check_grid("li2018", 9);
}

TEST_CASE("conv2d rejects impossible configurations naming layer and parameter", "[conv2d][errors]") {
    Halide::Func input("input");
    input(Halide::_) = 0.0f;
    Params params;
    auto build = [&](cnngen::Conv2dParams p, cnngen::Shape shape) {
        return cnngen::conv2d("conv7", {input, shape}, p, params.source());
    };
    cnngen::Conv2dParams p;
    p.out_channels = 4;
    p.height = {5, 1, 0, 0, 1};
    p.width = {5, 1, 0, 0, 1};
    CHECK_THROWS_WITH(build(p, {1, 1, 4, 8}), Catch::Contains("conv7") && Catch::Contains("height") &&
                                                  Catch::Contains("larger than padded input 4"));
    p.height.stride = 0;
    CHECK_THROWS_WITH(build(p, {1, 1, 8, 8}), Catch::Contains("conv7: stride height is 0"));
    p.height.stride = 1;
    p.groups = 3;
    CHECK_THROWS_WITH(build(p, {1, 4, 8, 8}), Catch::Contains("conv7: input channels 4 not divisible by groups 3"));
    CHECK_THROWS_WITH(cnngen::check_schedule_name("conv7", "fastest"),
                      Catch::Contains("conv7: schedule 'fastest' unknown") && Catch::Contains("naive, cpu, gpu, cuda"));
}

TEST_CASE("padding modes same and same_lower give ONNX's SAME_UPPER and SAME_LOWER at any stride", "[conv2d][padding]") {
    for (int input = 1; input <= 13; ++input)
        for (int kernel = 1; kernel <= 5; ++kernel)
            for (int stride = 1; stride <= 3; ++stride)
                for (int dilation = 1; dilation <= 2; ++dilation)
                    for (auto mode : {cnngen::PaddingMode::same, cnngen::PaddingMode::same_lower}) {
                        // ONNX's operator definition: output ceil(input / stride), total padding
                        // max((output - 1) * stride + (kernel - 1) * dilation + 1 - input, 0).
                        const int output = (input + stride - 1) / stride;
                        const int total = std::max((output - 1) * stride + (kernel - 1) * dilation + 1 - input, 0);
                        cnngen::Window1d w{kernel, stride, 0, 0, dilation};
                        w.padding_mode = mode;
                        INFO("input " << input << " kernel " << kernel << " stride " << stride << " dilation "
                                      << dilation << " " << cnngen::padding_mode_name(mode));
                        const cnngen::Window1d resolved = cnngen::resolve_padding("conv", "width", input, w);
                        CHECK(resolved.pad_before + resolved.pad_after == total);
                        CHECK(resolved.pad_before == (mode == cnngen::PaddingMode::same ? total / 2 : total - total / 2));
                        if (total + input >= (kernel - 1) * dilation + 1)
                            CHECK(cnngen::window_output_size("conv", "width", input, w) == output);
                    }
}

TEST_CASE("a padding mode at stride 2 runs as its explicit pads", "[conv2d][padding]") {
    std::mt19937 rng(31);
    const auto input = random_tensor({1, 2, 9, 8}, rng);
    const auto weight = random_tensor({3, 2, 4, 3}, rng);
    const auto bias = random_tensor({3}, rng);
    for (auto mode : {cnngen::PaddingMode::same, cnngen::PaddingMode::same_lower}) {
        cnngen::Conv2dParams p;
        p.out_channels = 3;
        p.height = {4, 2, 0, 0, 1};
        p.width = {3, 2, 0, 0, 1};
        p.height.padding_mode = p.width.padding_mode = mode;
        p.height = cnngen::resolve_padding("conv", "height", 9, p.height);
        p.width = cnngen::resolve_padding("conv", "width", 8, p.width);
        // SAME_UPPER pads height 9 by 3 (1 before, 2 after) and width 8 by 1 (0, 1); SAME_LOWER the odd one before.
        const bool upper = mode == cnngen::PaddingMode::same;
        reference::Conv2d r;
        r.stride_h = r.stride_w = 2;
        r.pad_top = upper ? 1 : 2, r.pad_bottom = upper ? 2 : 1, r.pad_left = upper ? 0 : 1, r.pad_right = upper ? 1 : 0;
        CHECK(p.height.pad_before == r.pad_top);
        CHECK(p.width.pad_before == r.pad_left);
        Params params;
        params.tensors["conv.weight"] = weight;
        params.tensors["conv.bias"] = bias;
        auto build = [&](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
            return cnngen::conv2d("conv", in, p, source);
        };
        const auto got = run_layer(build, input, params, "naive");
        const auto expected = reference::conv2d(input, weight, bias, r);
        REQUIRE(got.shape == std::vector<int>{1, 3, 5, 4});
        CHECK(relative_error(got, expected) < kTolerance);
    }
}
