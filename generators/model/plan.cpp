#include "plan.h"

#include "../layers/errors.h"

namespace cnngen {

namespace {

// 2^30 float32 elements (4 GiB) per tensor at most.
constexpr long long kMaxTensorElements = 1LL << 30;

}  // namespace

Shape layer_output_shape(const LayerSpec &l, const Shape &input, std::vector<ParameterInfo> &params, int layer) {
    return std::visit(
        [&](const auto &p) -> Shape {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, Conv2dParams>) {
                const Shape out = conv2d_output_shape(l.name, input, p);
                const Shape weight = conv2d_weight_shape(input[1], p);
                const int fan_in = weight[1] * weight[2] * weight[3];
                params.push_back({l.name + ".weight", identifier_for(l.name + ".weight"), weight, layer, fan_in});
                if (p.bias) params.push_back({l.name + ".bias", identifier_for(l.name + ".bias"), {p.out_channels}, layer, fan_in});
                return out;
            } else if constexpr (std::is_same_v<P, FullyConnectedParams>) {
                const Shape out = fully_connected_output_shape(l.name, input, p);
                const int fan_in = int(element_count(input) / input[0]);
                params.push_back(
                    {l.name + ".weight", identifier_for(l.name + ".weight"), {p.out_features, fan_in}, layer, fan_in});
                if (p.bias) params.push_back({l.name + ".bias", identifier_for(l.name + ".bias"), {p.out_features}, layer, fan_in});
                return out;
            } else if constexpr (std::is_same_v<P, Pool2dParams>) {
                return pool2d_output_shape(l.name, input, p);
            } else if constexpr (std::is_same_v<P, LrnParams>) {
                return lrn_output_shape(l.name, input, p);
            } else {
                if (input.size() != 2 && input.size() != 4)
                    fail("{}: an activation expects a 2-D (N, F) or 4-D (N, C, H, W) input, got shape {}", l.name,
                         shape_string(input));
                return input;
            }
        },
        l.params);
}

namespace {

void add_function(ModelPlan &plan, FunctionRole role, int batch, int layer, std::vector<PlannedArgument> inputs,
                  std::vector<PlannedArgument> outputs) {
    const std::string &model = plan.spec.name;
    std::string name;
    switch (role) {
    case FunctionRole::forward: name = fmt::format("{}_forward_b{}", model, batch); break;
    case FunctionRole::train_step: name = fmt::format("{}_train_step_b{}", model, batch); break;
    case FunctionRole::gradients: name = fmt::format("{}_gradients_b{}", model, batch); break;
    case FunctionRole::layer_forward:
        name = fmt::format("{}_{}_forward_b{}", model, plan.spec.layers[size_t(layer)].name, batch);
        break;
    case FunctionRole::layer_backward:
        name = fmt::format("{}_{}_backward_b{}", model, plan.spec.layers[size_t(layer)].name, batch);
        break;
    case FunctionRole::loss: name = fmt::format("{}_loss_b{}", model, batch); break;
    case FunctionRole::sgd_update: name = fmt::format("{}_sgd_update_b{}", model, batch); break;
    }
    plan.functions.push_back({name, role, batch, layer, std::move(inputs), std::move(outputs)});
}

std::vector<PlannedArgument> each_parameter(ArgumentRole role, const std::vector<int> &indices) {
    std::vector<PlannedArgument> args;
    for (int k : indices) args.push_back({role, k});
    return args;
}

std::vector<PlannedArgument> concat(std::initializer_list<std::vector<PlannedArgument>> parts) {
    std::vector<PlannedArgument> all;
    for (const auto &part : parts) all.insert(all.end(), part.begin(), part.end());
    return all;
}

// Chained: forward per layer, the loss, backward from the last layer to the first (which has
// only parameter gradients to give, if any); the update follows as for a split fused step.
void add_chained_gradients(ModelPlan &plan, int batch) {
    const int layers = plan.layer_count();
    for (int k = 0; k < layers; ++k)
        add_function(plan, FunctionRole::layer_forward, batch, k,
                     concat({{{ArgumentRole::activation, k}}, each_parameter(ArgumentRole::parameter, plan.parameters_of_layer(k))}),
                     {{ArgumentRole::activation, k + 1}});
    add_function(plan, FunctionRole::loss, batch, -1, {{ArgumentRole::activation, layers}, {ArgumentRole::labels}},
                 {{ArgumentRole::loss}, {ArgumentRole::d_activation, layers}});
    for (int k = layers; k-- > 0;) {
        const std::vector<int> own = plan.parameters_of_layer(k);
        if (k == 0 && own.empty()) continue;
        std::vector<PlannedArgument> outputs;
        if (k > 0) outputs.push_back({ArgumentRole::d_activation, k});
        add_function(plan, FunctionRole::layer_backward, batch, k,
                     concat({{{ArgumentRole::activation, k}}, each_parameter(ArgumentRole::parameter, own),
                             {{ArgumentRole::d_activation, k + 1}}}),
                     concat({outputs, each_parameter(ArgumentRole::gradient, own)}));
    }
}

void plan_functions(ModelPlan &plan, const PlanOptions &options) {
    const int layers = plan.layer_count();
    std::vector<int> all(plan.parameters.size());
    for (size_t k = 0; k < all.size(); ++k) all[k] = int(k);
    const std::vector<PlannedArgument> scalars{
        {ArgumentRole::learning_rate}, {ArgumentRole::momentum}, {ArgumentRole::weight_decay}};
    for (int batch : plan.spec.batch_sizes)
        add_function(plan, FunctionRole::forward, batch, -1,
                     concat({{{ArgumentRole::activation, 0}}, each_parameter(ArgumentRole::parameter, all)}),
                     {{ArgumentRole::activation, layers}});
    if (!options.training) return;
    const int batch = plan.spec.train_batch;
    if (options.train_step == TrainStep::fused) {
        add_function(plan, FunctionRole::train_step, batch, -1,
                     concat({{{ArgumentRole::activation, 0}, {ArgumentRole::labels}},
                             each_parameter(ArgumentRole::parameter, all), each_parameter(ArgumentRole::velocity, all),
                             scalars}),
                     concat({{{ArgumentRole::loss}, {ArgumentRole::activation, layers}},
                             each_parameter(ArgumentRole::next_parameter, all),
                             each_parameter(ArgumentRole::next_velocity, all)}));
        if (!options.split_step) return;
        add_function(plan, FunctionRole::gradients, batch, -1,
                     concat({{{ArgumentRole::activation, 0}, {ArgumentRole::labels}},
                             each_parameter(ArgumentRole::parameter, all)}),
                     concat({{{ArgumentRole::loss}, {ArgumentRole::activation, layers}},
                             each_parameter(ArgumentRole::gradient, all)}));
    } else {
        add_chained_gradients(plan, batch);
    }
    add_function(plan, FunctionRole::sgd_update, batch, -1,
                 concat({each_parameter(ArgumentRole::parameter, all), each_parameter(ArgumentRole::velocity, all),
                         each_parameter(ArgumentRole::gradient, all), scalars}),
                 concat({each_parameter(ArgumentRole::next_parameter, all),
                         each_parameter(ArgumentRole::next_velocity, all)}));
}

}  // namespace

const char *role_name(FunctionRole role) {
    switch (role) {
    case FunctionRole::forward: return "forward";
    case FunctionRole::train_step: return "train_step";
    case FunctionRole::gradients: return "gradients";
    case FunctionRole::layer_forward: return "layer_forward";
    case FunctionRole::layer_backward: return "layer_backward";
    case FunctionRole::loss: return "loss";
    case FunctionRole::sgd_update: return "sgd_update";
    }
    return "?";
}

const char *argument_role_name(ArgumentRole role) {
    switch (role) {
    case ArgumentRole::activation: return "activation";
    case ArgumentRole::d_activation: return "d_activation";
    case ArgumentRole::labels: return "labels";
    case ArgumentRole::loss: return "loss";
    case ArgumentRole::parameter: return "parameter";
    case ArgumentRole::velocity: return "velocity";
    case ArgumentRole::gradient: return "gradient";
    case ArgumentRole::next_parameter: return "next_parameter";
    case ArgumentRole::next_velocity: return "next_velocity";
    case ArgumentRole::learning_rate: return "learning_rate";
    case ArgumentRole::momentum: return "momentum";
    case ArgumentRole::weight_decay: return "weight_decay";
    }
    return "?";
}

Shape ModelPlan::activation_shape(int index, int batch) const {
    Shape shape{batch};
    const Shape &per_sample = activations.at(size_t(index));
    shape.insert(shape.end(), per_sample.begin(), per_sample.end());
    return shape;
}

std::vector<int> ModelPlan::parameters_of_layer(int layer) const {
    std::vector<int> own;
    for (size_t k = 0; k < parameters.size(); ++k)
        if (parameters[k].layer == layer) own.push_back(int(k));
    return own;
}

std::string argument_name(const ModelPlan &plan, const PlannedArgument &a) {
    const auto parameter = [&](const char *prefix) { return prefix + plan.parameters.at(size_t(a.index)).identifier; };
    switch (a.role) {
    case ArgumentRole::activation:
        return a.index == 0 ? "images" : a.index == plan.layer_count() ? "logits" : fmt::format("activation_{}", a.index);
    case ArgumentRole::d_activation:
        return a.index == plan.layer_count() ? "d_logits" : fmt::format("d_activation_{}", a.index);
    case ArgumentRole::parameter: return parameter("param_");
    case ArgumentRole::velocity: return parameter("velocity_");
    case ArgumentRole::gradient: return parameter("grad_");
    case ArgumentRole::next_parameter: return parameter("next_param_");
    case ArgumentRole::next_velocity: return parameter("next_velocity_");
    default: return argument_role_name(a.role);
    }
}

void resolve_padding_modes(LayerSpec &layer, const Shape &input) {
    std::visit(
        [&](auto &p) {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, Conv2dParams> || std::is_same_v<P, Pool2dParams>) {
                p.height = resolve_padding(layer.name, "height", input.at(2), p.height);
                p.width = resolve_padding(layer.name, "width", input.at(3), p.width);
            }
        },
        layer.params);
}

ModelPlan plan_model(const ModelSpec &spec, const PlanOptions &options) {
    ModelPlan plan;
    plan.spec = spec;
    Shape current{1, spec.input[0], spec.input[1], spec.input[2]};
    plan.activations.push_back(Shape(current.begin() + 1, current.end()));
    const int largest_batch = spec.batch_sizes.empty() ? 1 : spec.batch_sizes.back();  // sorted when parsed
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        LayerSpec &l = plan.spec.layers[k];
        const std::string where = fmt::format("{}: layer '{}' (#{})", spec.path, l.name, k + 1);
        const std::string from = k ? spec.layers[k - 1].name : "input";
        const bool image_layer = !std::holds_alternative<FullyConnectedParams>(l.params) &&
                                 !std::holds_alternative<ActivationParams>(l.params);
        if (image_layer && current.size() != 4)
            fail("{}: {} expects a 4-D (N, C, H, W) input but '{}' produces {}", where, l.kind, from,
                 shape_string(current));
        const size_t first_parameter = plan.parameters.size();
        try {
            if (image_layer) resolve_padding_modes(l, current);
            current = layer_output_shape(l, current, plan.parameters, int(k));
        } catch (const ConfigError &e) {
            fail("{}: input {} from '{}': {}", where, shape_string(current), from, e.what());
        }
        for (size_t p = first_parameter; p < plan.parameters.size(); ++p) {
            const Shape &shape = plan.parameters[p].shape;
            if (element_count(shape) > kMaxTensorElements)
                fail("{}: parameter '{}' of shape {} needs {:.1f} GiB, more than the {} GiB limit", spec.path,
                     plan.parameters[p].name, shape_string(shape), element_count(shape) * 4.0 / (1 << 30),
                     kMaxTensorElements * 4 >> 30);
        }
        // Refuse tensors no machine here can hold rather than fail allocating at run time.
        const long long elements = element_count(current) * largest_batch;
        if (elements > kMaxTensorElements)
            fail("{}: output {} per sample needs {:.1f} GiB at batch {}, more than the {} GiB limit", where,
                 shape_string(Shape(current.begin() + 1, current.end())), elements * 4.0 / (1 << 30), largest_batch,
                 kMaxTensorElements * 4 >> 30);
        plan.activations.push_back(Shape(current.begin() + 1, current.end()));
    }
    if (options.training && current.size() != 2)
        fail("{}: the last layer '{}' produces {}, expected (N, classes) for the loss; a model with another output "
             "builds for inference only (--inference-only)",
             spec.path, spec.layers.back().name, shape_string(current));
    plan_functions(plan, options);
    return plan;
}

std::string training_obstacle(const ModelSpec &spec) {
    if (!spec.inference_only.empty()) return spec.inference_only;
    for (const LayerSpec &layer : spec.layers)
        if (auto *pool = std::get_if<Pool2dParams>(&layer.params); pool && !pool_window_unrolled(*pool))
            return fmt::format("layer '{}' pools {}x{} windows; windows over 64 taps have no backward pass here",
                               layer.name, pool->height.kernel, pool->width.kernel);
    const ModelPlan plan = plan_model(spec, {/*training=*/false});
    if (plan.activations.back().size() != 1)
        return fmt::format("its output {} per sample is not (classes) for a loss", shape_string(plan.activations.back()));
    return "";
}

}  // namespace cnngen
