#pragma once
// The seam between layer algorithms and everything else: a Func plus its shape.
#include <Halide.h>

#include <map>
#include <string>
#include <vector>

namespace cnngen {

// Shape in PyTorch order: (N, C, H, W) for images, (N, F) for features.
// Halide indexes the same data in reverse: f(x, y, c, n) or f(i, n), x innermost.
using Shape = std::vector<int>;

struct Tensor {
    Halide::Func func;
    Shape shape;
};

// What a layer builder hands to schedules: its output plus the named stages a
// schedule may place (e.g. "sum", "padded"). Stages not listed stay inlined.
struct Layer {
    std::string name;
    std::string kind;
    Tensor output;
    std::map<std::string, Halide::Func> stages;
    std::map<std::string, Halide::RDom> reductions;
    // Hyperparameters a schedule sizes tiles by (conv2d: stride_x, stride_y, dilation_x, dilation_y, groups,
    // in_channels (the input's; its masked form reduces over all of them, so its RDom is no measure);
    // padding: 1 when the input is zero-padded, 0 when its "padded" stage is the input itself;
    // packed_weights: present when its weights arrive in blocks of output channels, innermost;
    // activation: gradient_from_output, present when its hand-derived gradient reads the output alone).
    std::map<std::string, int> sizes;
    // While training, the next value of state the layer keeps besides its learned parameters, by
    // parameter name (batch_norm: NAME.running_mean and NAME.running_var).
    std::map<std::string, Halide::Func> state_updates;
};

// Layers whose fastest algorithm Halide 14's autodiff differentiates wrongly have a second
// one: `direct` to run, `differentiable` for pipelines autodiff goes through (grouped
// convolutions mask the other groups' channels; fully-connected layers on an image input
// reduce over its (x, y, c), training/differentiable_forms.h, instead of its flattening, whose
// div/mod indexing autodiff cannot invert).
enum class AlgorithmForm { direct, differentiable };

// Supplies a layer's learnable tensors (weights, bias) as Funcs, in PyTorch
// layout reversed like every Tensor. Generators wrap ImageParams, JIT tests Buffers.
using ParamSource = std::function<Halide::Func(const std::string &name, const Shape &shape)>;

// Vars shared by every layer so schedules can name dimensions.
struct Dims {
    Halide::Var x{"x"}, y{"y"}, c{"c"}, n{"n"}, i{"i"};
};

// A Func of `rank` dimensions that is zero everywhere: a stand-in input or parameter
// when only shapes matter (checking a spec, summarizing layers).
Halide::Func zeros(const std::string &name, int rank);

// Number of elements of a shape.
long long element_count(const Shape &shape);
std::string shape_string(const Shape &shape);

}  // namespace cnngen
