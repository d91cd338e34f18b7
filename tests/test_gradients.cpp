// Autodiff and hand-derived gradients of every layer against central finite differences
// of the double-precision reference, over the forward tests' hyperparameter grid.
#include "gradient_check.h"
#include "layer_builders.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <layers/activation.h>
#include <layers/backward.h>
#include <layers/fully_connected.h>
#include <layers/loss.h>
#include <layers/lrn.h>
#include <training/differentiable_forms.h>

using namespace testing_support;

namespace {

// float32 gradients against double finite differences, relative to max(1, largest |gradient|).
constexpr double kGradientTolerance = 1e-4;

// Autodiff always; the hand-derived backward too where the layer has one.
void check(GradientCase &c, std::mt19937 &rng) {
    for (const std::string schedule : {"naive", "cpu"}) {
        INFO(c.label << " schedule " << schedule << ", autodiff");
        CHECK(worst_gradient_error(c, schedule, rng) < kGradientTolerance);
    }
    if (!c.backward) return;
    for (const std::string schedule : {"naive", "cpu"}) {
        INFO(c.label << " schedule " << schedule << ", hand-derived");
        CHECK(worst_gradient_error(c, schedule, rng, GradientSource::manual) < kGradientTolerance);
    }
}

// A pooling layer's case: autodiff, and the hand-derived backward except for p-norm (which has none).
GradientCase pooling_case(std::string label, reference::Tensor input, const reference::Pool2d &hyper) {
    GradientCase c;
    c.label = std::move(label);
    c.input = std::move(input);
    c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &) {
        return cnngen::pool2d("pool", in, pool_params(hyper));
    };
    c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
        return reference::pool2d(in, hyper);
    };
    if (hyper.kind != reference::Pool::p_norm)
        c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &,
                         const cnngen::Tensor &d_output) {
            return cnngen::pool2d_backward("pool", in, pool_params(hyper), d_output);
        };
    return c;
}

// An ungrouped convolution's shape and hyperparameters (square kernel, padding on every side).
struct ConvShape {
    int batch, channels, out, height, width, kernel, stride, pad, dilation;
};

GradientCase shaped_conv_case(const ConvShape &w, std::mt19937 &rng) {
    const reference::Conv2d hyper{w.stride, w.stride, w.pad, w.pad, w.pad, w.pad, w.dilation, w.dilation, 1, false};
    GradientCase c;
    c.label = fmt::format("{}x{}x{}x{} to {} channels, {}x{} kernel, stride {} pad {} dilation {}", w.batch,
                          w.channels, w.height, w.width, w.out, w.kernel, w.kernel, w.stride, w.pad, w.dilation);
    c.input = random_tensor({w.batch, w.channels, w.height, w.width}, rng);
    c.params.tensors["conv.weight"] = random_tensor({w.out, w.channels, w.kernel, w.kernel}, rng);
    c.params.tensors["conv.bias"] = random_tensor({w.out}, rng);
    c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
        return cnngen::conv2d("conv", in, conv_params(w.out, w.kernel, w.kernel, hyper), source,
                              cnngen::AlgorithmForm::differentiable);
    };
    c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &p) {
        return reference::conv2d(in, p["conv.weight"], p["conv.bias"], hyper);
    };
    c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &source, const cnngen::Layer &,
                     const cnngen::Tensor &d_output) {
        return cnngen::conv2d_backward("conv", in, conv_params(w.out, w.kernel, w.kernel, hyper), source, d_output,
                                       true);
    };
    return c;
}

// The hand-derived backward under cpu alone (the shapes its tiles were chosen for).
void check_hand_derived_cpu(GradientCase c, std::mt19937 &rng) {
    INFO(c.label);
    CHECK(worst_gradient_error(c, "cpu", rng, GradientSource::manual) < kGradientTolerance);
}

}  // namespace

TEST_CASE("conv2d gradients match finite differences", "[gradient][conv2d]") {
    std::mt19937 rng(21);
    int variant = 0;
    for (int stride = 1; stride <= 3; ++stride)
        for (const auto &pad : std::vector<std::array<int, 4>>{{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 1, 0, 2}})
            for (int dilation = 1; dilation <= 2; ++dilation)
                for (int groups : {1, 2}) {
                    ++variant;
                    reference::Conv2d hyper{stride, stride == 3 ? 1 : stride, pad[0], pad[1], pad[2], pad[3],
                                            dilation, dilation, groups, variant % 3 == 0};
                    const int channels = 2 * groups, out = groups * (1 + variant % 2), kh = 3, kw = 2 + variant % 2;
                    GradientCase c;
                    c.label = fmt::format("stride {} pad {},{},{},{} dilation {} groups {}", stride, pad[0], pad[1],
                                          pad[2], pad[3], dilation, groups);
                    c.input = random_tensor({1 + variant % 2, channels, 7, 8}, rng);
                    c.params.tensors["conv.weight"] = random_tensor({out, channels / groups, kh, kw}, rng);
                    c.params.tensors["conv.bias"] = random_tensor({out}, rng);
                    c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
                        return cnngen::conv2d("conv", in, conv_params(out, kh, kw, hyper), source,
                                              cnngen::AlgorithmForm::differentiable);
                    };
                    c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &p) {
                        return reference::conv2d(in, p["conv.weight"], p["conv.bias"], hyper);
                    };
                    c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &source,
                                     const cnngen::Layer &, const cnngen::Tensor &d_output) {
                        return cnngen::conv2d_backward("conv", in, conv_params(out, kh, kw, hyper), source, d_output,
                                                       true);
                    };
                    check(c, rng);
                }
}

// Wide enough for the cpu schedule's weight gradient in chunks (tiles of output-channel
// vectors, sums of a block of output channels): several chunks a sample, whole samples a chunk
// (7x7), two channel blocks, strides, dilation, a 5x5 kernel held a row of taps at a time, a 1x1
// kernel over several input channels a tile; input gradients tiled across 32 and 512 channels
// (a 3x3 stride-2 one summing only the taps that read each input). Hand-derived backward only.
TEST_CASE("conv2d weight gradients summed in chunks match finite differences", "[gradient][conv2d]") {
    std::mt19937 rng(23);
    for (const ConvShape &w : std::vector<ConvShape>{{2, 4, 32, 20, 60, 3, 1, 1, 1},
                                                     {2, 8, 64, 21, 37, 5, 2, 2, 1},
                                                     {1, 4, 64, 12, 40, 3, 1, 2, 2},
                                                     {1, 512, 64, 6, 7, 3, 1, 1, 1},
                                                     {2, 32, 64, 14, 15, 3, 2, 1, 1},
                                                     {8, 64, 32, 7, 7, 1, 1, 0, 1}})
        check_hand_derived_cpu(shaped_conv_case(w, rng), rng);
}

// Fewer output channels than a vector (with AVX-512; with AVX2's 8 lanes the 10 and 12 take the
// tile at a time): the weight gradient in vector lanes along x, a 5x5 row of taps a tile as in
// LeNet-5's conv1, widths no vector divides, strides, dilation, a 1x1 kernel, several chunks of
// samples and one sample a chunk.
TEST_CASE("conv2d weight gradients of few output channels summed along x match finite differences",
          "[gradient][conv2d]") {
    std::mt19937 rng(24);
    for (const ConvShape &w : std::vector<ConvShape>{{3, 1, 6, 13, 13, 5, 1, 2, 1},
                                                     {2, 3, 10, 11, 19, 3, 2, 1, 1},
                                                     {3, 2, 6, 9, 21, 3, 1, 2, 2},
                                                     {1, 4, 12, 8, 8, 1, 1, 0, 1},
                                                     {9, 1, 3, 6, 6, 3, 1, 1, 1}})
        check_hand_derived_cpu(shaped_conv_case(w, rng), rng);
}

TEST_CASE("pooling gradients match finite differences", "[gradient][pooling]") {
    std::mt19937 rng(22);
    for (auto kind : {reference::Pool::max, reference::Pool::average, reference::Pool::p_norm})
        for (int stride = 1; stride <= 3; ++stride)
            for (int pad = 0; pad <= 1; ++pad) {
                reference::Pool2d hyper{kind, 3, 2, stride, stride, pad, 0, pad, pad, stride != 2, 2.5};
                // p-norm is smooth only away from 0; keep its inputs positive.
                reference::Tensor input = kind == reference::Pool::p_norm ? random_tensor({2, 2, 7, 6}, rng, 0.2, 1.5)
                                                                          : random_tensor({2, 2, 7, 6}, rng);
                GradientCase c =
                    pooling_case(fmt::format("kind {} stride {} pad {}", int(kind), stride, pad), input, hyper);
                check(c, rng);
            }
    // ONNX's options: ceil_mode (a last partial window), dilated max windows, wide asymmetric pads.
    for (auto kind : {reference::Pool::max, reference::Pool::average})
        for (bool include_pad : {true, false}) {
            if (kind == reference::Pool::max && !include_pad) continue;
            reference::Pool2d hyper{kind, 3, 2, 2, 2, 2, 1, 0, 2};
            hyper.dilation_h = kind == reference::Pool::max ? 2 : 1;
            hyper.ceil_mode = true;
            hyper.count_include_pad = include_pad;
            GradientCase c = pooling_case(
                fmt::format("kind {} ceil_mode dilation {} include_pad {}", int(kind), hyper.dilation_h, include_pad),
                random_tensor({2, 2, 8, 7}, rng), hyper);
            check(c, rng);
        }
}

TEST_CASE("activation and LRN gradients match finite differences", "[gradient][activation][lrn]") {
    std::mt19937 rng(23);
    const std::vector<std::pair<std::string, reference::Activation>> kinds = {
        {"relu", reference::Activation::relu},       {"leaky_relu", reference::Activation::leaky_relu},
        {"sigmoid", reference::Activation::sigmoid}, {"tanh", reference::Activation::tanh},
        {"elu", reference::Activation::elu},         {"softmax", reference::Activation::softmax}};
    for (const auto &[name, kind] : kinds) {
        GradientCase c;
        c.label = name;
        c.input = random_tensor({2, 4, 3, 5}, rng, -3, 3);
        const std::string kind_name = name;
        c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &) {
            return cnngen::activation("act", in, {cnngen::activation_kind_from_name("act", kind_name), 0.1f});
        };
        const auto reference_kind = kind;
        c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
            return reference::activation(in, reference_kind, 0.1);
        };
        if (kind != reference::Activation::softmax)
            c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &forward,
                             const cnngen::Tensor &d_output) {
                return cnngen::activation_backward(
                    "act", in, {cnngen::activation_kind_from_name("act", kind_name), 0.1f}, forward.output, d_output);
            };
        check(c, rng);
    }
    for (bool inter : {true, false})
        for (int n : {3, 4, 5})
            for (bool onnx_window : {false, true}) {
                if (n % 2 && onnx_window) continue;  // the same window as the notes' for odd n
                const reference::Lrn hyper{inter, n, 1.0, 0.05, 0.75, onnx_window};
                GradientCase c;
                c.label = fmt::format("lrn inter {} n {} onnx window {}", inter, n, onnx_window);
                c.input = random_tensor({2, 6, 4, 5}, rng, -3, 3);
                c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &) {
                    return cnngen::lrn("norm", in, lrn_params(hyper));
                };
                c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
                    return reference::lrn(in, hyper);
                };
                c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &,
                                 const cnngen::Tensor &d_output) {
                    return cnngen::lrn_backward("norm", in, lrn_params(hyper), d_output);
                };
                check(c, rng);
            }
}

TEST_CASE("fully-connected gradients match finite differences", "[gradient][fully_connected]") {
    std::mt19937 rng(24);
    for (const std::vector<int> &shape : std::vector<std::vector<int>>{{3, 17}, {2, 3, 4, 4}}) {
        int in_features = 1;
        for (size_t k = 1; k < shape.size(); ++k) in_features *= shape[k];
        GradientCase c;
        c.label = fmt::format("fc in {}", in_features);
        c.input = random_tensor(shape, rng);
        c.params.tensors["fc.weight"] = random_tensor({9, in_features}, rng);
        c.params.tensors["fc.bias"] = random_tensor({9}, rng);
        c.build = [](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
            return cnngen::fully_connected_differentiable("fc", in, {9, true}, source);
        };
        c.forward = [](const reference::Tensor &in, std::map<std::string, reference::Tensor> &p) {
            return reference::fully_connected(in, p["fc.weight"], p["fc.bias"]);
        };
        c.backward = [](const cnngen::Tensor &in, const cnngen::ParamSource &source, const cnngen::Layer &,
                        const cnngen::Tensor &d_output) {
            return cnngen::fully_connected_backward("fc", in, {9, true}, source, d_output, true);
        };
        check(c, rng);
    }
}

TEST_CASE("loss gradients match finite differences", "[gradient][loss]") {
    std::mt19937 rng(25);
    const std::vector<std::pair<cnngen::LossKind, reference::Loss>> kinds = {
        {cnngen::LossKind::softmax_cross_entropy, reference::Loss::softmax_cross_entropy},
        {cnngen::LossKind::mean_squared_error, reference::Loss::mean_squared_error},
        {cnngen::LossKind::hinge, reference::Loss::hinge},
        {cnngen::LossKind::huber, reference::Loss::huber}};
    for (const auto &[kind, reference_kind] : kinds) {
        const int batch = 4, classes = 6;
        std::vector<int> labels;
        for (int n = 0; n < batch; ++n) labels.push_back(int(rng() % classes));
        const auto targets = random_tensor({batch, classes}, rng, -2, 2);
        auto label_buffer = std::make_shared<Halide::Buffer<int>>(batch);
        for (int n = 0; n < batch; ++n) (*label_buffer)(n) = labels[n];
        auto target_buffer = std::make_shared<Halide::Buffer<float>>(to_halide(targets));
        GradientCase c;
        c.label = fmt::format("loss {}", int(kind));
        c.input = random_tensor({batch, classes}, rng, -2, 2);
        c.scalar_output = true;
        const auto loss_kind = kind;
        auto make_target = [=]() {
            Halide::Func target("target");
            if (cnngen::loss_takes_labels(loss_kind)) target(Halide::_) = (*label_buffer)(Halide::_);
            else target(Halide::_) = (*target_buffer)(Halide::_);
            return target;
        };
        c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &) {
            return cnngen::loss("loss", in, make_target(), {loss_kind, 1.0f, 0.7f});
        };
        c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &,
                         const cnngen::Tensor &d_output) {
            return cnngen::loss_backward("loss", in, make_target(), {loss_kind, 1.0f, 0.7f}, d_output);
        };
        const auto ref_kind = reference_kind;
        c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
            reference::Tensor value({1});
            value.data[0] = reference::loss(in, labels, targets, ref_kind, 1.0, 0.7);
            return value;
        };
        check(c, rng);
    }
}

namespace {

// Channels [begin, begin + count) of an (N, C, H, W) tensor, in the reference and in Halide.
reference::Tensor channel_slice(const reference::Tensor &t, int begin, int count) {
    reference::Tensor out({t.shape[0], count, t.shape[2], t.shape[3]});
    for (int n = 0; n < t.shape[0]; ++n)
        for (int c = 0; c < count; ++c)
            for (int h = 0; h < t.shape[2]; ++h)
                for (int w = 0; w < t.shape[3]; ++w) out.at4(n, c, h, w) = t.at4(n, begin + c, h, w);
    return out;
}

cnngen::Tensor channel_slice(const cnngen::Tensor &t, int begin, int count) {
    cnngen::Dims d;
    Halide::Func f;
    f(d.x, d.y, d.c, d.n) = t.func(d.x, d.y, d.c + begin, d.n);
    return {f, {t.shape[0], count, t.shape[2], t.shape[3]}};
}

// A join tested through one input cut into channel slices: the input's gradient is the slices'
// gradients side by side, so the join's hand-derived d_inputs are checked one by one.
GradientCase join_case(std::string label, std::vector<int> widths,
                       std::function<cnngen::Layer(const std::vector<cnngen::Tensor> &)> join,
                       std::function<cnngen::Gradients(const std::vector<cnngen::Tensor> &, const cnngen::Layer &,
                                                       const cnngen::Tensor &)>
                           join_backward,
                       std::function<reference::Tensor(const std::vector<reference::Tensor> &)> reference_join,
                       std::mt19937 &rng) {
    int channels = 0;
    for (int w : widths) channels += w;
    const auto slices = [widths](const auto &whole) {
        std::vector<std::decay_t<decltype(whole)>> parts;
        int begin = 0;
        for (int w : widths) parts.push_back(channel_slice(whole, begin, w)), begin += w;
        return parts;
    };
    GradientCase c;
    c.label = std::move(label);
    c.input = random_tensor({2, channels, 3, 4}, rng, -2, 2);
    c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &) { return join(slices(in)); };
    c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
        return reference_join(slices(in));
    };
    c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &forward,
                     const cnngen::Tensor &d_output) {
        cnngen::Gradients g = join_backward(slices(in), forward, d_output);
        cnngen::Dims d;
        // Later slices override earlier ones from their first channel on.
        Halide::Expr whole = 0.0f;
        int begin = 0;
        for (size_t k = 0; k < widths.size(); ++k) {
            const Halide::Expr within = Halide::clamp(d.c - begin, 0, widths[k] - 1);  // select reads both sides
            whole = Halide::select(d.c >= begin, g.d_inputs.at(k).func(d.x, d.y, within, d.n), whole);
            begin += widths[k];
        }
        Halide::Func d_input("d_slices");
        d_input(d.x, d.y, d.c, d.n) = whole;
        cnngen::Gradients assembled{g.name, "join", d_output};
        assembled.d_input = {d_input, in.shape};
        return assembled;
    };
    return c;
}

}  // namespace

TEST_CASE("graph layer gradients match finite differences", "[gradient][graph]") {
    std::mt19937 rng(59);
    for (bool hardswish : {false, true}) {
        cnngen::ActivationParams p;
        p.kind = hardswish ? cnngen::ActivationKind::hardswish : cnngen::ActivationKind::clip;
        p.min = -1.5f;
        p.max = 2.0f;
        GradientCase c;
        c.label = hardswish ? "hardswish" : "clip";
        c.input = random_tensor({2, 4, 3, 5}, rng, -5, 5);
        c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::activation("act", in, p); };
        c.forward = [=](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
            return hardswish ? reference::hardswish(in) : reference::clip(in, -1.5, 2.0);
        };
        c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &forward,
                         const cnngen::Tensor &d_output) {
            return cnngen::activation_backward("act", in, p, forward.output, d_output);
        };
        check(c, rng);
    }
    {
        cnngen::DropoutParams p;
        p.p = 0.4f;
        p.seed = Halide::Expr(99);
        GradientCase c;
        c.label = "dropout (training, seed 99)";
        c.input = random_tensor({2, 4, 3, 5}, rng);
        c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::dropout("drop", in, p); };
        c.forward = [](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
            return reference::dropout_training(in, 99, double(0.4f));
        };
        c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &,
                         const cnngen::Tensor &d_output) { return cnngen::dropout_backward("drop", in, p, d_output); };
        check(c, rng);
    }
    {
        GradientCase c;
        c.label = "global_avg_pool";
        c.input = random_tensor({2, 3, 5, 6}, rng);
        c.build = [](const cnngen::Tensor &in, const cnngen::ParamSource &) { return cnngen::global_avg_pool("gap", in); };
        c.forward = [](const reference::Tensor &in, std::map<std::string, reference::Tensor> &) {
            return reference::global_avg_pool(in);
        };
        c.backward = [](const cnngen::Tensor &in, const cnngen::ParamSource &, const cnngen::Layer &,
                        const cnngen::Tensor &d_output) { return cnngen::global_avg_pool_backward("gap", in, d_output); };
        check(c, rng);
    }
    for (bool relu : {false, true}) {
        cnngen::AddParams p;
        if (relu) p.activation = cnngen::ActivationParams{};
        GradientCase c = join_case(
            relu ? "add of three, then relu" : "add of three", {3, 3, 3},
            [=](const std::vector<cnngen::Tensor> &in) { return cnngen::add("sum", in, p); },
            [=](const std::vector<cnngen::Tensor> &in, const cnngen::Layer &forward, const cnngen::Tensor &d_output) {
                return cnngen::add_backward("sum", in, p, forward.output, d_output);
            },
            [=](const std::vector<reference::Tensor> &in) {
                const reference::Tensor sum = reference::add(in);
                return relu ? reference::clip(sum, 0, 1e30) : sum;
            },
            rng);
        check(c, rng);
    }
    GradientCase c = join_case(
        "concat of 2, 1 and 3 channels", {2, 1, 3},
        [](const std::vector<cnngen::Tensor> &in) { return cnngen::concat("cat", in, {}); },
        [](const std::vector<cnngen::Tensor> &in, const cnngen::Layer &, const cnngen::Tensor &d_output) {
            return cnngen::concat_backward("cat", in, d_output);
        },
        [](const std::vector<reference::Tensor> &in) { return reference::concat(in); }, rng);
    check(c, rng);
}

TEST_CASE("batch_norm with batch statistics matches the reference and finite differences", "[gradient][batch_norm]") {
    std::mt19937 rng(61);
    for (const std::vector<int> &shape : std::vector<std::vector<int>>{{3, 4, 3, 5}, {6, 5}}) {
        const int channels = shape[1];
        cnngen::BatchNormParams p;
        p.epsilon = 1e-3f;
        GradientCase c;
        c.label = fmt::format("batch_norm training, rank {}", shape.size());
        c.input = random_tensor(shape, rng, -2, 3);
        c.params.tensors["bn.weight"] = random_tensor({channels}, rng, 0.5, 2);
        c.params.tensors["bn.bias"] = random_tensor({channels}, rng);
        // The running statistics do not reach the output while training: the layer reads them from
        // its own source, so the checks cover the input, the weight and the bias.
        std::map<std::string, reference::Tensor> running{{"bn.running_mean", random_tensor({channels}, rng)},
                                                         {"bn.running_var", random_tensor({channels}, rng, 0.5, 2)}};
        const auto with_running = [running](const cnngen::ParamSource &source) -> cnngen::ParamSource {
            return [=](const std::string &name, const cnngen::Shape &shape) {
                if (!running.count(name)) return source(name, shape);
                Halide::Buffer<float> values = to_halide(running.at(name));
                Halide::Func f;
                f(Halide::_) = values(Halide::_);
                return f;
            };
        };
        c.build = [=](const cnngen::Tensor &in, const cnngen::ParamSource &source) {
            return cnngen::batch_norm_training("bn", in, p, with_running(source));
        };
        c.forward = [](const reference::Tensor &in, std::map<std::string, reference::Tensor> &t) {
            return reference::batch_norm_training(in, t.at("bn.weight"), t.at("bn.bias"), 1e-3);
        };
        c.backward = [=](const cnngen::Tensor &in, const cnngen::ParamSource &source, const cnngen::Layer &forward,
                         const cnngen::Tensor &d_output) {
            return cnngen::batch_norm_backward("bn", in, forward, source, d_output);
        };
        check(c, rng);

        // The forward pass and the running statistics' update, PyTorch's rule (unbiased variance).
        Params params = c.params;
        const auto got = run_layer(c.build, c.input, params, "cpu");
        reference::Tensor mean, variance;
        const auto &t = c.params.tensors;
        CHECK(relative_error(got, reference::batch_norm_training(c.input, t.at("bn.weight"), t.at("bn.bias"), 1e-3, &mean,
                                                                 &variance)) < 1e-5);
        Params stats = c.params;
        stats.tensors.insert(running.begin(), running.end());
        Halide::Buffer<float> input_buffer = to_halide(c.input);
        Halide::Func input_func;
        input_func(Halide::_) = input_buffer(Halide::_);
        cnngen::Layer layer = cnngen::batch_norm_training("bn", {input_func, c.input.shape}, p, stats.source());
        const double count = double(c.input.size()) / channels;
        for (const char *state : {"bn.running_mean", "bn.running_var"}) {
            Halide::Func next = layer.state_updates.at(state);
            next.compute_root();
            Halide::Buffer<float> result = next.realize({channels});
            for (int ch = 0; ch < channels; ++ch) {
                const bool is_mean = std::string(state) == "bn.running_mean";
                const double batch = is_mean ? mean.data[size_t(ch)] : variance.data[size_t(ch)] * count / (count - 1);
                const double expected = 0.9 * running.at(state).data[size_t(ch)] + 0.1 * batch;
                CHECK(result(ch) == Approx(expected).epsilon(1e-5));
            }
        }
    }
}
