// One Halide Generator per layer family: every shape and hyperparameter is a
// GeneratorParam, so a library specialized for any configuration can be emitted.
// The algorithms come from layers/, the schedules from schedules/.
#include "layers/activation.h"
#include "layers/conv2d.h"
#include "layers/errors.h"
#include "layers/fixed_shape.h"
#include "layers/fully_connected.h"
#include "layers/loss.h"
#include "layers/lrn.h"
#include "layers/pooling.h"
#include "schedules/schedule.h"

using namespace Halide;

namespace cnngen {
namespace {

// Applies the hand-written schedule unless an autoscheduler (-s/-p) was requested.
void schedule_generated(const std::string &schedule, bool auto_schedule, const Layer &layer, const Target &target) {
    check_schedule_name(layer.name, schedule);
    if (auto_schedule) return;
    if (is_autoscheduler(schedule))
        fail("{}: schedule '{}' needs the generator run with auto_schedule=true and its plugin (-p)", layer.name, schedule);
    schedule_layers(schedule, {layer}, target);
}

template <typename T>
class LayerGenerator : public Generator<T> {
public:
    GeneratorParam<std::string> schedule_name{"schedule", "naive"};
    GeneratorParam<int> batch{"batch", 1};
    GeneratorParam<int> channels{"channels", 1};
    GeneratorParam<int> height{"height", 1};
    GeneratorParam<int> width{"width", 1};

protected:
    Shape input_shape() const { return {int(batch), int(channels), int(height), int(width)}; }
    void finish(GeneratorOutput<Buffer<float>> &output, const Layer &layer) {
        output = layer.output.func;
        fix_shape(output, layer.output.shape);
        schedule_generated(schedule_name, this->auto_schedule, layer, this->get_target());
    }
};

Window1d window(int kernel, int stride, int pad_before, int pad_after, int dilation) {
    return {kernel, stride, pad_before, pad_after, dilation};
}

class Conv2dGenerator : public LayerGenerator<Conv2dGenerator> {
public:
    GeneratorParam<int> out_channels{"out_channels", 1};
    GeneratorParam<int> kernel_h{"kernel_h", 3}, kernel_w{"kernel_w", 3};
    GeneratorParam<int> stride_h{"stride_h", 1}, stride_w{"stride_w", 1};
    GeneratorParam<int> pad_top{"pad_top", 0}, pad_bottom{"pad_bottom", 0}, pad_left{"pad_left", 0}, pad_right{"pad_right", 0};
    GeneratorParam<int> dilation_h{"dilation_h", 1}, dilation_w{"dilation_w", 1};
    GeneratorParam<int> groups{"groups", 1};
    GeneratorParam<bool> flip_kernel{"flip_kernel", false};

    Input<Buffer<float>> input{"input", 4};    // NCHW, indexed (x, y, c, n)
    Input<Buffer<float>> weight{"weight", 4};  // OIHW, indexed (kx, ky, c_in_group, c_out)
    Input<Buffer<float>> bias{"bias", 1};      // (c_out)
    Output<Buffer<float>> output{"output", 4};  // NCHW, indexed (x, y, c, n)

    void generate() {
        Conv2dParams p;
        p.out_channels = out_channels;
        p.height = window(kernel_h, stride_h, pad_top, pad_bottom, dilation_h);
        p.width = window(kernel_w, stride_w, pad_left, pad_right, dilation_w);
        p.groups = groups;
        p.flip_kernel = flip_kernel;
        auto source = [&](const std::string &name, const Shape &) -> Func {
            return name == "conv2d.weight" ? Func(weight) : Func(bias);
        };
        Layer layer = conv2d("conv2d", {input, input_shape()}, p, source);
        fix_shape(input, input_shape());
        fix_shape(weight, conv2d_weight_shape(channels, p));
        fix_shape(bias, {p.out_channels});
        finish(output, layer);
    }
};

class Pool2dGenerator : public LayerGenerator<Pool2dGenerator> {
public:
    GeneratorParam<std::string> kind{"kind", "max"};
    GeneratorParam<int> kernel_h{"kernel_h", 2}, kernel_w{"kernel_w", 2};
    GeneratorParam<int> stride_h{"stride_h", 2}, stride_w{"stride_w", 2};
    GeneratorParam<int> pad_top{"pad_top", 0}, pad_bottom{"pad_bottom", 0}, pad_left{"pad_left", 0}, pad_right{"pad_right", 0};
    GeneratorParam<bool> count_include_pad{"count_include_pad", true};
    GeneratorParam<float> p_norm{"p", 2.0f};

    Input<Buffer<float>> input{"input", 4};     // NCHW, indexed (x, y, c, n)
    Output<Buffer<float>> output{"output", 4};  // NCHW, indexed (x, y, c, n)

    void generate() {
        Pool2dParams p;
        p.kind = pool_kind_from_name("pool2d", kind);
        p.height = window(kernel_h, stride_h, pad_top, pad_bottom, 1);
        p.width = window(kernel_w, stride_w, pad_left, pad_right, 1);
        p.count_include_pad = count_include_pad;
        p.p = p_norm;
        Layer layer = pool2d("pool2d", {input, input_shape()}, p);
        fix_shape(input, input_shape());
        finish(output, layer);
    }
};

class ActivationGenerator : public LayerGenerator<ActivationGenerator> {
public:
    GeneratorParam<std::string> kind{"kind", "relu"};
    GeneratorParam<float> alpha{"alpha", 0.01f};

    Input<Buffer<float>> input{"input", 4};     // NCHW, indexed (x, y, c, n)
    Output<Buffer<float>> output{"output", 4};  // NCHW, indexed (x, y, c, n)

    void generate() {
        Layer layer = activation("activation", {input, input_shape()}, {activation_kind_from_name("activation", kind), alpha});
        fix_shape(input, input_shape());
        finish(output, layer);
    }
};

class LrnGenerator : public LayerGenerator<LrnGenerator> {
public:
    GeneratorParam<std::string> kind{"kind", "inter_channel"};
    GeneratorParam<int> n{"n", 5};
    GeneratorParam<float> kappa{"kappa", 2.0f}, gamma{"gamma", 1e-4f}, beta{"beta", 0.75f};

    Input<Buffer<float>> input{"input", 4};     // NCHW, indexed (x, y, c, n)
    Output<Buffer<float>> output{"output", 4};  // NCHW, indexed (x, y, c, n)

    void generate() {
        Layer layer = lrn("lrn", {input, input_shape()}, {lrn_kind_from_name("lrn", kind), n, kappa, gamma, beta});
        fix_shape(input, input_shape());
        finish(output, layer);
    }
};

class FullyConnectedGenerator : public LayerGenerator<FullyConnectedGenerator> {
public:
    GeneratorParam<int> out_features{"out_features", 1};

    Input<Buffer<float>> input{"input", 4};     // NCHW (flattened in C order), indexed (x, y, c, n)
    Input<Buffer<float>> weight{"weight", 2};   // [out, in], indexed (k, o)
    Input<Buffer<float>> bias{"bias", 1};       // (o)
    Output<Buffer<float>> output{"output", 2};  // [N, out], indexed (o, n)

    void generate() {
        auto source = [&](const std::string &name, const Shape &) -> Func {
            return name == "fully_connected.weight" ? Func(weight) : Func(bias);
        };
        Layer layer = fully_connected("fully_connected", {input, input_shape()}, {out_features, true}, source);
        fix_shape(input, input_shape());
        fix_shape(weight, {int(out_features), int(channels) * int(height) * int(width)});
        fix_shape(bias, {int(out_features)});
        finish(output, layer);
    }
};

class LossGenerator : public LayerGenerator<LossGenerator> {
public:
    GeneratorParam<std::string> kind{"kind", "softmax_cross_entropy"};
    GeneratorParam<float> margin{"margin", 1.0f}, delta{"delta", 1.0f};

    Input<Buffer<float>> prediction{"prediction", 2};  // [N, F], indexed (i, n)
    Input<Buffer<int32_t>> labels{"labels", 1};        // (n); cross-entropy and hinge
    Input<Buffer<float>> targets{"targets", 2};        // [N, F], indexed (i, n); MSE and Huber
    Output<Buffer<float>> output{"output", 0};         // the batch mean

    void generate() {
        const LossKind loss_kind = loss_kind_from_name("loss", kind);
        const Shape shape{int(batch), int(channels)};
        Func target = loss_takes_labels(loss_kind) ? Func(labels) : Func(targets);
        Layer layer = loss("loss", {prediction, shape}, target, {loss_kind, margin, delta});
        fix_shape(prediction, shape);
        fix_shape(labels, {int(batch)});
        fix_shape(targets, shape);
        finish(output, layer);
    }
};

}  // namespace
}  // namespace cnngen

HALIDE_REGISTER_GENERATOR(cnngen::Conv2dGenerator, conv2d)
HALIDE_REGISTER_GENERATOR(cnngen::Pool2dGenerator, pool2d)
HALIDE_REGISTER_GENERATOR(cnngen::ActivationGenerator, activation)
HALIDE_REGISTER_GENERATOR(cnngen::LrnGenerator, lrn)
HALIDE_REGISTER_GENERATOR(cnngen::FullyConnectedGenerator, fully_connected)
HALIDE_REGISTER_GENERATOR(cnngen::LossGenerator, loss)
