#pragma once
// What `cnngen build` records about a generated model: its parameters (state_dict names,
// PyTorch shapes) and the generated functions, each with its arguments by position and role.
#include <string>
#include <vector>

struct halide_filter_metadata_t;

namespace cnngen {

// forward: images -> logits. train_step: one fused SGD step. A split step is gradients
// (images, labels -> loss, logits, every parameter's gradient) then sgd_update over every
// parameter; a chained step computes the gradients in kernels the runtime calls in turn:
// layer_forward (input -> output) per layer, loss (logits, labels -> loss, d_logits),
// layer_backward (d_output -> d_input, gradients) from the last layer to the first.
// forward_part: a large model's inference as several pipelines, called in turn (`layer`: the
// part's first layer), each reading and returning activations by index.
enum class PipelineKind { forward, train_step, gradients, layer_forward, layer_backward, loss, sgd_update, forward_part };

// What one argument of a generated function holds. `index` selects the activation (0: the
// images, layer count: the logits) or the parameter; other roles have none (-1).
// packed_parameter: the parameter in its packed layout (ParameterEntry::packed_block);
// dropout_seed: an int32 scalar, the step's seed for dropout's masks.
enum class ArgumentRole {
    activation, d_activation, labels, loss, parameter, velocity, gradient, next_parameter, next_velocity,
    learning_rate, momentum, weight_decay, packed_parameter, dropout_seed
};

struct ArgumentBinding {
    ArgumentRole role;
    int index;
};

struct PipelineEntry {
    PipelineKind kind;
    int batch;
    // Halide's argv entry point: args[0] points at the call's user context, args[k + 1] at
    // the value bound to arguments[k] (a halide_buffer_t for buffers, the value for scalars).
    int (*argv)(void **args);
    const halide_filter_metadata_t *(*metadata)();
    const char *function_name;
    int layer;  // index into ModelDescription::layers for layer kernels and forward parts, else -1
    std::vector<ArgumentBinding> arguments;  // inputs, then outputs, as Halide orders them
};

// How Model::initialize starts a tensor: PyTorch's defaults (Conv2d/Linear, BatchNorm2d).
enum class ParameterInit { fan_in_uniform, ones, zeros };

struct ParameterEntry {
    std::string name;        // state_dict key, e.g. conv1.weight
    std::string identifier;  // C identifier, e.g. conv1_weight
    std::vector<int> shape;  // PyTorch order
    int fan_in;              // for PyTorch's default initialization
    ParameterInit init = ParameterInit::fan_in_uniform;
    // Positive: inference reads this convolution weight (OIHW) packed in blocks of that many
    // output channels, as [O / block, I, H, W, block] (vectors of channels, one stream per tile).
    int packed_block = 0;
    // 2 or 4 (with packed_block): a 3x3 weight inference reads transformed for Winograd's F(m x m,
    // 3 x 3), U = G g Gᵀ per (output, input) channel pair, as [O / block, m + 2, m + 2, I, block].
    // Not invertible: the plain tensor is kept beside it.
    int winograd_tile = 0;
};

struct ModelDescription {
    std::string name;
    std::string target;
    std::string schedule;
    std::vector<int> input_shape;  // C, H, W
    int classes;
    std::vector<std::string> layers;  // "conv1 conv2d -> 6x28x28" lines
    std::vector<ParameterEntry> parameters;
    std::vector<PipelineEntry> pipelines;
    std::vector<std::vector<int>> layer_outputs;  // each layer's output shape per sample
    // The model as a serialized ONNX ModelProto without initializers (export_onnx adds the
    // weights), or empty with the reason in onnx_problem.
    std::string onnx_graph;
    std::string onnx_problem;
    // Why the library has no training step ("it was built with --inference-only", a folded
    // BatchNormalization, ...); empty when it has one.
    std::string inference_only;
};

}  // namespace cnngen
