#include "spec_writer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cnngen {

namespace {

// Specs are printable ASCII (the parser refuses anything else): free text from elsewhere (ONNX
// node and file names) keeps its printable ASCII, the rest becomes '?'.
std::string printable(const std::string &text) {
    std::string out = text;
    for (char &ch : out)
        if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
    return out;
}

// A TOML basic string.
std::string quoted(const std::string &text) {
    std::string out = "\"";
    for (char ch : printable(text)) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    return out + "\"";
}

// One value when height and width agree, else [h, w].
std::string pair(int h, int w) { return h == w ? fmt::format("{}", h) : fmt::format("[{}, {}]", h, w); }

void write_window(std::string &out, const Window1d &h, const Window1d &w, bool stride_always) {
    out += fmt::format("kernel = {}\n", pair(h.kernel, w.kernel));
    if (stride_always || h.stride != 1 || w.stride != 1) out += fmt::format("stride = {}\n", pair(h.stride, w.stride));
    if (h.padding_mode != PaddingMode::explicit_pads) {
        out += fmt::format("padding = \"{}\"\n", padding_mode_name(h.padding_mode));
    } else if (h.pad_before != h.pad_after || w.pad_before != w.pad_after) {
        out += fmt::format("padding = [{}, {}, {}, {}]   # top, bottom, left, right\n", h.pad_before, h.pad_after,
                           w.pad_before, w.pad_after);
    } else if (h.pad_before || w.pad_before) {
        out += fmt::format("padding = {}\n", pair(h.pad_before, w.pad_before));
    }
    if (h.dilation != 1 || w.dilation != 1) out += fmt::format("dilation = {}\n", pair(h.dilation, w.dilation));
}

std::string layer_fields(const LayerSpec &layer) {
    std::string out;
    std::visit(
        [&](const auto &p) {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, Conv2dParams>) {
                out += fmt::format("out_channels = {}\n", p.out_channels);
                write_window(out, p.height, p.width, false);
                if (p.groups != 1) out += fmt::format("groups = {}\n", p.groups);
                if (!p.bias) out += "bias = false\n";
                if (p.flip_kernel) out += "mode = \"convolution\"\n";
            } else if constexpr (std::is_same_v<P, Pool2dParams>) {
                write_window(out, p.height, p.width, true);
                if (p.height.ceil_mode) out += "ceil_mode = true\n";
                if (p.kind == PoolKind::average && !p.count_include_pad) out += "count_include_pad = false\n";
                if (p.kind == PoolKind::p_norm) out += fmt::format("p = {}\n", p.p);
            } else if constexpr (std::is_same_v<P, ActivationParams>) {
                const float fallback = p.kind == ActivationKind::elu ? 1.0f : 0.01f;
                if ((p.kind == ActivationKind::leaky_relu || p.kind == ActivationKind::elu) && p.alpha != fallback)
                    out += fmt::format("alpha = {}\n", p.alpha);
                if (p.kind == ActivationKind::clip && layer.kind == "clip")
                    out += fmt::format("min = {}\nmax = {}\n", p.min, p.max);
            } else if constexpr (std::is_same_v<P, AddParams>) {
                if (p.activation) out += fmt::format("activation = {}\n", quoted(activation_kind_name(p.activation->kind)));
            } else if constexpr (std::is_same_v<P, BatchNormParams>) {
                out += fmt::format("epsilon = {}\n", p.epsilon);
                if (p.momentum != 0.1f) out += fmt::format("momentum = {}\n", p.momentum);
            } else if constexpr (std::is_same_v<P, DropoutParams>) {
                out += fmt::format("p = {}\n", p.p);
            } else if constexpr (std::is_same_v<P, ConcatParams> || std::is_same_v<P, GlobalAvgPoolParams>) {
            } else if constexpr (std::is_same_v<P, LrnParams>) {
                if (p.kind == LrnKind::intra_channel) out += "region = \"intra_channel\"\n";
                out += fmt::format("{} = {}\n", p.window == LrnWindow::onnx ? "size" : "n", p.n);
                out += fmt::format("kappa = {}\ngamma = {}\nbeta = {}\n", p.kappa, p.gamma, p.beta);
            } else {
                static_assert(std::is_same_v<P, FullyConnectedParams>);
                out += fmt::format("out_features = {}\n", p.out_features);
                if (!p.bias) out += "bias = false\n";
            }
        },
        layer.params);
    return out;
}

}  // namespace

std::string model_spec_text(const ModelSpec &spec, const std::vector<std::string> &header) {
    std::string out;
    for (const std::string &line : header) out += "# " + printable(line) + "\n";
    out += fmt::format("name = {}\n", quoted(spec.name));
    if (!spec.description.empty()) out += fmt::format("description = {}\n", quoted(spec.description));
    out += fmt::format("\n[input]\nchannels = {}\nheight = {}\nwidth = {}\n", spec.input[0], spec.input[1], spec.input[2]);
    out += fmt::format("\n[build]\nbatch_sizes = [{}]\ntrain_batch = {}\n", fmt::join(spec.batch_sizes, ", "),
                       spec.train_batch);
    if (!spec.inference_only.empty()) out += fmt::format("inference_only = {}\n", quoted(spec.inference_only));
    if (spec.loss.kind == LossKind::hinge) out += fmt::format("\n[loss]\nkind = \"hinge\"\nmargin = {}\n", spec.loss.margin);
    else out += "\n[loss]\nkind = \"softmax_cross_entropy\"\n";
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        const LayerSpec &layer = spec.layers[k];
        out += fmt::format("\n[[layers]]\nname = {}\nkind = {}\n", quoted(layer.name), quoted(layer.kind));
        // Inputs only where they are not the default, the layer before.
        const std::string before = k ? spec.layers[k - 1].name : kImagesName;
        if (!layer.inputs.empty() && layer.inputs != std::vector<std::string>{before}) {
            std::vector<std::string> names;
            for (const std::string &input : layer.inputs) names.push_back(quoted(input));
            out += fmt::format("inputs = [{}]\n", fmt::join(names, ", "));
        }
        out += layer_fields(layer);
    }
    return out;
}

}  // namespace cnngen
