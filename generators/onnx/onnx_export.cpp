#include "onnx_export.h"

#include "../layers/errors.h"

#include <onnx/onnx_pb.h>

#include <cmath>

namespace cnngen {

namespace {

constexpr int kOpset = 13;

class GraphWriter {
public:
    explicit GraphWriter(onnx::GraphProto &graph) : graph_(graph) {}

    // A node reading `inputs` and writing a fresh value, which it returns.
    onnx::NodeProto &node(const std::string &op, const std::string &name, std::vector<std::string> inputs) {
        onnx::NodeProto &n = *graph_.add_node();
        n.set_op_type(op);
        n.set_name(name);
        for (const std::string &in : inputs) n.add_input(in);
        // Value names must be unique in the graph whatever the layer names are.
        n.add_output(fmt::format("{}_out{}", name, ++values_));
        return n;
    }
    static void ints(onnx::NodeProto &n, const char *name, std::vector<int64_t> values) {
        auto &a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::INTS);
        for (int64_t v : values) a.add_ints(v);
    }
    static void integer(onnx::NodeProto &n, const char *name, int64_t value) {
        auto &a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::INT);
        a.set_i(value);
    }
    static void real(onnx::NodeProto &n, const char *name, float value) {
        auto &a = *n.add_attribute();
        a.set_name(name);
        a.set_type(onnx::AttributeProto::FLOAT);
        a.set_f(value);
    }
    // A scalar constant baked into the graph (the runtime adds only the trained weights).
    std::string scalar(const std::string &name, float value) {
        onnx::TensorProto &t = *graph_.add_initializer();
        t.set_name(name);
        t.set_data_type(onnx::TensorProto::FLOAT);
        t.add_float_data(value);
        return name;
    }

private:
    onnx::GraphProto &graph_;
    int values_ = 0;
};

void window_attributes(onnx::NodeProto &n, const Window1d &h, const Window1d &w, bool dilations) {
    GraphWriter::ints(n, "kernel_shape", {h.kernel, w.kernel});
    GraphWriter::ints(n, "strides", {h.stride, w.stride});
    GraphWriter::ints(n, "pads", {h.pad_before, w.pad_before, h.pad_after, w.pad_after});
    if (dilations) GraphWriter::ints(n, "dilations", {h.dilation, w.dilation});
}

void value_info(onnx::ValueInfoProto &value, const std::string &name, const Shape &per_sample) {
    value.set_name(name);
    auto &tensor = *value.mutable_type()->mutable_tensor_type();
    tensor.set_elem_type(onnx::TensorProto::FLOAT);
    auto &shape = *tensor.mutable_shape();
    shape.add_dim()->set_dim_param("N");
    for (int d : per_sample) shape.add_dim()->set_dim_value(d);
}

// An element-wise activation (or softmax over the channels) of `input`; its output's name.
std::string write_activation(GraphWriter &writer, const ActivationParams &p, const std::string &name,
                             const std::string &input) {
    switch (p.kind) {
    case ActivationKind::clip:
        return writer
            .node("Clip", name, {input, writer.scalar(name + "_min", p.min), writer.scalar(name + "_max", p.max)})
            .output(0);
    case ActivationKind::hardswish: {  // HardSwish is opset 14: x * HardSigmoid(x) with alpha 1/6, beta 1/2
        auto &gate = writer.node("HardSigmoid", name + "_gate", {input});
        GraphWriter::real(gate, "alpha", 1.0f / 6.0f);
        GraphWriter::real(gate, "beta", 0.5f);
        return writer.node("Mul", name, {input, gate.output(0)}).output(0);
    }
    default: break;
    }
    static const char *const ops[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Softmax"};
    auto &n = writer.node(ops[int(p.kind)], name, {input});
    if (p.kind == ActivationKind::leaky_relu || p.kind == ActivationKind::elu) GraphWriter::real(n, "alpha", p.alpha);
    if (p.kind == ActivationKind::softmax) GraphWriter::integer(n, "axis", 1);
    return n.output(0);
}

}  // namespace

OnnxGraph onnx_graph_for(const ModelPlan &plan) {
    onnx::ModelProto model;
    model.set_ir_version(7);
    model.set_producer_name("cnngen");
    model.set_producer_version("1");
    auto &opset = *model.add_opset_import();
    opset.set_domain("");
    opset.set_version(kOpset);
    onnx::GraphProto &graph = *model.mutable_graph();
    graph.set_name(plan.spec.name);
    GraphWriter writer(graph);
    value_info(*graph.add_input(), "input", plan.activations.front());
    std::vector<std::string> values{"input"};  // the ONNX value of each activation
    for (size_t k = 0; k < plan.spec.layers.size(); ++k) {
        const LayerSpec &layer = plan.spec.layers[k];
        const std::string weight = layer.name + ".weight", bias = layer.name + ".bias";
        std::vector<std::string> read;
        for (int a : plan.inputs[k]) read.push_back(values.at(size_t(a)));
        std::string current = read.at(0);
        const bool flat_input = plan.activations[size_t(plan.inputs[k][0])].size() != 1;
        std::string problem;
        std::visit(
            [&](const auto &p) {
                using P = std::decay_t<decltype(p)>;
                if constexpr (std::is_same_v<P, Conv2dParams>) {
                    if (p.flip_kernel) {
                        problem = "mode 'convolution' (a flipped kernel) has no ONNX form";
                        return;
                    }
                    std::vector<std::string> inputs{current, weight};
                    if (p.bias) inputs.push_back(bias);
                    auto &n = writer.node("Conv", layer.name, inputs);
                    window_attributes(n, p.height, p.width, true);
                    GraphWriter::integer(n, "group", p.groups);
                    current = n.output(0);
                } else if constexpr (std::is_same_v<P, Pool2dParams>) {
                    const bool max = p.kind == PoolKind::max;
                    auto &n = writer.node(max ? "MaxPool" : p.kind == PoolKind::average ? "AveragePool" : "LpPool",
                                          layer.name, {current});
                    window_attributes(n, p.height, p.width, max);
                    if (p.kind != PoolKind::p_norm) GraphWriter::integer(n, "ceil_mode", p.height.ceil_mode);
                    if (p.kind == PoolKind::average) GraphWriter::integer(n, "count_include_pad", p.count_include_pad);
                    current = n.output(0);
                    if (p.kind == PoolKind::p_norm) {
                        if (std::round(p.p) != p.p || p.height.ceil_mode) {
                            problem = "ONNX's LpPool takes an integer p and no ceil_mode";
                            return;
                        }
                        GraphWriter::integer(n, "p", int64_t(p.p));
                        // cnngen's p-norm averages |v|^p over the window; LpPool sums it.
                        const float scale = std::pow(float(p.height.kernel * p.width.kernel), -1.0f / p.p);
                        current = writer.node("Mul", layer.name + "_mean", {current, writer.scalar(layer.name + "_scale", scale)})
                                      .output(0);
                    }
                } else if constexpr (std::is_same_v<P, ActivationParams>) {
                    current = write_activation(writer, p, layer.name, current);
                } else if constexpr (std::is_same_v<P, AddParams>) {
                    current = writer.node(read.size() == 2 ? "Add" : "Sum", layer.name, read).output(0);
                    if (p.activation) current = write_activation(writer, *p.activation, layer.name + "_activation", current);
                } else if constexpr (std::is_same_v<P, ConcatParams>) {
                    auto &n = writer.node("Concat", layer.name, read);
                    GraphWriter::integer(n, "axis", 1);
                    current = n.output(0);
                } else if constexpr (std::is_same_v<P, BatchNormParams>) {
                    auto &n = writer.node("BatchNormalization", layer.name,
                                          {current, weight, bias, layer.name + ".running_mean", layer.name + ".running_var"});
                    GraphWriter::real(n, "epsilon", p.epsilon);
                    GraphWriter::real(n, "momentum", 1.0f - p.momentum);  // ONNX's weighs the running value
                    current = n.output(0);
                } else if constexpr (std::is_same_v<P, DropoutParams>) {
                    current = writer.node("Identity", layer.name, {current}).output(0);  // inference
                } else if constexpr (std::is_same_v<P, GlobalAvgPoolParams>) {
                    current = writer.node("GlobalAveragePool", layer.name, {current}).output(0);
                } else if constexpr (std::is_same_v<P, LrnParams>) {
                    if (p.kind != LrnKind::inter_channel) {
                        problem = "intra-channel LRN has no ONNX form";
                        return;
                    }
                    // The notes' window is n/2 on each side: ONNX's size 2*(n/2)+1 for every n.
                    const int size = p.window == LrnWindow::onnx ? p.n : 2 * (p.n / 2) + 1;
                    auto &n = writer.node("LRN", layer.name, {current});
                    GraphWriter::integer(n, "size", size);
                    GraphWriter::real(n, "alpha", p.gamma * float(size));
                    GraphWriter::real(n, "beta", p.beta);
                    GraphWriter::real(n, "bias", p.kappa);
                    current = n.output(0);
                } else {
                    if (flat_input) {
                        auto &f = writer.node("Flatten", layer.name + "_flatten", {current});
                        GraphWriter::integer(f, "axis", 1);
                        current = f.output(0);
                    }
                    std::vector<std::string> inputs{current, weight};
                    if (p.bias) inputs.push_back(bias);
                    auto &n = writer.node("Gemm", layer.name, inputs);
                    GraphWriter::integer(n, "transB", 1);
                    current = n.output(0);
                }
            },
            layer.params);
        if (!problem.empty()) return {"", fmt::format("layer '{}' ({}): {}", layer.name, layer.kind, problem)};
        values.push_back(current);
    }
    // The output keeps the model's own name for it.
    graph.mutable_node(graph.node_size() - 1)->set_output(0, "output");
    value_info(*graph.add_output(), "output", plan.activations.back());
    // Weights are graph initializers the runtime appends; ONNX needs no input entries for them.
    std::string bytes;
    if (!model.SerializeToString(&bytes)) fail("{}: cannot serialize the ONNX graph", plan.spec.name);
    return {bytes, ""};
}

}  // namespace cnngen
