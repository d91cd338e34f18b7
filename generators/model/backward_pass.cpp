#include "backward_pass.h"

#include "../layers/errors.h"

#include <algorithm>

using namespace Halide;

namespace cnngen {

bool has_manual_backward(const LayerSpec &layer) {
    return std::visit(
        [](const auto &p) {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, Conv2dParams> || std::is_same_v<P, LrnParams> ||
                          std::is_same_v<P, FullyConnectedParams>)
                return true;
            else return has_manual_backward(p);
        },
        layer.params);
}

bool has_manual_backward(const ModelSpec &spec) {
    return std::all_of(spec.layers.begin(), spec.layers.end(),
                       [](const LayerSpec &l) { return has_manual_backward(l); });
}

Gradients layer_backward_pass(const ModelSpec &spec, size_t index, const Layer &forward, const Tensor &input,
                              const ParameterInputs &params, const Tensor &d_output, bool want_input) {
    const LayerSpec &l = spec.layers.at(index);
    const ParamSource source = params.source(spec.path);
    if (auto p = std::get_if<Conv2dParams>(&l.params))
        return conv2d_backward(l.name, input, *p, source, d_output, want_input);
    if (auto p = std::get_if<Pool2dParams>(&l.params); p && has_manual_backward(*p))
        return pool2d_backward(l.name, input, *p, d_output);
    if (auto p = std::get_if<ActivationParams>(&l.params); p && has_manual_backward(*p))
        return activation_backward(l.name, input, *p, forward.output, d_output);
    if (auto p = std::get_if<LrnParams>(&l.params)) return lrn_backward(l.name, input, *p, d_output);
    if (auto p = std::get_if<FullyConnectedParams>(&l.params))
        return fully_connected_backward(l.name, input, *p, source, d_output, want_input);
    fail("{}: layer '{}' ({}) has no hand-derived backward; use gradients = \"autodiff\"", spec.path, l.name, l.kind);
}

BackwardPass backward_pass(const ModelSpec &spec, const Network &net, const Tensor &input,
                           const ParameterInputs &params, const Tensor &d_logits) {
    BackwardPass pass;
    std::map<std::string, Func> by_name;
    Tensor d_output = d_logits;
    for (size_t k = net.layers.size(); k-- > 0;) {
        const Tensor &layer_input = k == 0 ? input : net.layers[k - 1].output;
        Gradients g = layer_backward_pass(spec, k, net.layers[k], layer_input, params, d_output, /*want_input=*/k > 0);
        for (const auto &[name, f] : g.d_params) by_name[name] = f;
        pass.inputs.push_back(layer_input);
        d_output = g.d_input;
        pass.layers.push_back(g);
    }
    for (const ParameterInfo &p : params.info) {
        auto it = by_name.find(p.name);
        if (it == by_name.end()) fail("{}: no gradient for parameter '{}'", spec.path, p.name);
        pass.parameter_gradients.push_back(it->second);
    }
    return pass;
}

}  // namespace cnngen
