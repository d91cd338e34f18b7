#include "plan.h"

#include "../layers/errors.h"
#include "../layers/winograd.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace cnngen {

namespace {

// 2^30 float32 elements (4 GiB) per tensor at most.
constexpr long long kMaxTensorElements = 1LL << 30;

}  // namespace

Shape layer_output_shape(const LayerSpec &l, const std::vector<Shape> &inputs, const std::vector<std::string> &names,
                         std::vector<ParameterInfo> &params, int layer) {
    const auto add_parameter = [&](const std::string &suffix, const Shape &shape, int fan_in, bool trainable = true,
                                   ParameterInit init = ParameterInit::fan_in_uniform) {
        params.push_back(
            {l.name + "." + suffix, identifier_for(l.name + "." + suffix), shape, layer, fan_in, trainable, init});
    };
    return std::visit(
        [&](const auto &p) -> Shape {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, AddParams>) {
                return add_output_shape(l.name, inputs, names);
            } else if constexpr (std::is_same_v<P, ConcatParams>) {
                return concat_output_shape(l.name, inputs, names);
            } else {
                if (inputs.size() != 1)
                    fail("{}: {} takes one input, {} given ({})", l.name, l.kind, inputs.size(), fmt::join(names, ", "));
                const Shape &input = inputs[0];
                if constexpr (std::is_same_v<P, Conv2dParams>) {
                    const Shape out = conv2d_output_shape(l.name, input, p);
                    const Shape weight = conv2d_weight_shape(input[1], p);
                    const int fan_in = weight[1] * weight[2] * weight[3];
                    add_parameter("weight", weight, fan_in);
                    if (p.bias) add_parameter("bias", {p.out_channels}, fan_in);
                    return out;
                } else if constexpr (std::is_same_v<P, FullyConnectedParams>) {
                    const Shape out = fully_connected_output_shape(l.name, input, p);
                    const int fan_in = int(element_count(input) / input[0]);
                    add_parameter("weight", {p.out_features, fan_in}, fan_in);
                    if (p.bias) add_parameter("bias", {p.out_features}, fan_in);
                    return out;
                } else if constexpr (std::is_same_v<P, BatchNormParams>) {
                    const Shape out = batch_norm_output_shape(l.name, input, p);
                    add_parameter("weight", {input[1]}, 0, true, ParameterInit::ones);
                    add_parameter("bias", {input[1]}, 0, true, ParameterInit::zeros);
                    add_parameter("running_mean", {input[1]}, 0, false, ParameterInit::zeros);
                    add_parameter("running_var", {input[1]}, 0, false, ParameterInit::ones);
                    return out;
                } else if constexpr (std::is_same_v<P, Pool2dParams>) {
                    return pool2d_output_shape(l.name, input, p);
                } else if constexpr (std::is_same_v<P, GlobalAvgPoolParams>) {
                    return global_avg_pool_output_shape(l.name, input);
                } else if constexpr (std::is_same_v<P, LrnParams>) {
                    return lrn_output_shape(l.name, input, p);
                } else {  // activations and dropout: element-wise
                    if (input.size() != 2 && input.size() != 4)
                        fail("{}: {} expects a 2-D (N, F) or 4-D (N, C, H, W) input, got shape {}", l.name, l.kind,
                             shape_string(input));
                    return input;
                }
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
    case FunctionRole::forward_part:
        name = fmt::format("{}_forward_part{}_b{}", model, plan.forward_part_starting_at(layer), batch);
        break;
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
    std::vector<PlannedArgument> seed;  // dropout's masks: the fused step's last input
    if (plan.has_dropout()) seed.push_back({ArgumentRole::dropout_seed});
    std::vector<PlannedArgument> as_read;  // by inference: packed where packed
    for (int k : all)
        as_read.push_back({plan.parameters[size_t(k)].packed_block ? ArgumentRole::packed_parameter
                                                                   : ArgumentRole::parameter, k});
    for (int batch : plan.spec.batch_sizes) {
        if (plan.forward_parts.empty()) {
            add_function(plan, FunctionRole::forward, batch, -1, concat({{{ArgumentRole::activation, 0}}, as_read}),
                         {{ArgumentRole::activation, layers}});
            continue;
        }
        // A part reads the activations its layers take from earlier parts and returns those
        // later parts (or the caller: the logits) take.
        for (size_t part = 0; part < plan.forward_parts.size(); ++part) {
            const auto [first, end] = plan.forward_part_layers(part);
            std::set<int> read;  // made before the part, in order
            for (int k = first; k < end; ++k)
                for (int a : plan.inputs[size_t(k)])
                    if (a <= first) read.insert(a);
            std::vector<PlannedArgument> inputs, outputs;
            for (int a : read) inputs.push_back({ArgumentRole::activation, a});
            for (int k = first; k < end; ++k)
                for (int p : plan.parameters_of_layer(k)) inputs.push_back(as_read.at(size_t(p)));
            for (int a = first + 1; a <= end; ++a)
                if (plan.last_reader[size_t(a)] >= end) outputs.push_back({ArgumentRole::activation, a});
            add_function(plan, FunctionRole::forward_part, batch, first, inputs, outputs);
        }
    }
    if (!options.training) return;
    const int batch = plan.spec.train_batch;
    if (options.train_step == TrainStep::fused) {
        add_function(plan, FunctionRole::train_step, batch, -1,
                     concat({{{ArgumentRole::activation, 0}, {ArgumentRole::labels}},
                             each_parameter(ArgumentRole::parameter, all), each_parameter(ArgumentRole::velocity, all),
                             scalars, seed}),
                     concat({{{ArgumentRole::loss}, {ArgumentRole::activation, layers}},
                             each_parameter(ArgumentRole::next_parameter, all),
                             each_parameter(ArgumentRole::next_velocity, all)}));
        if (!options.split_step) return;
        add_function(plan, FunctionRole::gradients, batch, -1,
                     concat({{{ArgumentRole::activation, 0}, {ArgumentRole::labels}},
                             each_parameter(ArgumentRole::parameter, all), seed}),
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
    case FunctionRole::forward_part: return "forward_part";
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
    case ArgumentRole::packed_parameter: return "packed_parameter";
    case ArgumentRole::dropout_seed: return "dropout_seed";
    }
    return "?";
}

int default_winograd_tile(const Shape &weight) {
    const int64_t f4_bytes = int64_t(weight[0]) * weight[1] * 36 * int64_t(sizeof(float));
    return f4_bytes <= kWinogradF4WeightBytes ? 4 : 2;
}

ModelSpec spec_reading_packed(const ModelPlan &plan) {
    ModelSpec spec = plan.spec;
    for (const ParameterInfo &p : plan.parameters)
        if (p.winograd_tile) std::get<Conv2dParams>(spec.layers[size_t(p.layer)].params).winograd_tile = p.winograd_tile;
    return spec;
}

Shape ModelPlan::packed_shape(int index) const {
    const ParameterInfo &p = parameters.at(size_t(index));
    if (!p.packed_block) return p.shape;
    if (p.winograd_tile) {
        const int alpha = p.winograd_tile + 2;
        return {p.shape[0] / p.packed_block, alpha, alpha, p.shape[1], p.packed_block};
    }
    return {p.shape[0] / p.packed_block, p.shape[1], p.shape[2], p.shape[3], p.packed_block};
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
    case ArgumentRole::packed_parameter: return parameter("packed_");
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

bool ModelPlan::has_dropout() const {
    return std::any_of(spec.layers.begin(), spec.layers.end(),
                       [](const LayerSpec &l) { return std::holds_alternative<DropoutParams>(l.params); });
}

size_t ModelPlan::forward_part_starting_at(int layer) const {
    return size_t(std::find(forward_parts.begin(), forward_parts.end(), layer) - forward_parts.begin());
}

std::pair<int, int> ModelPlan::forward_part_layers(size_t part) const {
    return {forward_parts.at(part), part + 1 < forward_parts.size() ? forward_parts[part + 1] : layer_count()};
}

bool ModelPlan::is_chain() const {
    for (size_t k = 0; k < inputs.size(); ++k)
        if (inputs[k] != std::vector<int>{int(k)}) return false;
    return true;
}

namespace {

bool reads_images(const LayerSpec &l) {
    return std::holds_alternative<Conv2dParams>(l.params) || std::holds_alternative<Pool2dParams>(l.params) ||
           std::holds_alternative<LrnParams>(l.params) || std::holds_alternative<GlobalAvgPoolParams>(l.params);
}

std::string activation_name(const ModelSpec &spec, int index) {
    return index == 0 ? std::string(kImagesName) : spec.layers.at(size_t(index - 1)).name;
}

// Every layer but the last (the output) must be read by a later one.
void check_every_branch_is_read(const ModelPlan &plan) {
    std::vector<std::string> unread;
    for (int k = 0; k + 1 < plan.layer_count(); ++k)
        if (plan.last_reader[size_t(k + 1)] < 0)
            unread.push_back(fmt::format("'{}' (#{})", plan.spec.layers[size_t(k)].name, k + 1));
    if (!unread.empty())
        fail("{}: the output of layer {} is never read: a dangling branch; every layer but the last, '{}' (the "
             "model's output), must be an input of a later layer",
             plan.spec.path, fmt::join(unread, ", "), plan.spec.layers.back().name);
}

// Stages in Halide's sense: a concat copies each input in an update of its own; a Winograd
// convolution's transforms and products are loop nests of their own (kWinogradStages).
int stage_count(const ModelPlan &plan, int k) {
    const LayerSpec &layer = plan.spec.layers[size_t(k)];
    if (std::holds_alternative<ConcatParams>(layer.params)) return std::max(1, int(layer.inputs.size()));
    for (int p : plan.parameters_of_layer(k))
        if (plan.parameters[size_t(p)].winograd_tile) return kWinogradStages;
    return 1;
}

// Activations made before layer `cut` and read from it on: what crosses a cut there.
int activations_crossing(const ModelPlan &plan, int cut) {
    int crossing = 0;
    for (int a = 0; a <= cut; ++a) crossing += plan.last_reader[size_t(a)] >= cut;
    return crossing;
}

// The parts' first layers: `parts` (0: by kStagesPerForwardPart) of about equal stage counts,
// each cut moved up to a quarter of a part to where the fewest activations cross, and off an
// element-wise layer a convolution's tiles would otherwise compute (conv-BN-ReLU stays whole).
std::vector<int> plan_forward_parts(const ModelPlan &plan, int parts) {
    const int layers = plan.layer_count();
    std::vector<int> stages_before{0};  // stages of layers [0, k)
    for (int k = 0; k < plan.layer_count(); ++k) stages_before.push_back(stages_before.back() + stage_count(plan, k));
    const int total = stages_before.back();
    if (parts <= 0) parts = (total + kStagesPerForwardPart - 1) / kStagesPerForwardPart;
    parts = std::min(parts, layers);
    if (parts <= 1) return {};
    const auto elementwise = [&](int k) {  // what a convolution's tiles may carry (conv_fusion)
        const auto &params = plan.spec.layers[size_t(k)].params;
        return std::holds_alternative<ActivationParams>(params) || std::holds_alternative<BatchNormParams>(params) ||
               std::holds_alternative<AddParams>(params) || std::holds_alternative<DropoutParams>(params);
    };
    const int window = std::max(1, layers / parts / 4);
    std::vector<int> firsts{0};
    for (int part = 1; part < parts; ++part) {
        const int goal = int(total * (long long)part / parts);
        const int target = int(std::lower_bound(stages_before.begin(), stages_before.end(), goal) - stages_before.begin());
        const int least = firsts.back() + 1, most = layers - (parts - part);
        int best = std::clamp(target, least, most);
        std::pair<int, int> best_cost{activations_crossing(plan, best) + elementwise(best), 0};
        for (int cut = std::max(least, target - window); cut <= std::min(most, target + window); ++cut) {
            const std::pair<int, int> cost{activations_crossing(plan, cut) + elementwise(cut), std::abs(cut - target)};
            if (cost < best_cost) best = cut, best_cost = cost;
        }
        firsts.push_back(best);
    }
    return firsts;
}

}  // namespace

ModelPlan plan_model(const ModelSpec &spec, const PlanOptions &options) {
    ModelPlan plan;
    plan.spec = spec;
    plan.inputs = layer_input_indices(spec);
    for (size_t k = 0; k < spec.layers.size(); ++k)  // chains built in code name no inputs
        if (plan.spec.layers[k].inputs.empty())
            plan.spec.layers[k].inputs = {activation_name(spec, plan.inputs[k][0])};
    plan.last_reader.assign(spec.layers.size() + 1, -1);
    std::vector<Shape> shapes{Shape{1, spec.input[0], spec.input[1], spec.input[2]}};  // with a batch of 1
    plan.activations.push_back(spec.input);
    const int largest_batch = spec.batch_sizes.empty() ? 1 : spec.batch_sizes.back();  // sorted when parsed
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        LayerSpec &l = plan.spec.layers[k];
        const std::string where = fmt::format("{}: layer '{}' (#{})", spec.path, l.name, k + 1);
        std::vector<Shape> in;
        for (int a : plan.inputs[k]) {
            in.push_back(shapes.at(size_t(a)));
            plan.last_reader[size_t(a)] = int(k);
        }
        if (reads_images(l) && in.size() == 1 && in[0].size() != 4)
            fail("{}: {} expects a 4-D (N, C, H, W) input but '{}' produces {}", where, l.kind, l.inputs[0],
                 shape_string(in[0]));
        const size_t first_parameter = plan.parameters.size();
        Shape current;
        try {
            if (reads_images(l) && in.size() == 1) resolve_padding_modes(l, in[0]);
            current = layer_output_shape(l, in, l.inputs, plan.parameters, int(k));
        } catch (const ConfigError &e) {
            fail("{}: {}: {}", where, describe_inputs(in, l.inputs), e.what());
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
        shapes.push_back(current);
        plan.activations.push_back(Shape(current.begin() + 1, current.end()));
    }
    plan.last_reader.back() = plan.layer_count();
    check_every_branch_is_read(plan);
    const Shape &output = shapes.back();
    if (options.training && output.size() != 2)
        fail("{}: the last layer '{}' produces {}, expected (N, classes) for the loss; a model with another output "
             "builds for inference only (--inference-only)",
             spec.path, spec.layers.back().name, shape_string(output));
    const bool has_state = std::any_of(plan.parameters.begin(), plan.parameters.end(),
                                       [](const ParameterInfo &p) { return !p.trainable; });
    if (options.training && options.train_step == TrainStep::chained && has_state)
        fail("{}: train_step = \"chained\" has no kernel that updates batch_norm's running statistics; use the "
             "fused step",
             spec.path);
    if (options.training && options.train_step == TrainStep::chained && plan.has_dropout())
        fail("{}: train_step = \"chained\" has no kernel that draws dropout's masks; use the fused step", spec.path);
    if (options.training && options.train_step == TrainStep::chained && !plan.is_chain()) {
        size_t k = 0;
        while (plan.inputs[k] == std::vector<int>{int(k)}) ++k;
        fail("{}: train_step = \"chained\" runs a kernel per layer of a chain, but this model is a graph (layer "
             "'{}' reads '{}'); use the fused step",
             spec.path, spec.layers[k].name, fmt::join(plan.spec.layers[k].inputs, "', '"));
    }
    // The split step's update kernel sees gradients only, never the batch's statistics: a
    // model with running statistics trains in one process, with the fused step.
    if (options.pack_weights)
        for (ParameterInfo &p : plan.parameters) {
            if (p.layer < 0 || plan.spec.layers[size_t(p.layer)].kind != "conv2d" || p.shape.size() != 4) continue;
            p.packed_block = std::gcd(p.shape[0], kPackedChannelBlock);
            const auto &conv = std::get<Conv2dParams>(plan.spec.layers[size_t(p.layer)].params);
            if (!winograd_applies(conv) || options.winograd_tile == 0) continue;
            // Wide: a group's output channels whole packed blocks (so a vector of them reads one
            // group's input: AlexNet's conv4 and conv5, 2 groups of 192 and 128) and its input
            // channels (p.shape[1]) at least the minimum. Grouped layers only where wide, even
            // under a forced tile (a depthwise layer's single channel would only pay the transforms).
            const bool wide = (p.shape[0] / conv.groups) % kPackedChannelBlock == 0 && p.shape[1] >= kWinogradMinChannels;
            if (conv.groups > 1 && !wide) continue;
            if (options.winograd_tile > 0) p.winograd_tile = options.winograd_tile;
            else if (wide) p.winograd_tile = default_winograd_tile(p.shape);
        }
    plan.forward_parts = plan_forward_parts(plan, options.forward_parts);
    PlanOptions planned = options;
    if (has_state) planned.split_step = false;
    plan_functions(plan, planned);
    return plan;
}

long long peak_live_activations(const ModelPlan &plan) {
    long long live = element_count(plan.activations[0]), peak = live;
    for (int k = 0; k < plan.layer_count(); ++k) {
        live += element_count(plan.activations[size_t(k + 1)]);  // the output, while its inputs are read
        peak = std::max(peak, live);
        for (int a = 0; a <= k; ++a)
            if (plan.last_reader[size_t(a)] == k) live -= element_count(plan.activations[size_t(a)]);
    }
    return peak;
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
