#include "lrn.h"

#include "errors.h"

using namespace Halide;

namespace cnngen {

LrnKind lrn_kind_from_name(const std::string &layer, const std::string &name) {
    if (name == "inter_channel") return LrnKind::inter_channel;
    if (name == "intra_channel") return LrnKind::intra_channel;
    fail("{}: LRN kind '{}' unknown, expected inter_channel or intra_channel", layer, name);
}

int lrn_window_before(const LrnParams &p) { return p.window == LrnWindow::centered ? p.n / 2 : (p.n - 1) / 2; }
int lrn_window_after(const LrnParams &p) { return p.n / 2; }

Shape lrn_output_shape(const std::string &name, const Shape &input, const LrnParams &p) {
    if (input.size() != 4) fail("{}: LRN expects a 4-D NCHW input, got shape {}", name, shape_string(input));
    if (p.n < 1) fail("{}: LRN window n is {}, expected at least 1", name, p.n);
    if (!(p.kappa > 0.0f)) fail("{}: LRN kappa is {}, expected > 0", name, p.kappa);
    return input;
}

Layer lrn(const std::string &name, const Tensor &input, const LrnParams &p) {
    lrn_output_shape(name, input.shape, p);
    const int channels = input.shape[1], height = input.shape[2], width = input.shape[3];
    const int before = lrn_window_before(p), extent = before + lrn_window_after(p) + 1;

    Dims d;
    Func squared(name + "_squared");
    Func zero_outside = BoundaryConditions::constant_exterior(input.func, 0.0f, {{0, width}, {0, height}, {0, channels}});
    squared(d.x, d.y, d.c, d.n) = zero_outside(d.x, d.y, d.c, d.n) * zero_outside(d.x, d.y, d.c, d.n);

    Func window_sum(name + "_window_sum");
    RDom r;
    if (p.kind == LrnKind::inter_channel) {
        r = RDom(-before, extent, name + "_r");
        window_sum(d.x, d.y, d.c, d.n) = sum(squared(d.x, d.y, d.c + r, d.n));
    } else {
        r = RDom(-before, extent, -before, extent, name + "_r");
        window_sum(d.x, d.y, d.c, d.n) = sum(squared(d.x + r.x, d.y + r.y, d.c, d.n));
    }
    Func out(name);
    out(d.x, d.y, d.c, d.n) = input.func(d.x, d.y, d.c, d.n) / pow(p.kappa + p.gamma * window_sum(d.x, d.y, d.c, d.n), p.beta);
    return {name, "lrn", {out, input.shape}, {{"window_sum", window_sum}}, {{"r", r}}};
}

}  // namespace cnngen
