#pragma once
// A model spec: the declarative description of a network in models/*.toml
// (documented in models/README.md), parsed and checked before any code is generated.
#include "../layers/activation.h"
#include "../layers/conv2d.h"
#include "../layers/fully_connected.h"
#include "../layers/loss.h"
#include "../layers/lrn.h"
#include "../layers/pooling.h"

#include <variant>

namespace cnngen {

struct LayerSpec {
    std::string name;
    std::string kind;  // as written in the spec
    using Params = std::variant<Conv2dParams, Pool2dParams, ActivationParams, LrnParams, FullyConnectedParams>;
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
    std::vector<LayerSpec> layers;
};

// Throws ConfigError with "FILE: layer 'NAME' (#K): ..." messages.
ModelSpec load_model_spec(const std::string &path);
ModelSpec parse_model_spec(const std::string &text, const std::string &path);

// A learnable tensor of a model, with its PyTorch shape.
struct ParameterInfo {
    std::string name;        // state_dict key, conv1.weight
    std::string identifier;  // conv1_weight
    Shape shape;             // PyTorch order
    int layer = -1;          // index into the spec's layers
    int fan_in = 0;          // PyTorch's default initialization; a bias takes its weight's
};

// Builds the network's algorithm on `input` (N, C, H, W). Shapes were checked when the spec
// was planned (plan.h); `form` picks the grouped-convolution form (conv2d.h).
struct Network {
    std::vector<Layer> layers;
    Tensor output;
};
Network build_network(const ModelSpec &spec, const Tensor &input, const ParamSource &source,
                      AlgorithmForm form = AlgorithmForm::direct);
// Layer `index` of the spec alone, on `input`: for per-layer kernels.
Layer build_layer(const ModelSpec &spec, size_t index, const Tensor &input, const ParamSource &source,
                  AlgorithmForm form = AlgorithmForm::direct);

// Whether `name` can name a model or layer: a letter, then letters, digits and '_'.
bool is_c_identifier(const std::string &name);

// A C identifier for a state_dict key: conv1.weight -> conv1_weight.
std::string identifier_for(const std::string &name);

}  // namespace cnngen
