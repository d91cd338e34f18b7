#pragma once
// What `cnngen build` records about a generated model: its parameters (state_dict
// names, PyTorch shapes) and the generated functions, one per specialized batch size.
#include <string>
#include <vector>

struct halide_filter_metadata_t;

namespace cnngen {

enum class PipelineKind { forward, train_step };

struct PipelineEntry {
    PipelineKind kind;
    int batch;
    // Halide's argv entry point: args[k] points at the k-th argument of metadata()
    // (a halide_buffer_t for buffers, the value for scalars).
    int (*argv)(void **args);
    const halide_filter_metadata_t *(*metadata)();
    const char *function_name;
};

struct ParameterEntry {
    std::string name;        // state_dict key, e.g. conv1.weight
    std::string identifier;  // the generated argument name, e.g. conv1_weight
    std::vector<int> shape;  // PyTorch order
    int fan_in;              // for PyTorch's default initialization
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
};

}  // namespace cnngen
