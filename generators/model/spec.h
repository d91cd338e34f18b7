#pragma once
// A model spec: the declarative description of a network in models/*.toml
// (documented in models/README.md), parsed and checked before any code is generated.
#include "../layers/activation.h"
#include "../layers/conv2d.h"
#include "../layers/fully_connected.h"
#include "../layers/loss.h"
#include "../layers/lrn.h"
#include "../layers/merge.h"
#include "../layers/normalization.h"
#include "../layers/pooling.h"

#include <map>
#include <variant>

namespace cnngen {

struct GlobalAvgPoolParams {};

// The name the images go by in a layer's `inputs`.
inline const char *const kImagesName = "input";

struct LayerSpec {
    std::string name;
    std::string kind;  // as written in the spec
    // The layers it reads (or kImagesName), in order. Empty: the layer before it (the images for
    // the first), so a chain needs none; parse_model_spec fills them in.
    std::vector<std::string> inputs;
    using Params = std::variant<Conv2dParams, Pool2dParams, ActivationParams, LrnParams, FullyConnectedParams, AddParams,
                                ConcatParams, BatchNormParams, DropoutParams, GlobalAvgPoolParams>;
    Params params;
};

struct ModelSpec {
    std::string path;
    std::string name;
    std::string description;
    Shape input;                      // C, H, W of one sample
    std::vector<int> batch_sizes;     // inference functions are specialized for each
    int train_batch = 64;             // the training step is specialized for this one
    // Why the model must not be trained (a BatchNormalization folded into a convolution by
    // `cnngen import`, say); empty when it may. Set by [build] inference_only.
    std::string inference_only;
    LossParams loss;
    // In an order where every layer comes after the layers it reads; the last is the output.
    std::vector<LayerSpec> layers;
};

// Throws ConfigError with "FILE: layer 'NAME' (#K): ..." messages.
ModelSpec load_model_spec(const std::string &path);
ModelSpec parse_model_spec(const std::string &text, const std::string &path);

// How a tensor starts (Model::initialize): PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
// Conv2d and Linear, ones and zeros for BatchNorm2d's weight, bias and running statistics.
enum class ParameterInit { fan_in_uniform, ones, zeros };
const char *parameter_init_name(ParameterInit init);

// A tensor of a model's state, with its PyTorch shape.
struct ParameterInfo {
    std::string name;        // state_dict key, conv1.weight
    std::string identifier;  // conv1_weight
    Shape shape;             // PyTorch order
    int layer = -1;          // index into the spec's layers
    int fan_in = 0;          // PyTorch's default initialization; a bias takes its weight's
    // false: state the training step does not learn by gradients (batch_norm's running statistics)
    bool trainable = true;
    ParameterInit init = ParameterInit::fan_in_uniform;
    // Positive: the inference functions read this convolution weight (OIHW) packed in blocks of
    // that many output channels, [O / block, I, H, W, block]: a tile's channels contiguous, and
    // its weights one sequential stream (a plain stride of I x H x W floats, a power of two on
    // ResNets, left the L2 cache a few sets). The runtime packs it once after every change
    // (cnngen::Model), never per call.
    int packed_block = 0;
    // 2 or 4 (with packed_block): the weight is 3x3 and inference computes its layer by Winograd's
    // F(m x m, 3 x 3) (layers/winograd.h), reading it transformed, U = G g Gᵀ per (output, input)
    // channel pair, as [O / block, m + 2, m + 2, I, block]. The runtime transforms it when it packs.
    int winograd_tile = 0;
};

// Each layer's inputs as activation indices: 0 the images, j + 1 layer j's output. Throws
// ConfigError for a name that is not an earlier layer.
std::vector<std::vector<int>> layer_input_indices(const ModelSpec &spec);

// What batch_norm normalizes with: the running statistics (inference), or the batch's own,
// updating the running ones (training, Layer::state_updates).
enum class NetworkMode { inference, training };

// Builds the network's algorithm on `input` (N, C, H, W). Shapes were checked when the spec
// was planned (plan.h); `form` picks the grouped-convolution form (conv2d.h).
struct Network {
    std::vector<Layer> layers;
    std::vector<std::vector<int>> inputs;  // layer_input_indices
    std::vector<Tensor> activations;        // [0] the input, [k + 1] layer k's output
    Tensor output;
};
Network build_network(const ModelSpec &spec, const Tensor &input, const ParamSource &source,
                      AlgorithmForm form = AlgorithmForm::direct, NetworkMode mode = NetworkMode::inference);
// Layers [first, end) on the activations `given` by index (those they read from earlier
// layers or the images): a forward part. `layers` and `inputs` hold those layers alone,
// `inputs` still by the whole model's activation indices.
Network build_network_part(const ModelSpec &spec, size_t first, size_t end, const std::map<int, Tensor> &given,
                           const ParamSource &source, AlgorithmForm form = AlgorithmForm::direct,
                           NetworkMode mode = NetworkMode::inference);
// Layer `index` of the spec alone, on its `inputs`: for per-layer kernels.
Layer build_layer(const ModelSpec &spec, size_t index, const std::vector<Tensor> &inputs, const ParamSource &source,
                  AlgorithmForm form = AlgorithmForm::direct, NetworkMode mode = NetworkMode::inference);

// "input 1x6x28x28 from 'conv1'" (or several, comma-separated): for messages.
std::string describe_inputs(const std::vector<Shape> &shapes, const std::vector<std::string> &names);

// Whether `name` can name a model or layer: a letter, then letters, digits and '_'.
bool is_c_identifier(const std::string &name);

// A C identifier for a state_dict key: conv1.weight -> conv1_weight.
std::string identifier_for(const std::string &name);

}  // namespace cnngen
