#pragma once
// The model plan: everything that follows from a spec alone, computed once and read by every
// later stage (`cnngen check`, the pipeline builders, the generated description and through it
// the runtime): activation shapes, parameters, and the generated functions with each one's
// arguments in the order Halide passes them. The runtime binds arguments by that position and
// role, never by name, so no layer name can select a wrong buffer.
#include "../schedules/model_schedule.h"
#include "spec.h"

namespace cnngen {

// What a generated function computes; mirrors the runtime's PipelineKind.
enum class FunctionRole { forward, train_step, gradients, layer_forward, layer_backward, loss, sgd_update, forward_part };
const char *role_name(FunctionRole role);

// What one argument holds; mirrors the runtime's ArgumentRole. `index` selects an activation
// (0: the images, layer count: the logits) or a parameter; the rest take none.
enum class ArgumentRole {
    activation, d_activation, labels, loss, parameter, velocity, gradient, next_parameter, next_velocity,
    learning_rate, momentum, weight_decay, packed_parameter, dropout_seed
};
const char *argument_role_name(ArgumentRole role);

struct PlannedArgument {
    ArgumentRole role;
    int index = -1;
};

struct PlannedFunction {
    std::string name;  // lenet5_forward_b64
    FunctionRole role;
    int batch;
    int layer = -1;  // layer kernels: index into the spec's layers; forward parts: their first layer
    // Halide's order: the inputs as compiled, then the pipeline's outputs.
    std::vector<PlannedArgument> inputs, outputs;
};

struct ModelPlan {
    ModelSpec spec;
    std::vector<Shape> activations;  // per sample: [0] the input, [k + 1] layer k's output
    std::vector<std::vector<int>> inputs;  // per layer: the activations it reads (layer_input_indices)
    // Per activation: the last layer that reads it, so an inference build need keep it only
    // until then (the logits: the layer count, read by the caller).
    std::vector<int> last_reader;
    std::vector<ParameterInfo> parameters;
    std::vector<PlannedFunction> functions;
    // Where inference is cut into several pipelines (forward parts, run in turn): each part's
    // first layer, 0 first; empty when one pipeline computes it all.
    std::vector<int> forward_parts;

    int layer_count() const { return int(spec.layers.size()); }
    // Whether every layer reads just the layer before it (or the images, the first).
    bool is_chain() const;
    // Whether a layer is a dropout: the training step then takes the step's seed for its masks.
    bool has_dropout() const;
    // The output's size per sample: the classes of an (N, classes) output.
    int classes() const { return int(element_count(activations.back())); }
    // Activation `index` with the batch dimension in front.
    Shape activation_shape(int index, int batch) const;
    // The layers [first, end) of forward part `part`, and the part whose first layer is `layer`.
    std::pair<int, int> forward_part_layers(size_t part) const;
    size_t forward_part_starting_at(int layer) const;
    // Indices into `parameters` of the layer's own tensors (weight, then bias).
    std::vector<int> parameters_of_layer(int layer) const;
    // The shape of parameter `index` as the inference functions read it (packed or not).
    Shape packed_shape(int index) const;
};

struct PlanOptions {
    bool training = true;
    TrainStep train_step = TrainStep::fused;
    // Also the split step a data-parallel run needs: the fused step's gradients (and loss and
    // logits) as one pipeline and the SGD update as another, so the gradients can be averaged
    // over processes in between. A chained step is split already.
    bool split_step = false;
    // The inference functions read convolution weights packed (ParameterInfo::packed_block): for
    // the cpu schedule, whose tiles load vectors of output channels.
    bool pack_weights = false;
    // With pack_weights, the 3x3 stride-1 convolutions' Winograd tile (winograd.h): -1 by the
    // layer's shape (kWinogradMinChannels), 0 none, 2 or 4 wherever it applies.
    int winograd_tile = -1;
    // Inference pipelines per batch size: 0 by the model's size (kStagesPerForwardPart), else
    // that many (at most one per layer).
    int forward_parts = 0;
};

// Halide's lowering time grows faster than a pipeline's stage count: DenseNet-121 (371 layers
// and 535 concat copies) was still compiling after 8 minutes in one pipeline, 77 s in 10 parts;
// small DenseNets built in 11 s at 71 layers and 32 s at 119. Inference of a larger
// model is cut into parts of about this many stages (a layer each, a concat one per input),
// each its own pipeline, where the fewest activations cross.
constexpr int kStagesPerForwardPart = 100;
// A Winograd convolution counts as this many: ResNet-18's inference at batch 1 (68 layers) in one
// pipeline generated in 10.0 s with direct convolutions and in 37.1 s with 16 of them by
// Winograd's algorithm, about 1.7 s more each; counted so, it is cut in two parts (21 s).
constexpr int kWinogradStages = 8;

// Output channels per block of a packed convolution weight, where the count allows: one
// AVX-512 vector, two AVX2 ones (a schedule's tile of channels starts on a block).
constexpr int kPackedChannelBlock = 16;

// Convolutions narrower than this, in input or output channels, stay direct under Winograd's
// default: the transforms cost about as much as the products saved (VGG-16's conv1_1 reads 3
// channels), and output channels must fill whole packed blocks (a group's, where grouped).
constexpr int kWinogradMinChannels = 16;

// F(4x4, 3x3) where its transformed weights (36 per kernel) stay within this, else F(2x2, 3x3)
// (16 per kernel). At batch 1 a layer reads its weights once per call for a few tiles: ResNet-18's
// 512-channel 3x3 layers at 7x7 hold 37.7 MB transformed for F(4x4), whose products then ran at
// memory speed, 1.59 ms against the direct convolution's 1.08.
constexpr int64_t kWinogradF4WeightBytes = 4 << 20;
// The tile Winograd's default takes for an OIHW weight.
int default_winograd_tile(const Shape &weight);

// The spec the inference functions build: convolutions read their weights as the plan packs
// them, so those it transforms for Winograd's algorithm compute by it (Conv2dParams::winograd_tile).
ModelSpec spec_reading_packed(const ModelPlan &plan);

// Padding modes depend on the input's size: turns a convolution's or pooling's modes into
// explicit pads for this 4-D input. The plan's spec holds them so.
void resolve_padding_modes(LayerSpec &layer, const Shape &input);

// A layer's output for `input` (with a batch dimension in front) and its learnable tensors
// (appended to `params`), from the layers' shape rules alone; padding modes must be resolved.
// `names` name the inputs in messages.
Shape layer_output_shape(const LayerSpec &l, const std::vector<Shape> &inputs, const std::vector<std::string> &names,
                         std::vector<ParameterInfo> &params, int layer);

// The most activation elements per sample alive at once while inference runs the layers in
// order, each activation freed after its last reader: the images and the logits count.
long long peak_live_activations(const ModelPlan &plan);

// Why the model cannot be trained ([build] inference_only, or an output that is not
// (N, classes)); empty when it can.
std::string training_obstacle(const ModelSpec &spec);

// Throws ConfigError naming the spec and the layers when shapes do not meet, a layer's output
// is read by no one (a dangling branch: only the last layer, the output, may be unread), the
// last layer is not (N, classes), or a tensor would not fit.
ModelPlan plan_model(const ModelSpec &spec, const PlanOptions &options = {});

// The Halide name of an argument. Unique within its function whatever the layer names: each
// role has its own prefix (param_, packed_, velocity_, grad_, next_param_, next_velocity_, activation_,
// d_activation_), no prefix starts another, and every name starts with a letter or '_' in a
// way no layer-derived Func name can (layer names start with a letter and parameter
// identifiers are distinct per layer).
std::string argument_name(const ModelPlan &plan, const PlannedArgument &argument);

}  // namespace cnngen
