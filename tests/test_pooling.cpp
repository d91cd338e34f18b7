// Pooling against the notes' worked examples and the plain-loop reference.
#include "layer_builders.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using namespace testing_support;

namespace {

constexpr double kTolerance = 1e-5;

reference::Tensor run_pool(const reference::Pool2d &hyper, const reference::Tensor &input, const std::string &schedule) {
    Params none;
    auto build = [&](const cnngen::Tensor &in, const cnngen::ParamSource &) {
        return cnngen::pool2d("pool", in, pool_params(hyper));
    };
    return run_layer(build, input, none, schedule);
}

reference::Pool2d window(reference::Pool kind, int kernel, int stride) {
    reference::Pool2d p;
    p.kind = kind;
    p.kernel_h = p.kernel_w = kernel;
    p.stride_h = p.stride_w = stride;
    return p;
}

void check_close(const reference::Tensor &got, std::vector<double> expected, double tolerance) {
    REQUIRE(got.size() == expected.size());
    for (size_t k = 0; k < expected.size(); ++k) CHECK(got.data[k] == Approx(expected[k]).margin(tolerance));
}

const reference::Tensor notes_002_input =
    tensor_from({1, 1, 5, 5}, {3, 3, 2, 1, 0, 0, 0, 1, 3, 1, 3, 1, 2, 2, 3, 2, 0, 0, 2, 2, 2, 0, 0, 0, 1});

void check_grid(const std::string &schedule, size_t every) {
    std::mt19937 rng(11);
    size_t variant = 0;
    for (auto kind : {reference::Pool::max, reference::Pool::average, reference::Pool::p_norm})
        for (int kernel = 2; kernel <= 3; ++kernel)
            for (int stride = 1; stride <= 3; ++stride)
                for (int pad = 0; pad <= 1; ++pad)
                    for (bool include_pad : {true, false}) {
                        if (variant++ % every) continue;
                        if (kind != reference::Pool::average && !include_pad) continue;
                        reference::Pool2d p = window(kind, kernel, stride);
                        p.kernel_w = kernel == 3 ? 2 : 3;  // non-square windows
                        p.pad_top = p.pad_left = pad;
                        p.pad_bottom = variant % 2 ? 0 : pad;  // uneven padding
                        p.pad_right = pad;
                        p.count_include_pad = include_pad;
                        p.p = 1.5 + double(variant % 3);
                        const auto input = random_tensor({1 + int(variant % 2), 3, 7 + int(variant % 3), 8}, rng);
                        INFO(fmt::format("kind {} kernel {}x{} stride {} pad {} {} {} {} include_pad {} p {} schedule {}",
                                         int(kind), p.kernel_h, p.kernel_w, stride, p.pad_top, p.pad_bottom, p.pad_left,
                                         p.pad_right, include_pad, p.p, schedule));
                        const auto expected = reference::pool2d(input, p);
                        const auto got = run_pool(p, input, schedule);
                        REQUIRE(got.shape == expected.shape);
                        CHECK(relative_error(got, expected) < kTolerance);
                    }
}

// ONNX's and PyTorch's extra pooling options: ceil_mode, dilated max windows, pads larger
// than half the kernel and asymmetric.
void check_onnx_options_grid(const std::string &schedule) {
    std::mt19937 rng(12);
    size_t variant = 0;
    for (auto kind : {reference::Pool::max, reference::Pool::average})
        for (bool ceil_mode : {false, true})
            for (int dilation = 1; dilation <= (kind == reference::Pool::max ? 2 : 1); ++dilation)
                for (int stride = 1; stride <= 3; ++stride)
                    for (bool include_pad : {true, false}) {
                        ++variant;
                        if (kind == reference::Pool::max && !include_pad) continue;
                        reference::Pool2d p = window(kind, 3, stride);
                        p.kernel_w = 4;
                        p.dilation_h = dilation;
                        p.ceil_mode = ceil_mode;
                        p.count_include_pad = include_pad;
                        p.pad_top = 2;  // more than half the kernel
                        p.pad_bottom = int(variant % 2);
                        p.pad_left = int(variant % 3);
                        p.pad_right = 3;
                        const auto input = random_tensor({2, 2, 8 + int(variant % 3), 9}, rng);
                        INFO(fmt::format("kind {} ceil {} dilation {} stride {} pads {} {} {} {} include_pad {} schedule {}",
                                         int(kind), ceil_mode, dilation, stride, p.pad_top, p.pad_bottom, p.pad_left,
                                         p.pad_right, include_pad, schedule));
                        const auto expected = reference::pool2d(input, p);
                        const auto got = run_pool(p, input, schedule);
                        REQUIRE(got.shape == expected.shape);
                        CHECK(relative_error(got, expected) < kTolerance);
                    }
}

}  // namespace

TEST_CASE("pooling with ceil_mode, dilation and large asymmetric pads matches the reference", "[pooling][grid]") {
    check_onnx_options_grid("naive");
    check_onnx_options_grid("cpu");
}

TEST_CASE("ceil_mode pooling gives ONNX's averagepool_2d_ceil example", "[pooling][onnx]") {
    // ONNX's operator documentation: 4x4 input 1..16, kernel 3, stride 2, ceil_mode.
    reference::Tensor input({1, 1, 4, 4});
    for (int k = 0; k < 16; ++k) input.data[size_t(k)] = k + 1;
    reference::Pool2d p = window(reference::Pool::average, 3, 2);
    p.ceil_mode = true;
    p.count_include_pad = false;
    check_close(run_pool(p, input, "naive"), {6, 7.5, 12, 13.5}, 1e-6);
    p.kind = reference::Pool::max;
    check_close(run_pool(p, input, "naive"), {11, 12, 15, 16}, 1e-6);
}

TEST_CASE("pooling reproduces the 2x2 stride-2 examples of notes 000", "[pooling][notes]") {
    const auto input = tensor_from({1, 1, 4, 4}, {1, 3, 0, -7, -2, 4, 1, -1, 0, 1, 8, -3, 2, 0, 4, 5});
    CHECK(run_pool(window(reference::Pool::max, 2, 2), input, "naive").data == std::vector<double>{4, 1, 2, 8});
    CHECK(run_pool(window(reference::Pool::average, 2, 2), input, "cpu").data ==
          std::vector<double>{1.5, -1.75, 0.75, 3.5});
}

TEST_CASE("pooling reproduces the 3x3 stride-1 examples of notes 002", "[pooling][notes]") {
    CHECK(run_pool(window(reference::Pool::max, 3, 1), notes_002_input, "naive").data ==
          std::vector<double>{3, 3, 3, 3, 3, 3, 3, 2, 3});
    // The notes print two decimals.
    check_close(run_pool(window(reference::Pool::average, 3, 1), notes_002_input, "cpu"),
                {1.67, 1.67, 1.67, 1.0, 1.22, 1.78, 1.11, 0.78, 1.33}, 0.005);
}

TEST_CASE("p-norm pooling reproduces the q=5 example of notes 003", "[pooling][notes]") {
    // The notes' input (lost in extraction) is recovered from its mean-pool row 3.25 5.25 2 2.
    // Their second p-norm value reads 8, which no mean-based p-norm can reach above the
    // window's maximum 8 unless all entries are 8; (mean of v^5)^(1/5) of {2, 4, 7, 8} is 6.61.
    const auto input = tensor_from({1, 1, 4, 4}, {1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4});
    check_close(run_pool(window(reference::Pool::average, 2, 2), input, "naive"), {3.25, 5.25, 2, 2}, 1e-6);
    reference::Pool2d p = window(reference::Pool::p_norm, 2, 2);
    p.p = 5;
    check_close(run_pool(p, input, "cpu"), {4.86, 6.61, 2.38, 3.16}, 0.006);
}

TEST_CASE("pooling naive matches the reference over the grid", "[pooling][grid]") { check_grid("naive", 1); }
TEST_CASE("pooling cpu schedule matches the reference over the grid", "[pooling][grid]") { check_grid("cpu", 1); }
TEST_CASE("pooling autoscheduled versions match the reference", "[pooling][auto]") {
    check_grid("mullapudi2016", 7);
    check_grid("li2018", 7);
}

TEST_CASE("pooling rejects impossible windows naming layer and parameter", "[pooling][errors]") {
    Halide::Func input("input");
    cnngen::Dims d;
    input(d.x, d.y, d.c, d.n) = 0.0f;
    reference::Pool2d p = window(reference::Pool::max, 5, 1);
    CHECK_THROWS_WITH(cnngen::pool2d("pool3", {input, {1, 1, 4, 4}}, pool_params(p)),
                      Catch::Contains("pool3: kernel height spans 5") && Catch::Contains("padded input 4"));
    p = window(reference::Pool::max, 2, 0);
    CHECK_THROWS_WITH(cnngen::pool2d("pool3", {input, {1, 1, 4, 4}}, pool_params(p)),
                      Catch::Contains("pool3: stride height is 0"));
    p = window(reference::Pool::max, 2, 2);
    p.pad_left = 2;
    CHECK_THROWS_WITH(cnngen::pool2d("pool3", {input, {1, 1, 4, 4}}, pool_params(p)),
                      Catch::Contains("pool3: max pooling window 0 along width lies wholly in the padding"));
    p = window(reference::Pool::average, 2, 2);
    p.dilation_w = 2;
    CHECK_THROWS_WITH(cnngen::pool2d("pool3", {input, {1, 1, 4, 4}}, pool_params(p)),
                      Catch::Contains("pool3: average pooling dilation width is 2, expected 1"));
}
