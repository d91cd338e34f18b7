#include "spec.h"

#include "../layers/errors.h"
#include "../training/differentiable_forms.h"
#include "plan.h"
#include "toml_fields.h"

#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace cnngen {

namespace {

// kernel/stride/dilation as (h, w); padding as one value, (h, w), (top, bottom, left, right)
// or a mode ("valid", "same", "same_lower", "full") resolved once the input's size is known.
void read_window(const Fields &f, Window1d &height, Window1d &width, int default_kernel, int default_stride) {
    auto kernel = f.integers("kernel", {2}, default_kernel > 0 ? std::optional<int>(default_kernel) : std::nullopt, 1);
    auto stride = f.integers("stride", {2}, default_stride > 0 ? default_stride : kernel[0], 1);
    auto dilation = f.integers("dilation", {2}, 1, 1);
    height.kernel = kernel[0];
    width.kernel = kernel[1];
    height.stride = stride[0];
    width.stride = stride[1];
    height.dilation = dilation[0];
    width.dilation = dilation[1];
    std::vector<int> pad{0, 0, 0, 0};
    if (auto mode_name = f.maybe_string("padding")) {
        height.padding_mode = width.padding_mode = padding_mode_from_name(f.where(), *mode_name);
    } else {
        auto values = f.integers("padding", {1, 2, 4}, 0, 0);
        if (values.size() == 1) pad = {values[0], values[0], values[0], values[0]};
        if (values.size() == 2) pad = {values[0], values[0], values[1], values[1]};
        if (values.size() == 4) pad = values;
    }
    height.pad_before = pad[0];
    height.pad_after = pad[1];
    width.pad_before = pad[2];
    width.pad_after = pad[3];
}

LayerSpec parse_layer(const toml::table &table, const std::string &where) {
    Fields f(table, where);
    LayerSpec layer;
    layer.kind = f.string("kind");
    const std::string &kind = layer.kind;
    const std::set<std::string> window_fields{"name", "kind", "kernel", "stride", "padding"};
    if (kind == "conv2d") {
        Conv2dParams p;
        p.out_channels = f.integer("out_channels");
        read_window(f, p.height, p.width, 0, 1);
        p.groups = f.integer("groups", 1);
        p.bias = f.boolean("bias", true);
        const std::string mode = f.string("mode", std::string("cross_correlation"));
        if (mode != "cross_correlation" && mode != "convolution")
            fail("{}: field 'mode' is '{}', expected cross_correlation or convolution", where, mode);
        p.flip_kernel = mode == "convolution";
        f.reject_unknown({"name", "kind", "inputs", "out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias", "mode"});
        layer.params = p;
    } else if (kind == "max_pool" || kind == "avg_pool" || kind == "p_norm_pool") {
        Pool2dParams p;
        p.kind = kind == "max_pool" ? PoolKind::max : kind == "avg_pool" ? PoolKind::average : PoolKind::p_norm;
        read_window(f, p.height, p.width, 0, 0);
        p.height.ceil_mode = p.width.ceil_mode = f.boolean("ceil_mode", false);
        p.count_include_pad = f.boolean("count_include_pad", true);
        p.p = f.number("p", 2.0f);
        f.reject_unknown({"name", "kind", "inputs", "kernel", "stride", "padding", "dilation", "ceil_mode", "count_include_pad", "p"});
        layer.params = p;
    } else if (kind == "relu" || kind == "leaky_relu" || kind == "sigmoid" || kind == "tanh" || kind == "elu" ||
               kind == "softmax" || kind == "clip" || kind == "relu6" || kind == "hardswish") {
        ActivationParams p;
        p.kind = activation_kind_from_name(where, kind);
        p.alpha = f.number("alpha", kind == "elu" ? 1.0f : 0.01f);
        if (kind == "clip") {
            p.min = f.number("min", 0.0f);
            p.max = f.number("max", 6.0f);
            if (!(p.min <= p.max)) fail("{}: clip's min {} is above its max {}", where, p.min, p.max);
            f.reject_unknown({"name", "kind", "inputs", "min", "max"});
        } else {
            f.reject_unknown({"name", "kind", "inputs", "alpha"});
        }
        layer.params = p;
    } else if (kind == "lrn") {
        LrnParams p;
        p.kind = lrn_kind_from_name(where, f.string("region", std::string("inter_channel")));
        if (table.contains("size")) {  // ONNX's and PyTorch's window, n wide
            if (table.contains("n")) fail("{}: fields 'n' and 'size' both given; 'n' is the notes' window, 'size' ONNX's", where);
            p.n = f.integer("size");
            p.window = LrnWindow::onnx;
        } else {
            p.n = f.integer("n", 5);
        }
        p.kappa = f.number("kappa", 2.0f);
        p.gamma = f.number("gamma", 1e-4f);
        p.beta = f.number("beta", 0.75f);
        f.reject_unknown({"name", "kind", "inputs", "region", "n", "size", "kappa", "gamma", "beta"});
        layer.params = p;
    } else if (kind == "fully_connected") {
        FullyConnectedParams p;
        p.out_features = f.integer("out_features");
        p.bias = f.boolean("bias", true);
        f.reject_unknown({"name", "kind", "inputs", "out_features", "bias"});
        layer.params = p;
    } else if (kind == "add") {
        AddParams p;
        if (auto name = f.maybe_string("activation")) {
            ActivationParams a;
            a.kind = activation_kind_from_name(where, *name);
            a.alpha = a.kind == ActivationKind::elu ? 1.0f : 0.01f;  // the standalone layers' defaults
            if (a.kind == ActivationKind::softmax) fail("{}: field 'activation' must be element-wise, not softmax", where);
            p.activation = a;
        }
        f.reject_unknown({"name", "kind", "inputs", "activation"});
        layer.params = p;
    } else if (kind == "concat") {
        f.reject_unknown({"name", "kind", "inputs"});
        layer.params = ConcatParams{};
    } else if (kind == "batch_norm") {
        BatchNormParams p;
        p.epsilon = f.number("epsilon", 1e-5f);
        p.momentum = f.number("momentum", 0.1f);
        f.reject_unknown({"name", "kind", "inputs", "epsilon", "momentum"});
        layer.params = p;
    } else if (kind == "dropout") {
        DropoutParams p;
        p.p = f.number("p", 0.5f);
        if (!(p.p >= 0.0f && p.p < 1.0f)) fail("{}: field 'p' is {}, expected a probability in [0, 1)", where, p.p);
        f.reject_unknown({"name", "kind", "inputs", "p"});
        layer.params = p;
    } else if (kind == "global_avg_pool") {
        f.reject_unknown({"name", "kind", "inputs"});
        layer.params = GlobalAvgPoolParams{};
    } else {
        fail("{}: unknown layer kind '{}', expected one of conv2d, max_pool, avg_pool, p_norm_pool, global_avg_pool, "
             "relu, leaky_relu, sigmoid, tanh, elu, softmax, clip, relu6, hardswish, lrn, fully_connected, add, concat, "
             "batch_norm, dropout",
             where, kind);
    }
    layer.inputs = f.strings("inputs");
    return layer;
}

// Which layers read layer `k` of `layers`, by position.
std::vector<std::vector<size_t>> readers_by_position(const std::vector<LayerSpec> &layers,
                                                     const std::map<std::string, size_t> &position) {
    std::vector<std::vector<size_t>> readers(layers.size());
    for (size_t k = 0; k < layers.size(); ++k)
        for (const std::string &input : layers[k].inputs)
            if (input != kImagesName) readers[position.at(input)].push_back(k);
    return readers;
}

// A cycle among the layers Kahn's algorithm could not order, as "a reads b, b reads a".
std::string describe_cycle(const std::vector<LayerSpec> &layers, const std::map<std::string, size_t> &position,
                           const std::vector<int> &unordered_inputs) {
    size_t at = 0;
    while (unordered_inputs[at] == 0) ++at;
    // Walk back along unordered inputs until a layer repeats: every step has one.
    std::vector<size_t> walk;
    std::map<size_t, size_t> seen;
    while (!seen.count(at)) {
        seen[at] = walk.size();
        walk.push_back(at);
        for (const std::string &input : layers[at].inputs)
            if (input != kImagesName && unordered_inputs[position.at(input)] > 0) {
                at = position.at(input);
                break;
            }
    }
    std::vector<std::string> steps;
    for (size_t k = seen[at]; k < walk.size(); ++k)
        steps.push_back(fmt::format("'{}' reads '{}'", layers[walk[k]].name,
                                    layers[k + 1 < walk.size() ? walk[k + 1] : at].name));
    return fmt::format("{}", fmt::join(steps, ", "));
}

// Fills in the default inputs (the layer before in the file, the images for the first) and puts
// every layer after the layers it reads, keeping the file's order where it can (the first
// ready layer in the file goes next).
void order_layers(ModelSpec &spec) {
    std::vector<LayerSpec> &layers = spec.layers;
    std::map<std::string, size_t> position;
    for (size_t k = 0; k < layers.size(); ++k) position[layers[k].name] = k;
    std::vector<int> unordered_inputs(layers.size(), 0);
    for (size_t k = 0; k < layers.size(); ++k) {
        LayerSpec &l = layers[k];
        if (l.inputs.empty()) l.inputs = {k ? layers[k - 1].name : kImagesName};
        for (const std::string &input : l.inputs) {
            if (input == kImagesName) continue;
            if (!position.count(input))
                fail("{}: layer '{}' (#{}): input '{}' is not a layer of this model (inputs name layers, or \"{}\" "
                     "for the images)",
                     spec.path, l.name, k + 1, input, kImagesName);
            ++unordered_inputs[k];
        }
    }
    const std::vector<std::vector<size_t>> readers = readers_by_position(layers, position);
    std::set<size_t> ready;
    for (size_t k = 0; k < layers.size(); ++k)
        if (unordered_inputs[k] == 0) ready.insert(k);
    std::vector<LayerSpec> ordered;
    while (!ready.empty()) {
        const size_t next = *ready.begin();
        ready.erase(ready.begin());
        ordered.push_back(layers[next]);
        for (size_t reader : readers[next])
            if (--unordered_inputs[reader] == 0) ready.insert(reader);
    }
    if (ordered.size() < layers.size())
        fail("{}: layers form a cycle: {}; a layer can read only layers computed before it", spec.path,
             describe_cycle(layers, position, unordered_inputs));
    layers = std::move(ordered);
}

}  // namespace

std::vector<std::vector<int>> layer_input_indices(const ModelSpec &spec) {
    std::map<std::string, int> activation{{kImagesName, 0}};
    std::vector<std::vector<int>> indices;
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        const LayerSpec &l = spec.layers[k];
        std::vector<int> own;
        if (l.inputs.empty()) own.push_back(int(k));  // the layer before
        for (const std::string &input : l.inputs) {
            auto it = activation.find(input);
            if (it == activation.end())
                fail("{}: layer '{}' (#{}): input '{}' is not a layer computed before it", spec.path, l.name, k + 1,
                     input);
            own.push_back(it->second);
        }
        indices.push_back(own);
        activation[l.name] = int(k) + 1;
    }
    return indices;
}

const char *parameter_init_name(ParameterInit init) {
    switch (init) {
    case ParameterInit::fan_in_uniform: return "fan_in_uniform";
    case ParameterInit::ones: return "ones";
    case ParameterInit::zeros: return "zeros";
    }
    return "?";
}

std::string describe_inputs(const std::vector<Shape> &shapes, const std::vector<std::string> &names) {
    std::vector<std::string> parts;
    for (size_t k = 0; k < shapes.size(); ++k)
        parts.push_back(fmt::format("{} from '{}'", shape_string(shapes[k]), k < names.size() ? names[k] : "?"));
    return fmt::format("input {}", fmt::join(parts, ", "));
}

bool is_c_identifier(const std::string &name) { return std::regex_match(name, std::regex("[A-Za-z][A-Za-z0-9_]*")); }

std::string identifier_for(const std::string &name) {
    std::string id = name;
    for (char &ch : id)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return id;
}

ModelSpec parse_model_spec(const std::string &text, const std::string &path) {
    // Specs are ASCII: toml++ 3.3 reaches an unreachable branch (undefined behaviour) on
    // some non-ASCII code points, found by fuzzing; reject them before it sees them.
    int line = 1, column = 1;
    for (unsigned char ch : text) {
        if (ch >= 0x80 || (ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r'))
            fail("{}:{}:{}: byte 0x{:02x} is not printable ASCII; model specs are ASCII text", path, line, column, ch);
        if (ch == '\n') ++line, column = 1;
        else ++column;
    }
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error &e) {
        fail("{}:{}:{}: TOML syntax error: {}", path, e.source().begin.line, e.source().begin.column, e.description());
    }
    ModelSpec spec;
    spec.path = path;
    Fields top(root, path);
    top.reject_unknown({"name", "description", "input", "build", "loss", "layers"});
    spec.name = top.string("name");
    spec.description = top.string("description", std::string());
    if (!is_c_identifier(spec.name))
        fail("{}: field 'name' is '{}', expected a C identifier (letters, digits, _)", path, spec.name);

    const toml::table *input = root["input"].as_table();
    if (!input) fail("{}: table [input] missing (channels, height, width)", path);
    Fields in(*input, path + ": [input]");
    in.reject_unknown({"channels", "height", "width"});
    spec.input = {in.integer("channels"), in.integer("height"), in.integer("width")};

    const toml::table empty;
    const toml::table *build = root["build"].as_table();
    Fields b(build ? *build : empty, path + ": [build]");
    b.reject_unknown({"batch_sizes", "train_batch", "inference_only"});
    spec.batch_sizes = b.has("batch_sizes") ? b.integers("batch_sizes", {1, 2, 3, 4, 5, 6, 7, 8}, 1, 1)
                                            : std::vector<int>{1, 64, 256};
    std::sort(spec.batch_sizes.begin(), spec.batch_sizes.end());
    spec.batch_sizes.erase(std::unique(spec.batch_sizes.begin(), spec.batch_sizes.end()), spec.batch_sizes.end());
    spec.train_batch = b.integer("train_batch", 64);
    if (build && build->contains("inference_only")) {  // true, or the reason as a string
        const toml::node &value = *build->get("inference_only");
        if (value.is_boolean()) spec.inference_only = *value.value<bool>() ? "its spec says [build] inference_only" : "";
        else if (value.is_string()) spec.inference_only = *value.value<std::string>();
        else fail("{}: [build] field 'inference_only' must be true, false or a string giving the reason", path);
    }

    const toml::table *loss = root["loss"].as_table();
    Fields l(loss ? *loss : empty, path + ": [loss]");
    l.reject_unknown({"kind", "margin", "delta"});
    spec.loss.kind = loss_kind_from_name(path + ": [loss]", l.string("kind", std::string("softmax_cross_entropy")));
    if (!loss_takes_labels(spec.loss.kind))
        fail("{}: [loss] kind must take class labels (softmax_cross_entropy or hinge) to train on IDX data", path);
    spec.loss.margin = l.number("margin", 1.0f);
    spec.loss.delta = l.number("delta", 1.0f);

    const toml::array *layers = root["layers"].as_array();
    if (!layers || layers->empty()) fail("{}: no [[layers]] given", path);
    std::set<std::string> names;
    for (size_t k = 0; k < layers->size(); ++k) {
        const toml::table *table = (*layers)[k].as_table();
        if (!table) fail("{}: layers[{}] is not a table", path, k);
        std::string name = Fields(*table, fmt::format("{}: layer #{}", path, k + 1)).string("name");
        if (!is_c_identifier(name))
            fail("{}: layer #{} name '{}' must be a C identifier", path, k + 1, name);
        if (!names.insert(name).second) fail("{}: layer #{} name '{}' used twice", path, k + 1, name);
        if (name == kImagesName)
            fail("{}: layer #{} is named '{}', which names the images in `inputs`; rename it", path, k + 1, name);
        LayerSpec layer = parse_layer(*table, fmt::format("{}: layer '{}' (#{})", path, name, k + 1));
        layer.name = name;
        spec.layers.push_back(layer);
    }
    order_layers(spec);
    // Shapes must meet and fit; every branch must reach the output.
    plan_model(spec, {/*training=*/false});
    return spec;
}

ModelSpec load_model_spec(const std::string &path) {
    std::ifstream file(path);
    if (!file) fail("{}: cannot open model spec", path);
    std::stringstream text;
    text << file.rdbuf();
    return parse_model_spec(text.str(), path);
}

Layer build_layer(const ModelSpec &spec, size_t index, const std::vector<Tensor> &inputs, const ParamSource &source,
                  AlgorithmForm form, NetworkMode mode) {
    const LayerSpec &l = spec.layers.at(index);
    const std::string where = fmt::format("{}: layer '{}' (#{})", spec.path, l.name, index + 1);
    try {
        return std::visit(
            [&](const auto &p) -> Layer {
                using P = std::decay_t<decltype(p)>;
                if constexpr (std::is_same_v<P, AddParams>) return add(l.name, inputs, p);
                else if constexpr (std::is_same_v<P, ConcatParams>) return concat(l.name, inputs, p);
                else {
                    if (inputs.size() != 1) fail("{} takes one input, {} given", l.kind, inputs.size());
                    const Tensor &input = inputs[0];
                    if constexpr (std::is_same_v<P, Conv2dParams>) return conv2d(l.name, input, p, source, form);
                    else if constexpr (std::is_same_v<P, Pool2dParams>) return pool2d(l.name, input, p);
                    else if constexpr (std::is_same_v<P, GlobalAvgPoolParams>) return global_avg_pool(l.name, input);
                    else if constexpr (std::is_same_v<P, ActivationParams>) return activation(l.name, input, p);
                    else if constexpr (std::is_same_v<P, LrnParams>) return lrn(l.name, input, p);
                    else if constexpr (std::is_same_v<P, BatchNormParams>)
                        return mode == NetworkMode::training ? batch_norm_training(l.name, input, p, source)
                                                             : batch_norm(l.name, input, p, source);
                    else if constexpr (std::is_same_v<P, DropoutParams>) return dropout(l.name, input, p);
                    else if (form == AlgorithmForm::differentiable)
                        return fully_connected_differentiable(l.name, input, p, source);
                    else return fully_connected(l.name, input, p, source);
                }
            },
            l.params);
    } catch (const ConfigError &e) {
        std::vector<Shape> shapes;
        for (const Tensor &t : inputs) shapes.push_back(t.shape);
        fail("{}: {}: {}", where, describe_inputs(shapes, l.inputs), e.what());
    }
}

Network build_network(const ModelSpec &spec, const Tensor &input, const ParamSource &source, AlgorithmForm form,
                      NetworkMode mode) {
    return build_network_part(spec, 0, spec.layers.size(), {{0, input}}, source, form, mode);
}

Network build_network_part(const ModelSpec &spec, size_t first, size_t end, const std::map<int, Tensor> &given,
                           const ParamSource &source, AlgorithmForm form, NetworkMode mode) {
    Network net;
    net.inputs = layer_input_indices(spec);
    net.inputs.erase(net.inputs.begin() + std::ptrdiff_t(end), net.inputs.end());
    net.inputs.erase(net.inputs.begin(), net.inputs.begin() + std::ptrdiff_t(first));
    net.activations.resize(end + 1);
    for (const auto &[index, tensor] : given) net.activations.at(size_t(index)) = tensor;
    for (size_t k = first; k < end; ++k) {
        std::vector<Tensor> inputs;
        for (int a : net.inputs[k - first]) {
            if (!net.activations.at(size_t(a)).func.defined())
                fail("internal error: layer '{}' reads activation {}, which the part given [{}, {}) lacks",
                     spec.layers[k].name, a, first, end);
            inputs.push_back(net.activations[size_t(a)]);
        }
        Layer layer = build_layer(spec, k, inputs, source, form, mode);
        net.activations[k + 1] = layer.output;
        net.layers.push_back(layer);
    }
    net.output = net.activations.back();
    return net;
}

}  // namespace cnngen
