#include "backward.h"

#include "errors.h"

using namespace Halide;

namespace cnngen {

namespace {

// A reduction Func and the Func that exposes it, as the forward layers pair them, so
// schedules can keep the accumulators of a tile in registers.
Func exposed(const std::string &name, const Func &sum) {
    Func out(name);
    out(sum.args()) = sum(sum.args());
    return out;
}

// Offset of kernel tap k from the window start: cross-correlation reads tap k at k,
// the notes' convolution reads the flipped kernel.
Expr tap(const Expr &k, int kernel, bool flip) { return flip ? kernel - 1 - k : k; }

}  // namespace

bool has_manual_backward(const Pool2dParams &p) { return p.kind != PoolKind::p_norm; }
bool has_manual_backward(const ActivationParams &p) { return p.kind != ActivationKind::softmax; }

Gradients conv2d_backward(const std::string &name, const Tensor &input, const Conv2dParams &p,
                          const ParamSource &source, const Tensor &d_output, bool want_input) {
    const int batch = input.shape[0], channels = input.shape[1], height = input.shape[2], width = input.shape[3];
    const int out_h = d_output.shape[2], out_w = d_output.shape[3];
    // Grouped: output channel co reads input channels group(co) * group_in + [0, group_in).
    const int group_in = channels / p.groups, group_out = p.out_channels / p.groups;
    const Window1d &wh = p.height, &ww = p.width;
    Dims d;
    Gradients g{name, "conv2d", d_output};
    g.weight_shape = conv2d_weight_shape(channels, p);
    g.groups = p.groups;
    Func weight = source(name + ".weight", conv2d_weight_shape(channels, p));

    // dL/db(co) = sum over x, y, n of dL/dout(x, y, co, n).
    RDom ro(0, out_w, 0, out_h, 0, batch, name + "_bw_ro");
    if (p.bias) {
        Func d_bias(name + "_d_bias");
        d_bias(d.c) = 0.0f;
        d_bias(d.c) += d_output.func(ro.x, ro.y, d.c, ro.z);
        g.d_params[name + ".bias"] = d_bias;
        g.stages["d_bias"] = d_bias;
    }

    // dL/dw(kx, ky, ci, co) = sum over x, y, n of dL/dout(x, y, co, n) * in(window + tap),
    // ci counted within co's group.
    Func padded(name + "_bw_input_padded");
    padded(d.x, d.y, d.c, d.n) =
        BoundaryConditions::constant_exterior(input.func, 0.0f, {{0, width}, {0, height}})(d.x, d.y, d.c, d.n);
    Func d_weight_sum(name + "_d_weight_sum");
    d_weight_sum(d.x, d.y, d.c, d.n) = 0.0f;  // (kx, ky, ci, co)
    d_weight_sum(d.x, d.y, d.c, d.n) +=
        d_output.func(ro.x, ro.y, d.n, ro.z) *
        padded(ro.x * ww.stride + tap(d.x, ww.kernel, p.flip_kernel) * ww.dilation - ww.pad_before,
               ro.y * wh.stride + tap(d.y, wh.kernel, p.flip_kernel) * wh.dilation - wh.pad_before,
               p.groups == 1 ? Expr(d.c) : (d.n / group_out) * group_in + d.c, ro.z);
    g.d_params[name + ".weight"] = exposed(name + "_d_weight", d_weight_sum);
    g.stages["d_weight_sum"] = d_weight_sum;
    g.stages["input_padded"] = padded;
    g.reductions["ro"] = ro;

    // dL/din: every output whose window reads this input through tap k, times that tap's
    // weight; with stride s only inputs at a multiple of s from the window start are read.
    // Grouped: only the output channels of the input channel's group read it.
    if (want_input) {
        Func d_out_padded(name + "_d_output_padded");
        d_out_padded(d.x, d.y, d.c, d.n) =
            BoundaryConditions::constant_exterior(d_output.func, 0.0f, {{0, out_w}, {0, out_h}})(d.x, d.y, d.c, d.n);
        // Strided and undilated: of the taps at offsets phase, phase + s, ... (phase: the
        // input's position past the window start, modulo s) only those inside the kernel read
        // this input, about k/s of every k along each axis (ResNet's 3x3 stride-2 layers: 4
        // taps summed instead of 9 mostly masked ones).
        const bool phases = (ww.stride > 1 || wh.stride > 1) && ww.dilation == 1 && wh.dilation == 1;
        const int taps_x = phases ? (ww.kernel + ww.stride - 1) / ww.stride : ww.kernel;
        const int taps_y = phases ? (wh.kernel + wh.stride - 1) / wh.stride : wh.kernel;
        RDom rk(0, taps_x, 0, taps_y, 0, group_out, name + "_bw_rk");
        Expr out_channel = p.groups == 1 ? Expr(rk.z) : (d.c / group_in) * group_out + rk.z;
        Expr weight_channel = p.groups == 1 ? Expr(d.c) : d.c % group_in;
        Expr term;
        if (phases) {
            Expr from_x = d.x + ww.pad_before, from_y = d.y + wh.pad_before;
            Expr offset_x = from_x % ww.stride + rk.x * ww.stride, offset_y = from_y % wh.stride + rk.y * wh.stride;
            // A tap past the kernel's edge reads its last one, then counts nothing.
            Expr kx = tap(min(offset_x, ww.kernel - 1), ww.kernel, p.flip_kernel);
            Expr ky = tap(min(offset_y, wh.kernel - 1), wh.kernel, p.flip_kernel);
            term = weight(kx, ky, weight_channel, out_channel) *
                   d_out_padded(from_x / ww.stride - rk.x, from_y / wh.stride - rk.y, out_channel, d.n);
            if (ww.kernel % ww.stride || wh.kernel % wh.stride)
                term = select(offset_x < ww.kernel && offset_y < wh.kernel, term, 0.0f);
        } else {
            Expr num_x = d.x + ww.pad_before - tap(rk.x, ww.kernel, p.flip_kernel) * ww.dilation;
            Expr num_y = d.y + wh.pad_before - tap(rk.y, wh.kernel, p.flip_kernel) * wh.dilation;
            if (ww.stride == 1 && wh.stride == 1) {
                term = weight(rk.x, rk.y, weight_channel, out_channel) * d_out_padded(num_x, num_y, out_channel, d.n);
            } else {
                Expr aligned = num_x % ww.stride == 0 && num_y % wh.stride == 0;
                term = select(aligned,
                              weight(rk.x, rk.y, weight_channel, out_channel) *
                                  d_out_padded(num_x / ww.stride, num_y / wh.stride, out_channel, d.n),
                              0.0f);
            }
        }
        Func d_input_sum(name + "_d_input_sum");
        d_input_sum(d.x, d.y, d.c, d.n) = 0.0f;
        d_input_sum(d.x, d.y, d.c, d.n) += term;
        g.d_input = {exposed(name + "_d_input", d_input_sum), {batch, channels, height, width}};
        g.stages["d_input_sum"] = d_input_sum;
        g.stages["d_output_padded"] = d_out_padded;
        g.stages["weight"] = weight;
        g.reductions["rk"] = rk;
    }
    return g;
}

Gradients pool2d_backward(const std::string &name, const Tensor &input, const Pool2dParams &p,
                          const Tensor &d_output) {
    if (!has_manual_backward(p)) fail("{}: no hand-derived backward for p-norm pooling", name);
    const int height = input.shape[2], width = input.shape[3];
    const int out_h = d_output.shape[2], out_w = d_output.shape[3];
    const Window1d &wh = p.height, &ww = p.width;
    Dims d;
    Gradients g{name, "pool2d", d_output};
    Func d_out_padded(name + "_d_output_padded");
    d_out_padded(d.x, d.y, d.c, d.n) =
        BoundaryConditions::constant_exterior(d_output.func, 0.0f, {{0, out_w}, {0, out_h}})(d.x, d.y, d.c, d.n);
    g.stages["d_output_padded"] = d_out_padded;

    // What each output sends back to tap (kx, ky) of its window.
    Func share(name + "_bw_share");
    if (p.kind == PoolKind::max) {
        // The first maximum in scan order (ky, then kx), as PyTorch picks it.
        Func padded(name + "_bw_padded");
        padded(d.x, d.y, d.c, d.n) = BoundaryConditions::constant_exterior(
            input.func, -std::numeric_limits<float>::infinity(), {{0, width}, {0, height}})(d.x, d.y, d.c, d.n);
        Expr x0 = d.x * ww.stride - ww.pad_before, y0 = d.y * wh.stride - wh.pad_before;
        Expr best = padded(x0, y0, d.c, d.n), best_tap = 0;
        for (int t = 1; t < wh.kernel * ww.kernel; ++t) {
            Expr v = padded(x0 + (t % ww.kernel) * ww.dilation, y0 + (t / ww.kernel) * wh.dilation, d.c, d.n);
            best_tap = select(v > best, t, best_tap);
            best = max(best, v);
        }
        Func winner(name + "_argmax");  // tap index of each window's maximum
        winner(d.x, d.y, d.c, d.n) = best_tap;
        g.stages["argmax"] = winner;
        share(d.x, d.y, d.c, d.n, d.i) = select(winner(d.x, d.y, d.c, d.n) == d.i, d_out_padded(d.x, d.y, d.c, d.n), 0.0f);
    } else {
        Expr x0 = d.x * ww.stride - ww.pad_before, y0 = d.y * wh.stride - wh.pad_before;
        share(d.x, d.y, d.c, d.n, d.i) = d_out_padded(d.x, d.y, d.c, d.n) / average_divisor(p, x0, y0, width, height);
    }

    // Input (x, y) is tap (kx, ky) of the window starting at (x - kx*dilation, y - ky*dilation)
    // when that start is on the stride grid; out-of-range windows read zeros from the padding.
    Expr total = 0.0f;
    for (int ky = 0; ky < wh.kernel; ++ky) {
        for (int kx = 0; kx < ww.kernel; ++kx) {
            Expr num_x = d.x + ww.pad_before - kx * ww.dilation, num_y = d.y + wh.pad_before - ky * wh.dilation;
            Expr ox = num_x / ww.stride, oy = num_y / wh.stride;
            Expr on_grid = num_x % ww.stride == 0 && num_y % wh.stride == 0;
            Expr value = share(ox, oy, d.c, d.n, ky * ww.kernel + kx);
            total += ww.stride == 1 && wh.stride == 1 ? value : select(on_grid, value, 0.0f);
        }
    }
    Func d_input(name + "_d_input");
    d_input(d.x, d.y, d.c, d.n) = total;
    g.d_input = {d_input, input.shape};
    return g;
}

namespace {

// dy times the activation's derivative at x (y = activation(x)).
Expr activation_gradient(const ActivationParams &p, const Expr &x, const Expr &y, const Expr &dy) {
    switch (p.kind) {
    // ReLU from its output (y > 0 exactly where x > 0): the input need not be stored for the
    // backward pass, so a convolution before it keeps its ReLU on its tiles while training.
    case ActivationKind::relu: return select(y > 0.0f, dy, 0.0f);
    case ActivationKind::leaky_relu: return select(x > 0.0f, dy, p.alpha * dy);
    case ActivationKind::sigmoid: return dy * y * (1.0f - y);
    case ActivationKind::tanh: return dy * (1.0f - y * y);
    case ActivationKind::elu: return select(x > 0.0f, dy, dy * (y + p.alpha));
    // PyTorch's subgradients at the kinks: clip passes the gradient strictly inside (min, max)
    // (hardtanh's backward); hardswish takes the middle piece's slope x/3 + 1/2 on [-3, 3].
    case ActivationKind::clip: return select(x > p.min && x < p.max, dy, 0.0f);
    case ActivationKind::hardswish: return select(x < -3.0f, 0.0f, x <= 3.0f, dy * (x * (1.0f / 3.0f) + 0.5f), dy);
    case ActivationKind::softmax: break;
    }
    fail("no hand-derived backward for softmax");
}

}  // namespace

std::vector<Tensor> input_gradients(const Gradients &g) {
    return g.d_inputs.empty() ? std::vector<Tensor>{g.d_input} : g.d_inputs;
}

Gradients activation_backward(const std::string &name, const Tensor &input, const ActivationParams &p,
                              const Tensor &output, const Tensor &d_output) {
    if (!has_manual_backward(p)) fail("{}: no hand-derived backward for softmax", name);
    const std::vector<Var> v = dims_for_rank(name, int(input.shape.size()));
    const std::vector<Expr> at(v.begin(), v.end());
    Func d_input(name + "_d_input");
    d_input(v) = activation_gradient(p, input.func(at), output.func(at), d_output.func(at));
    Gradients g{name, "activation", d_output};
    g.d_input = {d_input, input.shape};
    return g;
}

Gradients dropout_backward(const std::string &name, const Tensor &input, const DropoutParams &p, const Tensor &d_output) {
    if (!p.seed.defined()) fail("{}: dropout's backward pass needs the step's seed (training)", name);
    const std::vector<Var> v = dims_for_rank(name, int(input.shape.size()));
    const std::vector<Expr> at(v.begin(), v.end());
    Func d_input(name + "_d_input");
    d_input(v) = d_output.func(at) * dropout_scale(at, p.seed, p.p);
    Gradients g{name, "dropout", d_output};
    g.d_input = {d_input, input.shape};
    return g;
}

Gradients add_backward(const std::string &name, const std::vector<Tensor> &inputs, const AddParams &p,
                       const Tensor &output, const Tensor &d_output) {
    const std::vector<Var> v = dims_for_rank(name, int(output.shape.size()));
    Gradients g{name, "add", d_output};
    Func d_sum(name + "_d_sum");
    if (p.activation) {
        Expr total = inputs[0].func(v);
        for (size_t k = 1; k < inputs.size(); ++k) total += inputs[k].func(v);
        d_sum(v) = activation_gradient(*p.activation, total, output.func(v), d_output.func(v));
        g.stages["d_sum"] = d_sum;
    } else {
        d_sum(v) = d_output.func(v);
    }
    for (const Tensor &input : inputs) g.d_inputs.push_back({d_sum, input.shape});
    return g;
}

Gradients concat_backward(const std::string &name, const std::vector<Tensor> &inputs, const Tensor &d_output) {
    const std::vector<Var> v = dims_for_rank(name, int(d_output.shape.size()));
    const size_t axis = v.size() - 2;
    Gradients g{name, "concat", d_output};
    int begin = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
        std::vector<Expr> at(v.begin(), v.end());
        at[axis] = v[axis] + begin;
        Func d_part(fmt::format("{}_d_input{}", name, k));
        d_part(v) = d_output.func(at);
        g.d_inputs.push_back({d_part, inputs[k].shape});
        begin += inputs[k].shape[1];
    }
    return g;
}

Gradients global_avg_pool_backward(const std::string &name, const Tensor &input, const Tensor &d_output) {
    Dims d;
    Func d_input(name + "_d_input");
    d_input(d.x, d.y, d.c, d.n) = d_output.func(0, 0, d.c, d.n) * (1.0f / float(input.shape[2] * input.shape[3]));
    Gradients g{name, "global_avg_pool", d_output};
    g.d_input = {d_input, input.shape};
    return g;
}

Gradients batch_norm_backward(const std::string &name, const Tensor &input, const Layer &forward,
                              const ParamSource &source, const Tensor &d_output, Type sum_type) {
    const Shape &shape = input.shape;
    const ChannelReduction reduction = channel_reduction(name + "_back", shape);
    const std::vector<Var> &v = reduction.vars;
    const Var c = reduction.c;
    const RDom &r = reduction.r;
    const auto element = [&](const Func &f) { return reduction.element(f); };
    Func weight = source(name + ".weight", {shape[1]});
    Func mean = forward.stages.at("mean"), inv_std = forward.stages.at("inv_std");
    Func normalized(name + "_normalized");
    normalized(v) = (input.func(v) - mean(c)) * inv_std(c);
    // Summed in double, as the forward statistics: dL/dx subtracts these sums from M dy.
    Func sum_dy_double(name + "_sum_dy"), sum_dy_normalized_double(name + "_sum_dy_normalized");
    sum_dy_double(c) = cast(sum_type, 0);
    sum_dy_double(c) += cast(sum_type, element(d_output.func));
    sum_dy_normalized_double(c) = cast(sum_type, 0);
    sum_dy_normalized_double(c) += cast(sum_type, element(d_output.func) * element(normalized));
    Func sum_dy(name + "_d_bias"), sum_dy_normalized(name + "_d_weight");
    sum_dy(c) = cast<float>(sum_dy_double(c));
    sum_dy_normalized(c) = cast<float>(sum_dy_normalized_double(c));
    const float count = float(batch_norm_count(shape));
    Func d_input(name + "_d_input");
    d_input(v) = weight(c) * inv_std(c) * (1.0f / count) *
                 (count * d_output.func(v) - sum_dy(c) - normalized(v) * sum_dy_normalized(c));
    Gradients g{name, "batch_norm", d_output};
    g.d_input = {d_input, shape};
    g.d_params = {{name + ".weight", sum_dy_normalized}, {name + ".bias", sum_dy}};
    g.stages = {{"d_bias", sum_dy}, {"d_weight", sum_dy_normalized}, {"sum_dy", sum_dy_double},
                {"sum_dy_normalized", sum_dy_normalized_double}};
    g.reductions = {{"rb", r}};
    return g;
}

Gradients gradient_sum(const std::string &name, const std::vector<Tensor> &contributions) {
    const std::vector<Var> v = dims_for_rank(name, int(contributions.at(0).shape.size()));
    Expr total = contributions[0].func(v);
    for (size_t k = 1; k < contributions.size(); ++k) total += contributions[k].func(v);
    Func sum(name);
    sum(v) = total;
    Gradients g{name, "gradient_sum", contributions[0]};
    g.d_input = {sum, contributions[0].shape};
    return g;
}

Gradients lrn_backward(const std::string &name, const Tensor &input, const LrnParams &p, const Tensor &d_output) {
    const int channels = input.shape[1], height = input.shape[2], width = input.shape[3];
    const int before = lrn_window_before(p), after = lrn_window_after(p);
    Dims d;
    // out = x * D^-beta with D = kappa + gamma * S and S the window's sum of squares, so
    // dL/dx(c) = dy(c) * D(c)^-beta - 2 gamma beta x(c) * sum over windows W containing c of
    //            dy(W) * x(W) * D(W)^(-beta - 1).
    // Window c' covers c' - before .. c' + after, so the windows containing c are centred at
    // c - after .. c + before: the window mirrored.
    Func zero_outside = BoundaryConditions::constant_exterior(input.func, 0.0f, {{0, width}, {0, height}, {0, channels}});
    auto window_total = [&](Func f, bool mirrored) -> Expr {
        const int low = mirrored ? -after : -before, high = mirrored ? before : after;
        Expr total = 0.0f;
        for (int a = low; a <= high; ++a) {
            if (p.kind == LrnKind::inter_channel) {
                total += f(d.x, d.y, d.c + a, d.n);
            } else {
                for (int b = low; b <= high; ++b) total += f(d.x + b, d.y + a, d.c, d.n);
            }
        }
        return total;
    };
    Func squared(name + "_bw_squared");
    squared(d.x, d.y, d.c, d.n) = zero_outside(d.x, d.y, d.c, d.n) * zero_outside(d.x, d.y, d.c, d.n);
    Func denominator(name + "_bw_denominator");  // D
    denominator(d.x, d.y, d.c, d.n) = p.kappa + p.gamma * window_total(squared, false);
    Func scale(name + "_bw_scale");  // D^-beta
    scale(d.x, d.y, d.c, d.n) = pow(denominator(d.x, d.y, d.c, d.n), -p.beta);
    Func spread(name + "_bw_spread");  // dy * x * D^(-beta - 1), zero outside the tensor
    Expr inside = d.x >= 0 && d.x < width && d.y >= 0 && d.y < height && d.c >= 0 && d.c < channels;
    Expr at_x = clamp(d.x, 0, width - 1), at_y = clamp(d.y, 0, height - 1), at_c = clamp(d.c, 0, channels - 1);
    spread(d.x, d.y, d.c, d.n) =
        select(inside,
               d_output.func(at_x, at_y, at_c, d.n) * input.func(at_x, at_y, at_c, d.n) *
                   scale(at_x, at_y, at_c, d.n) / denominator(at_x, at_y, at_c, d.n),
               0.0f);
    Func d_input(name + "_d_input");
    d_input(d.x, d.y, d.c, d.n) = d_output.func(d.x, d.y, d.c, d.n) * scale(d.x, d.y, d.c, d.n) -
                                  (2.0f * p.gamma * p.beta) * input.func(d.x, d.y, d.c, d.n) * window_total(spread, true);
    Gradients g{name, "lrn", d_output};
    g.d_input = {d_input, input.shape};
    g.stages["denominator"] = denominator;
    g.stages["scale"] = scale;
    g.stages["spread"] = spread;
    return g;
}

Gradients fully_connected_backward(const std::string &name, const Tensor &input, const FullyConnectedParams &p,
                                   const ParamSource &source, const Tensor &d_output, bool want_input) {
    const int batch = input.shape[0];
    const int in_features = int(element_count(input.shape) / batch);
    Dims d;
    Gradients g{name, "fully_connected", d_output};
    g.flat_features = in_features;
    Func weight = source(name + ".weight", {p.out_features, in_features});  // (k, i)

    // The input as (k, n) in C order, stored once so k is contiguous.
    Func flat(name + "_bw_flat_input");
    if (input.shape.size() == 2) {
        flat(d.x, d.n) = input.func(d.x, d.n);
    } else {
        const int height = input.shape[2], width = input.shape[3];
        flat(d.x, d.n) = input.func(d.x % width, (d.x / width) % height, d.x / (width * height), d.n);
    }
    g.stages["flat_input"] = flat;

    RDom rn(0, batch, name + "_bw_rn");
    if (p.bias) {
        Func d_bias(name + "_d_bias");
        d_bias(d.i) = 0.0f;
        d_bias(d.i) += d_output.func(d.i, rn);
        g.d_params[name + ".bias"] = d_bias;
        g.stages["d_bias"] = d_bias;
    }
    // dL/dW(k, i) = sum over n of dL/dout(i, n) * in(k, n).
    Func d_weight_sum(name + "_d_weight_sum");
    d_weight_sum(d.x, d.i) = 0.0f;
    d_weight_sum(d.x, d.i) += d_output.func(d.i, rn) * flat(d.x, rn);
    g.d_params[name + ".weight"] = exposed(name + "_d_weight", d_weight_sum);
    g.stages["d_weight_sum"] = d_weight_sum;
    g.reductions["rn"] = rn;

    // dL/din(k, n) = sum over i of W(k, i) * dL/dout(i, n), then back to the input's shape.
    if (want_input) {
        RDom ri(0, p.out_features, name + "_bw_ri");
        Func d_flat_sum(name + "_d_input_sum");
        d_flat_sum(d.x, d.n) = 0.0f;
        d_flat_sum(d.x, d.n) += weight(d.x, ri) * d_output.func(ri, d.n);
        Func d_flat = exposed(name + "_d_input_flat", d_flat_sum);
        Func d_input(name + "_d_input");
        if (input.shape.size() == 2) {
            d_input(d.x, d.n) = d_flat(d.x, d.n);
        } else {
            const int height = input.shape[2], width = input.shape[3];
            d_input(d.x, d.y, d.c, d.n) = d_flat(d.x + width * (d.y + height * d.c), d.n);
        }
        g.d_input = {d_input, input.shape};
        g.stages["d_input_sum"] = d_flat_sum;
        g.stages["d_input_flat"] = d_flat;
        g.stages["weight"] = weight;
        g.reductions["ri"] = ri;
    }
    return g;
}

Gradients loss_backward(const std::string &name, const Tensor &prediction, const Func &target, const LossParams &p,
                        const Tensor &d_output) {
    const int batch = prediction.shape[0], features = prediction.shape[1];
    Dims d;
    const Func &x = prediction.func;
    Gradients g{name, "loss", d_output};
    // Every loss is a mean over samples of a per-sample sum over features.
    Expr scale = d_output.func() / float(batch);
    Expr diff;
    Func d_input(name + "_d_input");
    switch (p.kind) {
    case LossKind::softmax_cross_entropy: {
        // softmax(x[n]) - one_hot(label[n])
        RDom rf(0, features, name + "_bw_rf");
        Func row_max(name + "_bw_max"), log_sum_exp(name + "_bw_logsumexp");
        row_max(d.n) = maximum(x(rf, d.n));
        log_sum_exp(d.n) = log(sum(exp(x(rf, d.n) - row_max(d.n)))) + row_max(d.n);
        g.stages["max"] = row_max;
        g.stages["logsumexp"] = log_sum_exp;
        Expr one_hot = select(d.i == target(d.n), 1.0f, 0.0f);
        d_input(d.i, d.n) = scale * (exp(x(d.i, d.n) - log_sum_exp(d.n)) - one_hot);
        break;
    }
    case LossKind::hinge: {
        // Each violated margin pushes its class up and the label's down, by 1 / features.
        RDom rf(0, features, name + "_bw_rf");
        Func label_score(name + "_bw_label_score"), violations(name + "_bw_violations");
        label_score(d.n) = sum(select(rf == target(d.n), x(rf, d.n), 0.0f));
        Expr violated = p.margin - label_score(d.n) + x(d.i, d.n) > 0.0f;
        Func violated_at(name + "_bw_violated");
        violated_at(d.i, d.n) = select(d.i != target(d.n) && violated, 1.0f, 0.0f);
        violations(d.n) = sum(violated_at(rf, d.n));
        g.stages["label_score"] = label_score;
        g.stages["violated"] = violated_at;
        g.stages["violations"] = violations;
        d_input(d.i, d.n) =
            scale / float(features) * select(d.i == target(d.n), -violations(d.n), violated_at(d.i, d.n));
        break;
    }
    case LossKind::mean_squared_error:
        d_input(d.i, d.n) = scale / float(features) * 2.0f * (x(d.i, d.n) - target(d.i, d.n));
        break;
    case LossKind::huber:
        diff = x(d.i, d.n) - target(d.i, d.n);
        d_input(d.i, d.n) = scale / float(features) * clamp(diff, -p.delta, p.delta);
        break;
    }
    g.d_input = {d_input, prediction.shape};
    return g;
}

}  // namespace cnngen
