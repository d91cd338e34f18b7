#include "merge.h"

#include "errors.h"

using namespace Halide;

namespace cnngen {

namespace {

void check_count(const std::string &name, const char *kind, size_t count, size_t least) {
    if (count < least) fail("{}: {} takes at least {} inputs, {} given", name, kind, least, count);
}

}  // namespace

Shape add_output_shape(const std::string &name, const std::vector<Shape> &inputs, const std::vector<std::string> &names) {
    check_count(name, "add", inputs.size(), 2);
    for (size_t k = 1; k < inputs.size(); ++k)
        if (inputs[k] != inputs[0])
            fail("{}: add needs inputs of one shape, but '{}' gives {} and '{}' gives {}", name, names.at(0),
                 shape_string(inputs[0]), names.at(k), shape_string(inputs[k]));
    return inputs[0];
}

Shape concat_output_shape(const std::string &name, const std::vector<Shape> &inputs,
                          const std::vector<std::string> &names) {
    check_count(name, "concat", inputs.size(), 1);
    Shape out = inputs[0];
    if (out.size() != 2 && out.size() != 4)
        fail("{}: concat joins (N, C, H, W) or (N, F) inputs, '{}' gives {}", name, names.at(0), shape_string(out));
    for (size_t k = 1; k < inputs.size(); ++k) {
        Shape rest = inputs[k], first = inputs[0];
        if (rest.size() == first.size()) rest[1] = first[1] = 0;
        if (rest != first)
            fail("{}: concat joins along the channels, so the other dimensions must agree, but '{}' gives {} and "
                 "'{}' gives {}",
                 name, names.at(0), shape_string(inputs[0]), names.at(k), shape_string(inputs[k]));
        out[1] += inputs[k][1];
    }
    return out;
}

Layer add(const std::string &name, const std::vector<Tensor> &inputs, const AddParams &p) {
    std::vector<Shape> shapes;
    for (const Tensor &t : inputs) shapes.push_back(t.shape);
    std::vector<std::string> names(inputs.size(), "input");
    const Shape shape = add_output_shape(name, shapes, names);
    const std::vector<Var> v = dims_for_rank(name, int(shape.size()));
    Expr total = inputs[0].func(v);
    for (size_t k = 1; k < inputs.size(); ++k) total += inputs[k].func(v);
    if (p.activation) total = elementwise_activation(*p.activation, total);
    Func out(name);
    out(v) = total;
    return {name, "add", {out, shape}, {}, {}};
}

Layer concat(const std::string &name, const std::vector<Tensor> &inputs, const ConcatParams &) {
    std::vector<Shape> shapes;
    for (const Tensor &t : inputs) shapes.push_back(t.shape);
    std::vector<std::string> names(inputs.size(), "input");
    const Shape shape = concat_output_shape(name, shapes, names);
    const std::vector<Var> v = dims_for_rank(name, int(shape.size()));
    const size_t axis = v.size() - 2;  // channels: second from last in Halide's order
    // One update per input, each a copy into its own channel range: no element reads the other
    // inputs (a select over them would load every input everywhere; DenseNet joins dozens).
    Func out(name);
    out(v) = undef<float>();
    Layer layer{name, "concat", {out, shape}, {}, {}};
    int begin = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
        RDom r(0, inputs[k].shape[1], fmt::format("{}_r{}", name, k));
        std::vector<Expr> at(v.begin(), v.end()), from(v.begin(), v.end());
        at[axis] = begin + r;
        from[axis] = r;
        out(at) = inputs[k].func(from);
        layer.reductions[fmt::format("r{}", k)] = r;
        begin += inputs[k].shape[1];
    }
    return layer;
}

}  // namespace cnngen
