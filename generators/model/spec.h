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
    std::variant<Conv2dParams, Pool2dParams, ActivationParams, LrnParams, FullyConnectedParams> params;
};

struct ModelSpec {
    std::string path;
    std::string name;
    Shape input;                      // C, H, W of one sample
    std::vector<int> batch_sizes;     // inference functions are specialized for each
    int train_batch = 64;             // the training step is specialized for this one
    LossParams loss;
    std::vector<LayerSpec> layers;
};

// Throws ConfigError with "FILE: layer 'NAME' (#K): ..." messages.
ModelSpec load_model_spec(const std::string &path);
ModelSpec parse_model_spec(const std::string &text, const std::string &path);

// The learnable tensors of a model, in spec order, with PyTorch shapes.
struct ParameterInfo {
    std::string name;  // state_dict key, e.g. conv1.weight
    Shape shape;
};

// Builds the network's algorithm on `input` (N, C, H, W); checks that shapes chain,
// naming the layer that receives what and expected what.
struct Network {
    std::vector<Layer> layers;
    Tensor output;
};
Network build_network(const ModelSpec &spec, const Tensor &input, const ParamSource &source);
// Layer `index` of the spec alone, on `input`: for per-layer kernels.
Layer build_layer(const ModelSpec &spec, size_t index, const Tensor &input, const ParamSource &source);

std::vector<ParameterInfo> model_parameters(const ModelSpec &spec);

// A C identifier for a state_dict key: conv1.weight -> conv1_weight.
std::string identifier_for(const std::string &name);

}  // namespace cnngen
