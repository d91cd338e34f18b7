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
                          std::is_same_v<P, FullyConnectedParams> || std::is_same_v<P, AddParams> ||
                          std::is_same_v<P, ConcatParams> || std::is_same_v<P, GlobalAvgPoolParams>)
                return true;
            else if constexpr (std::is_same_v<P, BatchNormParams> || std::is_same_v<P, DropoutParams>)
                return true;
            else return has_manual_backward(p);
        },
        layer.params);
}

bool has_manual_backward(const ModelSpec &spec) {
    return std::all_of(spec.layers.begin(), spec.layers.end(),
                       [](const LayerSpec &l) { return has_manual_backward(l); });
}

Gradients layer_backward_pass(const ModelSpec &spec, size_t index, const Layer &forward,
                              const std::vector<Tensor> &inputs, const ParameterInputs &params, const Tensor &d_output,
                              bool want_input) {
    const LayerSpec &l = spec.layers.at(index);
    const ParamSource source = params.source(spec.path);
    if (auto p = std::get_if<AddParams>(&l.params)) return add_backward(l.name, inputs, *p, forward.output, d_output);
    if (std::holds_alternative<ConcatParams>(l.params)) return concat_backward(l.name, inputs, d_output);
    const Tensor &input = inputs.at(0);
    if (std::holds_alternative<GlobalAvgPoolParams>(l.params)) return global_avg_pool_backward(l.name, input, d_output);
    if (auto p = std::get_if<DropoutParams>(&l.params)) return dropout_backward(l.name, input, *p, d_output);
    if (auto p = std::get_if<BatchNormParams>(&l.params))
        return batch_norm_backward(l.name, input, forward, source, d_output, p->sum_type);
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
    // What each activation's readers send back, gathered from the last layer down: by the time
    // layer k is reached, every reader of its output (all later) has sent its share.
    std::vector<std::vector<Tensor>> received(net.layers.size() + 1);
    received.back().push_back(d_logits);
    for (size_t k = net.layers.size(); k-- > 0;) {
        std::vector<Tensor> &shares = received[k + 1];
        if (shares.empty()) fail("internal error: {}: no gradient reaches layer '{}'", spec.path, net.layers[k].name);
        Tensor d_output = shares[0];
        if (shares.size() > 1) {
            pass.layers.push_back(gradient_sum(net.layers[k].name + "_d_output_sum", shares));
            pass.reads.push_back(shares);
            d_output = pass.layers.back().d_input;
        }
        std::vector<Tensor> inputs;
        bool want_input = false;
        for (int a : net.inputs[k]) {
            inputs.push_back(a == 0 ? input : net.activations.at(size_t(a)));
            want_input |= a > 0;
        }
        Gradients g = layer_backward_pass(spec, k, net.layers[k], inputs, params, d_output, want_input);
        for (const auto &[name, f] : g.d_params) by_name[name] = f;
        const std::vector<Tensor> d_inputs = input_gradients(g);
        for (size_t slot = 0; slot < net.inputs[k].size(); ++slot)
            if (net.inputs[k][slot] > 0) received[size_t(net.inputs[k][slot])].push_back(d_inputs.at(slot));
        pass.reads.push_back(inputs);
        pass.layers.push_back(g);
    }
    for (const ParameterInfo &p : params.info) {
        if (!p.trainable) {  // running statistics: updated by the forward pass, not by gradients
            pass.parameter_gradients.push_back(zeros(p.identifier + "_no_gradient", int(p.shape.size())));
            continue;
        }
        auto it = by_name.find(p.name);
        if (it == by_name.end()) fail("{}: no gradient for parameter '{}'", spec.path, p.name);
        pass.parameter_gradients.push_back(it->second);
    }
    return pass;
}

}  // namespace cnngen
