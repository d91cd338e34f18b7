#include "onnx_import.h"

#include "../layers/errors.h"
#include "../model/plan.h"
#include "../model/spec_writer.h"

#include <cnngen/npy.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>

namespace fs = std::filesystem;

namespace cnngen {

namespace {

const char *const kSupported =
    "Conv, MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool, LRN, Relu, LeakyRelu, Sigmoid, Tanh, Elu, Softmax, "
    "Clip, HardSwish, Add, Sum, Concat (channels), Gemm, MatMul (by a constant), Flatten, Reshape (to 2-D), Pad "
    "(zeros, before Conv or AveragePool), BatchNormalization, Dropout, Identity";

// A zero Pad waiting for the convolution or pooling it folds into.
struct PendingPad {
    int top = 0, bottom = 0, left = 0, right = 0;
    std::string node;
};

// What an ONNX value is to cnngen: the layer computing it (or the images) and how it looks.
struct ImportedValue {
    std::string layer;  // a layer's name, or kImagesName
    Shape shape;        // as cnngen has it, batch 1 in front
    int onnx_rank = 0;
    int fold_target = -1;  // the conv or Gemm whose output this is, while a BatchNormalization may fold into it
    std::optional<PendingPad> pad;
};

class Importer {
public:
    Importer(const onnx::ModelProto &model, std::string path) : model_(model), graph_(model.graph()), path_(std::move(path)) {}

    ImportedModel run(const std::string &name);

private:
    // Graph checks and indexes.
    void index_graph();
    void check_acyclic();  // and orders the nodes
    std::string where(const onnx::NodeProto &node) const;
    const onnx::NodeProto &node(int k) const { return graph_.node(k); }
    bool used(const std::string &value) const;

    // Attributes and constant inputs.
    const onnx::AttributeProto *attribute(const onnx::NodeProto &n, const char *name, onnx::AttributeProto::AttributeType type) const;
    int64_t int_attribute(const onnx::NodeProto &n, const char *name, int64_t fallback) const;
    float float_attribute(const onnx::NodeProto &n, const char *name, float fallback) const;
    std::string string_attribute(const onnx::NodeProto &n, const char *name, const std::string &fallback) const;
    std::vector<int64_t> ints_attribute(const onnx::NodeProto &n, const char *name, std::vector<int64_t> fallback) const;
    const onnx::TensorProto *constant_input(const onnx::NodeProto &n, int k, const char *role, bool required) const;
    FloatTensor float_input(const onnx::NodeProto &n, int k, const char *role) const;

    // The graph walk: each node on the current activation's state.
    void read_input();
    void visit(const onnx::NodeProto &n);
    void require_image(const onnx::NodeProto &n) const;
    void read_windows(const onnx::NodeProto &n, const std::vector<int64_t> &kernel, Window1d &h, Window1d &w, bool pooling);
    void fold_pending_pad(const onnx::NodeProto &n, Window1d &h, Window1d &w);
    std::string layer_name(const std::string &base, const std::string &weight_initializer = "");
    void add_layer(const onnx::NodeProto &n, const std::string &name, const std::string &kind, LayerSpec::Params params,
                   const std::vector<std::string> &inputs = {});
    void join(const onnx::NodeProto &n, const std::vector<std::string> &data);
    void clip(const onnx::NodeProto &n);

    void conv(const onnx::NodeProto &n);
    void pool(const onnx::NodeProto &n);
    void global_pool(const onnx::NodeProto &n);
    void lrn(const onnx::NodeProto &n);
    void activation(const onnx::NodeProto &n, const std::string &kind, float alpha);
    void softmax(const onnx::NodeProto &n);
    void gemm(const onnx::NodeProto &n);
    void flatten(const onnx::NodeProto &n);
    void reshape(const onnx::NodeProto &n);
    void pad(const onnx::NodeProto &n);
    void batch_norm(const onnx::NodeProto &n);
    void dropout(const onnx::NodeProto &n);

    const onnx::ModelProto &model_;
    const onnx::GraphProto &graph_;
    std::string path_;
    int opset_ = 0;
    std::map<std::string, const onnx::TensorProto *> constants_;  // initializers and Constant nodes' values
    std::map<std::string, std::vector<int>> consumers_;           // value -> nodes reading it
    std::map<std::string, int> producers_;                        // value -> node writing it
    std::set<std::string> graph_inputs_, graph_outputs_;
    const onnx::ValueInfoProto *input_ = nullptr;  // the images

    ModelSpec spec_;
    std::map<std::string, FloatTensor> weights_;
    std::map<std::string, ImportedValue> values_;  // the ONNX values computed from the images
    std::vector<int> order_;                       // the nodes in an order that computes inputs first
    std::string layer_;    // the layer computing the current activation (kImagesName: the images)
    Shape shape_;          // the current activation as cnngen has it, batch 1 in front
    int onnx_rank_ = 0;    // its rank in the ONNX graph (2 after a Flatten cnngen leaves to the next Gemm)
    bool one_d_ = false;   // the input was (N, C, L): cnngen holds it as (N, C, 1, L)
    int fold_target_ = -1; // the layer a BatchNormalization here folds into: the conv or Gemm just before
    std::optional<PendingPad> pad_;
    std::vector<std::string> notes_;
    std::map<std::string, int> counters_;
    std::set<std::string> names_;
};

std::string Importer::where(const onnx::NodeProto &n) const {
    return fmt::format("{}: node '{}' ({}) on input '{}'", path_, n.name().empty() ? "(unnamed)" : n.name(), n.op_type(),
                       n.input_size() ? n.input(0) : "");
}

bool Importer::used(const std::string &value) const {
    auto it = consumers_.find(value);
    return (it != consumers_.end() && !it->second.empty()) || graph_outputs_.count(value);
}

void Importer::index_graph() {
    for (const auto &entry : model_.opset_import())
        if (entry.domain().empty() || entry.domain() == "ai.onnx") opset_ = int(entry.version());
    if (opset_ == 0) fail("{}: the model imports no version of the default ONNX operator set (opset_import)", path_);
    for (const auto &tensor : graph_.initializer()) constants_[tensor.name()] = &tensor;
    for (const auto &value : graph_.input()) graph_inputs_.insert(value.name());
    for (const auto &value : graph_.output()) graph_outputs_.insert(value.name());
    for (int k = 0; k < graph_.node_size(); ++k) {
        const onnx::NodeProto &n = node(k);
        for (const std::string &out : n.output()) {
            if (out.empty()) continue;
            if (!producers_.emplace(out, k).second || constants_.count(out) || graph_inputs_.count(out))
                fail("{}: value '{}' is produced twice (an ONNX graph assigns each value once)", where(n), out);
        }
        if (n.op_type() == "Constant" && (n.domain().empty() || n.domain() == "ai.onnx")) {
            const onnx::AttributeProto *value = attribute(n, "value", onnx::AttributeProto::TENSOR);
            if (!value || n.output_size() != 1)
                fail("{}: a Constant is imported from its 'value' tensor only", where(n));
            constants_[n.output(0)] = &value->t();
        }
        for (const std::string &in : n.input())
            if (!in.empty()) consumers_[in].push_back(k);
    }
    check_acyclic();
    // PyTorch's exporter gives equal initializers one name and the others an Identity of it
    // (the folded biases of a network with untrained BatchNorms, say): those are constants too.
    for (int k : order_) {
        const onnx::NodeProto &n = node(k);
        if (n.op_type() == "Identity" && n.input_size() == 1 && n.output_size() == 1 && constants_.count(n.input(0)))
            constants_[n.output(0)] = constants_.at(n.input(0));
    }
    for (int k = 0; k < graph_.node_size(); ++k)
        for (int i = 0; i < node(k).input_size(); ++i) {
            const std::string &in = node(k).input(i);
            if (!in.empty() && !producers_.count(in) && !constants_.count(in) && !graph_inputs_.count(in))
                fail("{}: input {} '{}' is missing: no initializer, Constant, graph input or node gives it", where(node(k)),
                     i, in);
        }
}

// Kahn's algorithm; whatever is left over lies on or behind a cycle.
void Importer::check_acyclic() {
    std::vector<int> waiting(size_t(graph_.node_size()), 0);
    std::vector<int> ready;
    for (int k = 0; k < graph_.node_size(); ++k) {
        for (const std::string &in : node(k).input())
            if (producers_.count(in)) ++waiting[size_t(k)];
        if (!waiting[size_t(k)]) ready.push_back(k);
    }
    size_t done = 0;
    std::reverse(ready.begin(), ready.end());  // the file's order among the ready
    while (!ready.empty()) {
        const int k = ready.back();
        ready.pop_back();
        ++done;
        order_.push_back(k);
        for (const std::string &out : node(k).output()) {
            auto it = consumers_.find(out);
            if (it == consumers_.end()) continue;
            for (int user : it->second)
                if (--waiting[size_t(user)] == 0) ready.push_back(user);
        }
    }
    if (done == size_t(graph_.node_size())) return;
    std::vector<std::string> stuck;
    for (int k = 0; k < graph_.node_size(); ++k)
        if (waiting[size_t(k)] > 0) stuck.push_back(fmt::format("'{}' ({})", node(k).name(), node(k).op_type()));
    fail("{}: the graph has a cycle: nodes {} wait on each other's outputs", path_, fmt::join(stuck, ", "));
}

const onnx::AttributeProto *Importer::attribute(const onnx::NodeProto &n, const char *name,
                                                onnx::AttributeProto::AttributeType type) const {
    for (const auto &a : n.attribute()) {
        if (a.name() != name) continue;
        if (a.type() != type && a.type() != onnx::AttributeProto::UNDEFINED)
            fail("{}: attribute '{}' has type {}, expected {}", where(n), name,
                 onnx::AttributeProto::AttributeType_Name(a.type()), onnx::AttributeProto::AttributeType_Name(type));
        return &a;
    }
    return nullptr;
}

int64_t Importer::int_attribute(const onnx::NodeProto &n, const char *name, int64_t fallback) const {
    const auto *a = attribute(n, name, onnx::AttributeProto::INT);
    return a ? a->i() : fallback;
}

float Importer::float_attribute(const onnx::NodeProto &n, const char *name, float fallback) const {
    const auto *a = attribute(n, name, onnx::AttributeProto::FLOAT);
    return a ? a->f() : fallback;
}

std::string Importer::string_attribute(const onnx::NodeProto &n, const char *name, const std::string &fallback) const {
    const auto *a = attribute(n, name, onnx::AttributeProto::STRING);
    return a ? a->s() : fallback;
}

std::vector<int64_t> Importer::ints_attribute(const onnx::NodeProto &n, const char *name, std::vector<int64_t> fallback) const {
    const auto *a = attribute(n, name, onnx::AttributeProto::INTS);
    return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

const onnx::TensorProto *Importer::constant_input(const onnx::NodeProto &n, int k, const char *role, bool required) const {
    if (k >= n.input_size() || n.input(k).empty()) {
        if (required) fail("{}: input {} ({}) missing", where(n), k, role);
        return nullptr;
    }
    auto it = constants_.find(n.input(k));
    if (it == constants_.end())
        fail("{}: input {} ('{}', the {}) must be an initializer or a Constant; cnngen bakes it into the model", where(n),
             k, n.input(k), role);
    return it->second;
}

FloatTensor Importer::float_input(const onnx::NodeProto &n, int k, const char *role) const {
    return float_tensor(*constant_input(n, k, role, true), fmt::format("{}: {} '{}'", where(n), role, n.input(k)));
}

void Importer::read_input() {
    std::vector<const onnx::ValueInfoProto *> inputs;
    for (const auto &value : graph_.input())
        if (!constants_.count(value.name())) inputs.push_back(&value);
    if (inputs.empty()) fail("{}: the graph has no input that is not an initializer", path_);
    for (size_t k = 1; k < inputs.size(); ++k) {
        std::vector<std::string> users;
        for (int user : consumers_[inputs[k]->name()])
            users.push_back(fmt::format("'{}' ({})", node(user).name(), node(user).op_type()));
        fail("{}: graph input '{}' (used by {}) has no initializer; cnngen imports models with one input, the images, "
             "and their weights as initializers",
             path_, inputs[k]->name(), users.empty() ? "no node" : fmt::format("{}", fmt::join(users, ", ")));
    }
    const onnx::ValueInfoProto &input = *inputs[0];
    input_ = &input;
    const auto &type = input.type().tensor_type();
    if (!input.type().has_tensor_type()) fail("{}: graph input '{}' is not a tensor", path_, input.name());
    if (type.elem_type() != onnx::TensorProto::FLOAT)
        fail("{}: graph input '{}' has element type {}, expected FLOAT images", path_, input.name(),
             onnx_type_name(type.elem_type()));
    const int rank = type.shape().dim_size();
    if (rank < 2 || rank > 4)
        fail("{}: graph input '{}' has rank {}, expected (N, C, H, W), (N, C, L) or (N, F)", path_, input.name(), rank);
    Shape dims;
    for (int k = 1; k < rank; ++k) {
        const auto &dim = type.shape().dim(k);
        if (!dim.has_dim_value() || dim.dim_value() < 1 || dim.dim_value() > 1'000'000)
            fail("{}: dimension {} of graph input '{}' is {}; only the batch dimension may be symbolic", path_, k,
                 input.name(), dim.has_dim_value() ? std::to_string(dim.dim_value()) : "'" + dim.dim_param() + "'");
        dims.push_back(int(dim.dim_value()));
    }
    onnx_rank_ = rank;
    one_d_ = rank == 3;
    spec_.input = rank == 4 ? dims : rank == 3 ? Shape{dims[0], 1, dims[1]} : Shape{dims[0], 1, 1};
    const auto &batch = type.shape().dim(0);
    if (batch.has_dim_value() && batch.dim_value() > 0 && batch.dim_value() <= 65536)
        spec_.batch_sizes = {int(batch.dim_value())};
    else
        spec_.batch_sizes = {1, 64, 256};  // symbolic: the defaults of a spec
    shape_ = {1, spec_.input[0], spec_.input[1], spec_.input[2]};
}

std::string Importer::layer_name(const std::string &base, const std::string &weight_initializer) {
    // PyTorch's exporter names initializers by state_dict key: conv1.weight -> conv1; a
    // nested features.0.weight -> features_0.
    const std::string suffix = ".weight";
    if (weight_initializer.size() > suffix.size() &&
        weight_initializer.compare(weight_initializer.size() - suffix.size(), suffix.size(), suffix) == 0) {
        const std::string name = identifier_for(weight_initializer.substr(0, weight_initializer.size() - suffix.size()));
        if (is_c_identifier(name) && names_.insert(name).second) return name;
    }
    for (;;) {
        const std::string name = fmt::format("{}{}", base, ++counters_[base]);
        if (names_.insert(name).second) return name;
    }
}

// A layer on the current activation, or on `inputs` (values_ keys) for a join.
void Importer::add_layer(const onnx::NodeProto &n, const std::string &name, const std::string &kind, LayerSpec::Params params,
                         const std::vector<std::string> &inputs) {
    LayerSpec layer{name, kind, {layer_}, std::move(params)};
    std::vector<Shape> shapes{shape_};
    if (!inputs.empty()) {
        layer.inputs.clear();
        shapes.clear();
        for (const std::string &value : inputs) {
            layer.inputs.push_back(values_.at(value).layer);
            shapes.push_back(values_.at(value).shape);
        }
    }
    LayerSpec resolved = layer;
    std::vector<ParameterInfo> parameters;
    try {
        if (shapes.size() == 1 && shapes[0].size() == 4) resolve_padding_modes(resolved, shapes[0]);
        shape_ = layer_output_shape(resolved, shapes, layer.inputs, parameters, int(spec_.layers.size()));
    } catch (const ConfigError &e) {
        fail("{}: as cnngen layer '{}' ({}): {}", where(n), name, kind, e.what());
    }
    spec_.layers.push_back(std::move(layer));
    layer_ = name;
    fold_target_ = -1;
}

// Add, Sum and Concat: a layer on several values.
void Importer::join(const onnx::NodeProto &n, const std::vector<std::string> &data) {
    const std::string &op = n.op_type();
    if (data.size() != size_t(n.input_size()))
        fail("{}: every input of {} must be computed from the images; cnngen's {} has no constant operand", where(n), op,
             op == "Concat" ? "concat" : "add");
    for (const std::string &value : data) {
        const ImportedValue &v = values_.at(value);
        if (v.pad) fail("{}: the zero Pad '{}' before it can only fold into a Conv or AveragePool", where(n), v.pad->node);
        if (v.onnx_rank != values_.at(data[0]).onnx_rank)
            fail("{}: inputs of rank {} and {}; cnngen joins values of one rank", where(n), values_.at(data[0]).onnx_rank,
                 v.onnx_rank);
    }
    if (op == "Concat") {
        int64_t axis = int_attribute(n, "axis", 1);
        if (axis < 0) axis += onnx_rank_;
        if (axis != 1) fail("{}: Concat along axis {}; cnngen concatenates channels (axis 1)", where(n), axis);
        add_layer(n, layer_name("concat"), "concat", ConcatParams{}, data);
    } else {
        if (data.size() < 2) fail("{}: {} of one input; cnngen's add takes two or more", where(n), op);
        add_layer(n, layer_name("add"), "add", AddParams{}, data);
    }
}

// ReLU6 and other clamps: bounds from inputs 1 and 2 (opset 11 on) or attributes (before).
void Importer::clip(const onnx::NodeProto &n) {
    ActivationParams p;
    p.kind = ActivationKind::clip;
    p.min = -std::numeric_limits<float>::max();
    p.max = std::numeric_limits<float>::max();
    if (opset_ >= 11) {
        for (int k : {1, 2})
            if (const onnx::TensorProto *t = constant_input(n, k, k == 1 ? "min" : "max", false)) {
                const FloatTensor bound = float_tensor(*t, where(n) + (k == 1 ? ": min" : ": max"));
                if (bound.values.size() != 1) fail("{}: Clip's bound has {} values, expected 1", where(n), bound.values.size());
                (k == 1 ? p.min : p.max) = bound.values[0];
            }
    } else {
        p.min = float_attribute(n, "min", p.min);
        p.max = float_attribute(n, "max", p.max);
    }
    const bool relu6 = p.min == 0.0f && p.max == 6.0f;
    add_layer(n, layer_name(relu6 ? "relu6" : "clip"), relu6 ? "relu6" : "clip", p);
}

void Importer::require_image(const onnx::NodeProto &n) const {
    if (shape_.size() != 4 || onnx_rank_ < 3)
        fail("{}: expects an image (N, C, H, W) or (N, C, L) input, but the input has rank {} here", where(n), onnx_rank_);
}

void Importer::read_windows(const onnx::NodeProto &n, const std::vector<int64_t> &kernel, Window1d &h, Window1d &w,
                            bool pooling) {
    const size_t axes = one_d_ ? 1 : 2;
    if (kernel.size() != axes)
        fail("{}: a {}-D kernel {}; cnngen imports 2-D windows (1-D on (N, C, L) inputs), this input has {} spatial "
             "axes",
             where(n), kernel.size(), fmt::format("[{}]", fmt::join(kernel, ", ")), axes);
    const auto strides = ints_attribute(n, "strides", std::vector<int64_t>(axes, 1));
    const auto dilations = ints_attribute(n, "dilations", std::vector<int64_t>(axes, 1));
    const auto pads = ints_attribute(n, "pads", std::vector<int64_t>(2 * axes, 0));
    if (strides.size() != axes || dilations.size() != axes || pads.size() != 2 * axes)
        fail("{}: strides, dilations and pads have {}, {} and {} values, expected {}, {} and {}", where(n), strides.size(),
             dilations.size(), pads.size(), axes, axes, 2 * axes);
    for (int64_t v : kernel)
        if (v < 1 || v > 65536) fail("{}: kernel size {} out of range", where(n), v);
    for (const auto *list : {&strides, &dilations, &pads})
        for (int64_t v : *list)
            if (v < 0 || v > 65536) fail("{}: stride, dilation or pad {} out of range", where(n), v);
    auto window = [&](size_t axis) {
        return Window1d{int(kernel[axis]), int(strides[axis]), int(pads[axis]), int(pads[axis + axes]), int(dilations[axis])};
    };
    h = one_d_ ? Window1d{} : window(0);
    w = window(axes - 1);
    const std::string auto_pad = string_attribute(n, "auto_pad", "NOTSET");
    PaddingMode mode = PaddingMode::explicit_pads;
    if (auto_pad == "SAME_UPPER") mode = PaddingMode::same;
    else if (auto_pad == "SAME_LOWER") mode = PaddingMode::same_lower;
    else if (auto_pad == "VALID") mode = PaddingMode::valid;
    else if (auto_pad != "NOTSET") fail("{}: auto_pad '{}' unknown, expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", where(n), auto_pad);
    h.padding_mode = w.padding_mode = mode;
    if (pooling) h.ceil_mode = w.ceil_mode = int_attribute(n, "ceil_mode", 0) != 0;
}

void Importer::fold_pending_pad(const onnx::NodeProto &n, Window1d &h, Window1d &w) {
    if (!pad_) return;
    if (h.padding_mode != PaddingMode::explicit_pads)
        fail("{}: the zero Pad '{}' before it cannot be folded into auto_pad {}", where(n), pad_->node,
             padding_mode_name(h.padding_mode));
    h.pad_before += pad_->top;
    h.pad_after += pad_->bottom;
    w.pad_before += pad_->left;
    w.pad_after += pad_->right;
    notes_.push_back(fmt::format("Pad '{}' folded into the padding of node '{}' ({})", pad_->node, n.name(), n.op_type()));
    pad_.reset();
}

void Importer::conv(const onnx::NodeProto &n) {
    require_image(n);
    FloatTensor weight = float_input(n, 1, "weight");
    const size_t axes = one_d_ ? 1 : 2;
    if (weight.shape.size() != axes + 2)
        fail("{}: weight '{}' has shape {}; cnngen imports 2-D convolutions (1-D on (N, C, L) inputs)", where(n),
             n.input(1), shape_string(weight.shape));
    const std::vector<int64_t> kernel(weight.shape.begin() + 2, weight.shape.end());
    if (attribute(n, "kernel_shape", onnx::AttributeProto::INTS) && ints_attribute(n, "kernel_shape", {}) != kernel)
        fail("{}: kernel_shape [{}] differs from the weight's {}", where(n), fmt::join(ints_attribute(n, "kernel_shape", {}), ", "),
             shape_string(weight.shape));
    Conv2dParams p;
    p.out_channels = weight.shape[0];
    p.groups = int(int_attribute(n, "group", 1));
    read_windows(n, kernel, p.height, p.width, false);
    fold_pending_pad(n, p.height, p.width);
    if (one_d_) weight.shape.insert(weight.shape.begin() + 2, 1);
    std::optional<FloatTensor> bias;
    if (n.input_size() > 2 && !n.input(2).empty()) bias = float_input(n, 2, "bias");
    p.bias = bias.has_value();
    if (bias && bias->values.size() != size_t(p.out_channels))
        fail("{}: bias '{}' has shape {}, expected [{}]", where(n), n.input(2), shape_string(bias->shape), p.out_channels);
    const int in_channels = shape_[1];
    const std::string name = layer_name("conv", n.input(1));
    add_layer(n, name, "conv2d", p);
    if (weight.shape != conv2d_weight_shape(in_channels, p))
        fail("{}: weight '{}' has shape {}, expected {} for {} input channels", where(n), n.input(1),
             shape_string(weight.shape), shape_string(conv2d_weight_shape(in_channels, p)), in_channels);
    weights_[name + ".weight"] = weight;
    if (bias) weights_[name + ".bias"] = {{p.out_channels}, bias->values};
    fold_target_ = int(spec_.layers.size()) - 1;
}

void Importer::pool(const onnx::NodeProto &n) {
    require_image(n);
    const bool max = n.op_type() == "MaxPool";
    if (max && n.output_size() > 1 && used(n.output(1)))
        fail("{}: its Indices output '{}' is used; cnngen's max pooling has no indices output", where(n), n.output(1));
    if (!attribute(n, "kernel_shape", onnx::AttributeProto::INTS)) fail("{}: attribute 'kernel_shape' missing", where(n));
    Pool2dParams p;
    p.kind = max ? PoolKind::max : PoolKind::average;
    read_windows(n, ints_attribute(n, "kernel_shape", {}), p.height, p.width, true);
    p.count_include_pad = !max && int_attribute(n, "count_include_pad", 0) != 0;
    if (pad_) {
        if (max) fail("{}: the zero Pad '{}' before it cannot be folded: max pooling pads with -inf", where(n), pad_->node);
        const bool own_pads = p.height.pad_before || p.height.pad_after || p.width.pad_before || p.width.pad_after;
        if (!p.count_include_pad && own_pads)
            fail("{}: the zero Pad '{}' before it cannot be folded: its own pads are left out of the average "
                 "(count_include_pad 0) while the Pad's zeros count",
                 where(n), pad_->node);
        p.count_include_pad = true;  // the Pad's zeros are elements the average counts
        fold_pending_pad(n, p.height, p.width);
    }
    add_layer(n, layer_name("pool"), max ? "max_pool" : "avg_pool", p);
}

// A window over the whole image.
void Importer::global_pool(const onnx::NodeProto &n) {
    require_image(n);
    if (n.op_type() == "GlobalAveragePool") return add_layer(n, layer_name("pool"), "global_avg_pool", GlobalAvgPoolParams{});
    Pool2dParams p;
    p.kind = n.op_type() == "GlobalMaxPool" ? PoolKind::max : PoolKind::average;
    p.height.kernel = shape_[2];
    p.width.kernel = shape_[3];
    add_layer(n, layer_name("pool"), p.kind == PoolKind::max ? "max_pool" : "avg_pool", p);
}

void Importer::lrn(const onnx::NodeProto &n) {
    require_image(n);
    const int64_t size = int_attribute(n, "size", 0);
    if (size < 1 || size > 4096) fail("{}: attribute 'size' is {}, expected 1 to 4096", where(n), size);
    LrnParams p;
    p.n = int(size);
    p.window = LrnWindow::onnx;
    p.kappa = float_attribute(n, "bias", 1.0f);
    p.gamma = float_attribute(n, "alpha", 1e-4f) / float(size);  // ONNX scales the sum by alpha / size
    p.beta = float_attribute(n, "beta", 0.75f);
    add_layer(n, layer_name("norm"), "lrn", p);
}

void Importer::activation(const onnx::NodeProto &n, const std::string &kind, float alpha) {
    ActivationParams p;
    p.kind = activation_kind_from_name(where(n), kind);
    p.alpha = alpha;
    add_layer(n, layer_name(kind == "leaky_relu" ? "leaky_relu" : kind), kind, p);
}

void Importer::softmax(const onnx::NodeProto &n) {
    int64_t axis = int_attribute(n, "axis", opset_ >= 13 ? -1 : 1);
    if (axis < 0) axis += onnx_rank_;
    const long long spatial = shape_.size() == 4 ? (long long)shape_[2] * shape_[3] : 1;
    // cnngen's softmax normalizes over channels at each position. Before opset 13 ONNX's axis
    // 1 means all of C, H and W, the same only without spatial extent.
    if (axis != 1 || !(spatial == 1 || (opset_ >= 13 && onnx_rank_ >= 3)))
        fail("{}: softmax over axis {} of a rank-{} input (opset {}); cnngen's softmax is over channels (axis 1, or "
             "over (N, F) features)",
             where(n), axis, onnx_rank_, opset_);
    activation(n, "softmax", 0.0f);
}

void Importer::gemm(const onnx::NodeProto &n) {
    if (onnx_rank_ != 2)
        fail("{}: {} needs a 2-D input, this one has rank {} (a Flatten before it?)", where(n), n.op_type(), onnx_rank_);
    if (n.op_type() == "Gemm" && int_attribute(n, "transA", 0))
        fail("{}: transA = 1 puts the batch second; cnngen's batch comes first", where(n));
    const FloatTensor b = float_input(n, 1, "weight B");
    if (b.shape.size() != 2) fail("{}: B '{}' has shape {}, expected 2-D", where(n), n.input(1), shape_string(b.shape));
    const bool transposed = n.op_type() == "Gemm" && int_attribute(n, "transB", 0) != 0;
    const int features = int(element_count(shape_) / shape_[0]);
    const int rows = transposed ? b.shape[1] : b.shape[0], outputs = transposed ? b.shape[0] : b.shape[1];
    if (rows != features)
        fail("{}: B '{}' has shape {} (transB {}) for {} input features, expected {} of them", where(n), n.input(1),
             shape_string(b.shape), transposed, features, rows);
    const float alpha = float_attribute(n, "alpha", 1.0f), beta = float_attribute(n, "beta", 1.0f);
    FloatTensor weight{{outputs, features}, std::vector<float>(size_t(outputs) * size_t(features))};
    for (int o = 0; o < outputs; ++o)
        for (int k = 0; k < features; ++k)
            weight.values[size_t(o) * features + k] =
                alpha * b.values[transposed ? size_t(o) * features + k : size_t(k) * outputs + o];
    std::optional<FloatTensor> c;
    if (n.op_type() == "Gemm" && n.input_size() > 2 && !n.input(2).empty() && beta != 0.0f) c = float_input(n, 2, "bias C");
    FullyConnectedParams p;
    p.out_features = outputs;
    p.bias = c.has_value();
    const std::string name = layer_name("fc", n.input(1));
    add_layer(n, name, "fully_connected", p);
    weights_[name + ".weight"] = weight;
    if (c) {
        // A bias shared by every row folds into the layer's bias; a per-row one cannot.
        const size_t count = c->values.size();
        const bool per_output = count == size_t(outputs) && (c->shape.size() == 1 || (c->shape.size() == 2 && c->shape[0] == 1));
        if (count != 1 && !per_output)
            fail("{}: C '{}' of shape {} differs from row to row; only a scalar, [{}] or [1, {}] bias folds into a "
                 "fully_connected layer",
                 where(n), n.input(2), shape_string(c->shape), outputs, outputs);
        FloatTensor bias{{outputs}, std::vector<float>(size_t(outputs))};
        for (int o = 0; o < outputs; ++o) bias.values[size_t(o)] = beta * c->values[count == 1 ? 0 : size_t(o)];
        weights_[name + ".bias"] = bias;
        if (alpha != 1.0f || beta != 1.0f)
            notes_.push_back(fmt::format("Gemm '{}': alpha {} and beta {} folded into {}'s weights", n.name(), alpha, beta, name));
    }
    fold_target_ = int(spec_.layers.size()) - 1;
    onnx_rank_ = 2;
}

void Importer::flatten(const onnx::NodeProto &n) {
    int64_t axis = int_attribute(n, "axis", 1);
    if (axis < 0) axis += onnx_rank_;
    if (axis != 1)
        fail("{}: Flatten at axis {} of a rank-{} tensor; cnngen keeps the batch as the first dimension (axis 1)", where(n),
             axis, onnx_rank_);
    onnx_rank_ = 2;  // the next Gemm (fully_connected) flattens in the same C order
}

void Importer::reshape(const onnx::NodeProto &n) {
    const std::vector<int64_t> target = int64_tensor(*constant_input(n, 1, "shape", true), where(n) + ": shape");
    const long long features = element_count(shape_) / shape_[0];
    const auto &batch = input_->type().tensor_type().shape().dim(0);
    const bool batch_first = !target.empty() && (target[0] == 0 || target[0] == -1 ||
                                                 (batch.has_dim_value() && target[0] == batch.dim_value()));
    const bool flat = target.size() == 2 && batch_first &&
                      (target[1] == features || (target[1] == -1 && target[0] != -1) || (target[1] == 0 && onnx_rank_ == 2));
    if (!flat)
        fail("{}: Reshape to [{}]; cnngen imports the reshape to (N, {}) that flattens each sample", where(n),
             fmt::join(target, ", "), features);
    onnx_rank_ = 2;
}

void Importer::pad(const onnx::NodeProto &n) {
    require_image(n);
    const std::string mode = string_attribute(n, "mode", "constant");
    if (mode != "constant") fail("{}: Pad mode '{}'; cnngen folds only zero padding into the next layer", where(n), mode);
    std::vector<int64_t> pads;
    float value = 0.0f;
    if (n.input_size() > 3 && !n.input(3).empty())
        fail("{}: Pad's axes input (opset 18) is not supported; give pads for every axis", where(n));
    if (opset_ >= 11) {
        pads = int64_tensor(*constant_input(n, 1, "pads", true), where(n) + ": pads");
        if (const onnx::TensorProto *v = constant_input(n, 2, "constant_value", false)) {
            const FloatTensor t = float_tensor(*v, where(n) + ": constant_value");
            if (t.values.size() != 1) fail("{}: constant_value has {} values, expected 1", where(n), t.values.size());
            value = t.values[0];
        }
    } else {
        pads = ints_attribute(n, "pads", {});
        value = float_attribute(n, "value", 0.0f);
    }
    if (value != 0.0f) fail("{}: Pad value {}; cnngen folds only zero padding into the next layer", where(n), value);
    const int rank = onnx_rank_;
    if (pads.size() != size_t(2 * rank)) fail("{}: {} pads for a rank-{} tensor, expected {}", where(n), pads.size(), rank, 2 * rank);
    for (int64_t v : pads)
        if (v < 0 || v > 65536) fail("{}: pad {} out of range (cnngen folds non-negative padding)", where(n), v);
    if (pads[0] || pads[1] || pads[size_t(rank)] || pads[size_t(rank) + 1])
        fail("{}: pads [{}] pad the batch or channel dimension; only H and W can be folded", where(n), fmt::join(pads, ", "));
    PendingPad p = pad_.value_or(PendingPad{});
    const std::string label = n.name().empty() ? "(unnamed)" : n.name();
    p.node = pad_ ? pad_->node + "' and '" + label : label;
    if (one_d_) {
        p.left += int(pads[2]), p.right += int(pads[5]);
    } else {
        p.top += int(pads[2]), p.left += int(pads[3]), p.bottom += int(pads[6]), p.right += int(pads[7]);
    }
    pad_ = p;
}

void Importer::batch_norm(const onnx::NodeProto &n) {
    if (int_attribute(n, "training_mode", 0) != 0)
        fail("{}: training_mode 1 normalizes with the batch's statistics; cnngen imports BatchNormalization for "
             "inference (running statistics)",
             where(n));
    for (int k = 1; k < n.output_size(); ++k)
        if (used(n.output(k)))
            fail("{}: output '{}' (running statistics in training mode) is used; cnngen imports BatchNormalization for inference",
                 where(n), n.output(k));
    if (int_attribute(n, "spatial", 1) != 1) fail("{}: spatial 0 (per-position statistics) is not supported", where(n));
    const FloatTensor scale = float_input(n, 1, "scale"), shift = float_input(n, 2, "B"), mean = float_input(n, 3, "mean"),
                      variance = float_input(n, 4, "var");
    const float epsilon = float_attribute(n, "epsilon", 1e-5f);
    const int channels = shape_.at(1);
    for (const FloatTensor *t : {&scale, &shift, &mean, &variance})
        if (t->values.size() != size_t(channels))
            fail("{}: scale, B, mean and var must have {} values (the input's channels), one has shape {}", where(n),
                 channels, shape_string(t->shape));
    // y = (x - mean) * factor + shift, factor = scale / sqrt(var + epsilon).
    std::vector<float> factor(static_cast<size_t>(channels)), offset(static_cast<size_t>(channels));
    for (size_t c = 0; c < size_t(channels); ++c) {
        factor[c] = scale.values[c] / std::sqrt(variance.values[c] + epsilon);
        offset[c] = shift.values[c] - mean.values[c] * factor[c];
    }
    std::string folded_into;
    // Folding changes the conv's output for every reader: only where this is its one reader.
    // (and only straight after it: an Identity between could have other readers of the conv).
    auto producer = producers_.find(n.input(0));
    const bool direct = producer != producers_.end() &&
                        (node(producer->second).op_type() == "Conv" || node(producer->second).op_type() == "Gemm" ||
                         node(producer->second).op_type() == "MatMul");
    const bool sole_reader = direct && consumers_[n.input(0)].size() == 1 && !graph_outputs_.count(n.input(0));
    if (fold_target_ >= 0 && sole_reader) {
        LayerSpec &target = spec_.layers[size_t(fold_target_)];
        FloatTensor &weight = weights_[target.name + ".weight"];
        const size_t per_output = weight.values.size() / size_t(channels);
        for (size_t o = 0; o < size_t(channels); ++o)
            for (size_t k = 0; k < per_output; ++k) weight.values[o * per_output + k] *= factor[o];
        auto bias = weights_.find(target.name + ".bias");
        FloatTensor folded{{channels}, offset};
        if (bias != weights_.end())
            for (size_t o = 0; o < size_t(channels); ++o) folded.values[o] += bias->second.values[o] * factor[o];
        weights_[target.name + ".bias"] = folded;
        std::visit(
            [](auto &p) {
                if constexpr (std::is_same_v<std::decay_t<decltype(p)>, Conv2dParams> ||
                              std::is_same_v<std::decay_t<decltype(p)>, FullyConnectedParams>)
                    p.bias = true;
            },
            target.params);
        folded_into = target.name;
    } else {
        // Alone (after a join or an activation, as DenseNet's): a batch_norm layer with
        // PyTorch's tensors.
        BatchNormParams p;
        p.epsilon = epsilon;
        p.momentum = 1.0f - float_attribute(n, "momentum", 0.9f);  // ONNX's weighs the running value
        const std::string name = layer_name("bn", n.input(1));
        add_layer(n, name, "batch_norm", p);
        weights_[name + ".weight"] = {{channels}, scale.values};
        weights_[name + ".bias"] = {{channels}, shift.values};
        weights_[name + ".running_mean"] = {{channels}, mean.values};
        weights_[name + ".running_var"] = {{channels}, variance.values};
        return;
    }
    notes_.push_back(fmt::format("BatchNormalization '{}' folded into {}", n.name(), folded_into));
    if (spec_.inference_only.empty())
        spec_.inference_only = fmt::format(
            "BatchNormalization '{}' was folded into {} for inference; training would train the folded weights, not "
            "BatchNormalization's",
            n.name(), folded_into);
}

void Importer::dropout(const onnx::NodeProto &n) {
    if (const onnx::TensorProto *training = constant_input(n, 2, "training_mode", false))
        if (bool_scalar(*training, where(n) + ": training_mode"))
            fail("{}: training_mode is true; cnngen imports Dropout as the identity of inference", where(n));
    if (n.output_size() > 1 && used(n.output(1)))
        fail("{}: its mask output '{}' is used; cnngen imports Dropout as the identity of inference", where(n), n.output(1));
}

void Importer::visit(const onnx::NodeProto &n) {
    const std::string &op = n.op_type();
    if (!n.domain().empty() && n.domain() != "ai.onnx")
        fail("{}: operator domain '{}' is not supported; cnngen imports {}", where(n), n.domain(), kSupported);
    if (pad_ && op != "Conv" && op != "AveragePool" && op != "MaxPool" && op != "Pad" && op != "Identity" && op != "Dropout")
        fail("{}: the zero Pad '{}' before it can only fold into a Conv or AveragePool", where(n), pad_->node);
    if (op == "Conv") conv(n);
    else if (op == "MaxPool" || op == "AveragePool") pool(n);
    else if (op == "LRN") lrn(n);
    else if (op == "Relu") activation(n, "relu", 0.0f);
    else if (op == "LeakyRelu") activation(n, "leaky_relu", float_attribute(n, "alpha", 0.01f));
    else if (op == "Sigmoid") activation(n, "sigmoid", 0.0f);
    else if (op == "Tanh") activation(n, "tanh", 0.0f);
    else if (op == "Elu") activation(n, "elu", float_attribute(n, "alpha", 1.0f));
    else if (op == "Softmax") softmax(n);
    else if (op == "Clip") clip(n);
    else if (op == "HardSwish") activation(n, "hardswish", 0.0f);
    else if (op == "Gemm" || op == "MatMul") gemm(n);  // MatMul: PyTorch's Linear without bias
    else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") global_pool(n);
    else if (op == "Flatten") flatten(n);
    else if (op == "Reshape") reshape(n);
    else if (op == "Pad") pad(n);
    else if (op == "BatchNormalization") batch_norm(n);
    else if (op == "Dropout") dropout(n);
    else if (op != "Identity")
        fail("{}: operator {} is not supported; cnngen imports {}", where(n), op, kSupported);
}

ImportedModel Importer::run(const std::string &name) {
    index_graph();
    read_input();
    values_[input_->name()] = {kImagesName, shape_, onnx_rank_, -1, {}};
    // Every node in order on the values it reads, as the current activation's state: one layer
    // (or none: Flatten, Identity, a Pad waiting to fold) per node.
    for (int k : order_) {
        const onnx::NodeProto &n = node(k);
        if (n.op_type() == "Constant" || (n.op_type() == "Identity" && constants_.count(n.output(0)))) continue;
        std::vector<std::string> data;
        for (int i = 0; i < n.input_size(); ++i)
            if (values_.count(n.input(i))) data.push_back(n.input(i));
        if (data.empty()) {
            const bool on_constants = std::all_of(n.input().begin(), n.input().end(), [&](const std::string &in) {
                return in.empty() || constants_.count(in);
            });
            if (on_constants)
                fail("{}: computes on constants only (a Transpose of weights, say); its result must be an initializer "
                     "or a Constant: cnngen bakes weights in and computes only what the images flow through",
                     where(n));
            fail("{}: not computed from the graph's input '{}'; cnngen imports what the images flow through",
                 where(n), input_->name());
        }
        if (n.output_size() < 1 || n.output(0).empty()) fail("{}: no output", where(n));
        const ImportedValue &in = values_.at(data[0]);
        layer_ = in.layer;
        shape_ = in.shape;
        onnx_rank_ = in.onnx_rank;
        fold_target_ = in.fold_target;
        pad_ = in.pad;
        if (n.op_type() == "Add" || n.op_type() == "Sum" || n.op_type() == "Concat") {
            join(n, data);
        } else {
            if (n.input(0) != data[0]) fail("{}: takes the data '{}' as input other than its first", where(n), data[0]);
            if (data.size() > 1) fail("{}: takes the data '{}' as its input {} too", where(n), data[1], 1);
            visit(n);
        }
        values_[n.output(0)] = {layer_, shape_, onnx_rank_, fold_target_, pad_};
    }
    for (int k : order_)  // a computed value nothing reads would be a layer the output does not need
        if (values_.count(node(k).output(0)) && !used(node(k).output(0)))
            fail("{}: its output '{}' is never used: a dangling branch; cnngen builds one output, what every "
                 "other value flows into",
                 where(node(k)), node(k).output(0));
    if (graph_.output_size() != 1 || !values_.count(graph_.output(0).name()))
        fail("{}: the graph's outputs are [{}], expected exactly one value computed from the images", path_,
             fmt::join([&] {
                 std::vector<std::string> names;
                 for (const auto &o : graph_.output()) names.push_back("'" + o.name() + "'");
                 return names;
             }(),
                       ", "));
    const ImportedValue &output = values_.at(graph_.output(0).name());
    pad_ = output.pad;
    if (!spec_.layers.empty() && output.layer != spec_.layers.back().name)
        fail("{}: the graph's output '{}' is computed by layer '{}', not by the last node's layer '{}'; cnngen's "
             "output is its last layer",
             path_, graph_.output(0).name(), output.layer, spec_.layers.back().name);
    if (pad_) fail("{}: the zero Pad '{}' ends the graph; there is no layer to fold it into", path_, pad_->node);
    if (spec_.layers.empty())
        fail("{}: the graph has no layer cnngen can build (only Identity, Dropout, Flatten or Reshape)", path_);

    spec_.name = name.empty() ? identifier_for(fs::path(path_).stem().string()) : name;
    if (!is_c_identifier(spec_.name))
        fail("{}: model name '{}' is not a C identifier; give one with --name", path_, spec_.name);
    spec_.path = spec_.name + ".toml";
    spec_.description = fmt::format("imported from {}", fs::path(path_).filename().string());
    std::vector<std::string> header = {
        fmt::format("Written by `cnngen import {}`: producer {} {}, opset {}.", fs::path(path_).filename().string(),
                    model_.producer_name().empty() ? "unknown" : model_.producer_name(), model_.producer_version(), opset_)};
    if (one_d_) header.push_back("The input is (N, C, L) in ONNX: height 1 here, the 1-D windows run along the width.");
    for (const std::string &note : notes_) header.push_back(note + ".");
    ImportedModel out;
    out.spec_text = model_spec_text(spec_, header);
    out.spec = parse_model_spec(out.spec_text, spec_.path);
    // The weights must be exactly the parameters the spec plans.
    const ModelPlan plan = plan_model(out.spec, {false});
    if (plan.parameters.size() != weights_.size())
        fail("{}: internal error: {} weights imported for {} parameters", path_, weights_.size(), plan.parameters.size());
    for (const ParameterInfo &p : plan.parameters) {
        auto it = weights_.find(p.name);
        if (it == weights_.end() || element_count(it->second.shape) != element_count(p.shape))
            fail("{}: the weights imported for '{}' do not have its shape {}", path_, p.name, shape_string(p.shape));
        it->second.shape = p.shape;
    }
    out.weights = std::move(weights_);
    return out;
}

}  // namespace

ImportedModel import_onnx(const onnx::ModelProto &model, const std::string &path, const std::string &name) {
    return Importer(model, path).run(name);
}

ImportedModel import_onnx_file(const std::string &path, const std::string &name) {
    return import_onnx(read_onnx_model(path), path, name);
}

void write_imported_model(const ImportedModel &model, const std::string &dir) {
    fs::create_directories(dir);
    const fs::path weights = fs::path(dir) / "weights", staging = fs::path(dir) / "weights.partial";
    fs::remove_all(staging);
    fs::create_directories(staging);
    for (const auto &[name, tensor] : model.weights) write_npy((staging / (name + ".npy")).string(), tensor.shape, tensor.values.data());
    const fs::path spec = fs::path(dir) / (model.spec.name + ".toml"), spec_partial = spec.string() + ".partial";
    {
        std::ofstream file(spec_partial);
        file << model.spec_text;
        if (!file.flush()) fail("{}: cannot write", spec_partial.string());
    }
    fs::remove_all(weights);
    fs::rename(staging, weights);
    fs::rename(spec_partial, spec);
}

}  // namespace cnngen
