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
        f.reject_unknown({"name", "kind", "out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias", "mode"});
        layer.params = p;
    } else if (kind == "max_pool" || kind == "avg_pool" || kind == "p_norm_pool") {
        Pool2dParams p;
        p.kind = kind == "max_pool" ? PoolKind::max : kind == "avg_pool" ? PoolKind::average : PoolKind::p_norm;
        read_window(f, p.height, p.width, 0, 0);
        p.height.ceil_mode = p.width.ceil_mode = f.boolean("ceil_mode", false);
        p.count_include_pad = f.boolean("count_include_pad", true);
        p.p = f.number("p", 2.0f);
        f.reject_unknown({"name", "kind", "kernel", "stride", "padding", "dilation", "ceil_mode", "count_include_pad", "p"});
        layer.params = p;
    } else if (kind == "relu" || kind == "leaky_relu" || kind == "sigmoid" || kind == "tanh" || kind == "elu" ||
               kind == "softmax") {
        ActivationParams p;
        p.kind = activation_kind_from_name(where, kind);
        p.alpha = f.number("alpha", kind == "elu" ? 1.0f : 0.01f);
        f.reject_unknown({"name", "kind", "alpha"});
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
        f.reject_unknown({"name", "kind", "region", "n", "size", "kappa", "gamma", "beta"});
        layer.params = p;
    } else if (kind == "fully_connected") {
        FullyConnectedParams p;
        p.out_features = f.integer("out_features");
        p.bias = f.boolean("bias", true);
        f.reject_unknown({"name", "kind", "out_features", "bias"});
        layer.params = p;
    } else {
        fail("{}: unknown layer kind '{}', expected one of conv2d, max_pool, avg_pool, p_norm_pool, relu, leaky_relu, "
             "sigmoid, tanh, elu, softmax, lrn, fully_connected",
             where, kind);
    }
    return layer;
}

}  // namespace

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
        LayerSpec layer = parse_layer(*table, fmt::format("{}: layer '{}' (#{})", path, name, k + 1));
        layer.name = name;
        spec.layers.push_back(layer);
    }
    // Shapes must chain and fit.
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

Layer build_layer(const ModelSpec &spec, size_t index, const Tensor &input, const ParamSource &source, AlgorithmForm form) {
    const LayerSpec &l = spec.layers.at(index);
    const std::string where = fmt::format("{}: layer '{}' (#{})", spec.path, l.name, index + 1);
    const std::string from = index ? spec.layers[index - 1].name : "input";
    try {
        return std::visit(
            [&](const auto &p) -> Layer {
                using P = std::decay_t<decltype(p)>;
                if constexpr (std::is_same_v<P, Conv2dParams>) return conv2d(l.name, input, p, source, form);
                else if constexpr (std::is_same_v<P, Pool2dParams>) return pool2d(l.name, input, p);
                else if constexpr (std::is_same_v<P, ActivationParams>) return activation(l.name, input, p);
                else if constexpr (std::is_same_v<P, LrnParams>) return lrn(l.name, input, p);
                else if (form == AlgorithmForm::differentiable)
                    return fully_connected_differentiable(l.name, input, p, source);
                else return fully_connected(l.name, input, p, source);
            },
            l.params);
    } catch (const ConfigError &e) {
        fail("{}: input {} from '{}': {}", where, shape_string(input.shape), from, e.what());
    }
}

Network build_network(const ModelSpec &spec, const Tensor &input, const ParamSource &source, AlgorithmForm form) {
    Network net;
    Tensor current = input;
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        Layer layer = build_layer(spec, k, current, source, form);
        current = layer.output;
        net.layers.push_back(layer);
    }
    net.output = current;
    return net;
}

}  // namespace cnngen
