#pragma once
// Schedules live here, apart from the algorithms in layers/: a schedule sees a
// Layer's named Funcs, RDoms and shape and decides only where and how they run.
#include "../layers/tensor.h"

#include <set>
#include <string>
#include <vector>

namespace cnngen {

// naive: no directives beyond materializing each layer output (the reference);
// cpu, gpu (alias cuda): hand-written; mullapudi2016, adams2019, li2018: Halide 14's autoschedulers.
const std::vector<std::string> &schedule_names();
// Throws ConfigError naming `context` and listing the valid names.
void check_schedule_name(const std::string &context, const std::string &name);
bool is_autoscheduler(const std::string &name);
// gpu (also accepted as cuda): the hand-written GPU schedule, for any Halide GPU target.
bool is_gpu_schedule(const std::string &name);

// Per-layer settings a schedule file gives the cpu schedule; zero means automatic.
struct LayerSchedule {
    int vector_width = 0;    // floats per vector; 0: the target's natural width
    int tile = 0;            // register tile: output channels or, vectorizing channels, x positions
                             // (conv2d); samples (fully_connected)
    std::string vectorize;   // conv2d: "x" or "channels"; empty: channels when they fill vectors
                             // and the output is narrower than two vectors
    std::string compute_at;  // a later layer: computed per sample inside that layer's loop (inference)
    bool inline_into_consumer = false;  // activations only: recomputed where used, never stored (inference)
    int threads = 0;         // gpu: threads per block along x and y (images) or features; 0: automatic
};

// Applies a hand-written schedule (naive, cpu or gpu) to each layer. Layer outputs
// are computed at root; fusion across layers is the job of a model schedule.
void schedule_layers(const std::string &name, const std::vector<Layer> &layers, const Halide::Target &target);

// Schedules one layer's output the way schedule_layers would.
void schedule_layer_cpu(const Layer &layer, const Halide::Target &target, const LayerSchedule &options = {});
// Fusion on the CPU: a layer computed per sample inside `consumer`'s loop over samples,
// and a consumer that keeps that loop (parallel over samples).
void schedule_layer_cpu_inside(const Layer &layer, const Halide::Func &consumer, const LayerSchedule &options,
                               const Halide::Target &target);
void schedule_fusion_consumer_cpu(const Layer &layer, const LayerSchedule &options, const Halide::Target &target);
// A convolution whose output tiles carry `epilogue`, the element-wise layers after it (batch_norm,
// activations, add), each read only by the next: one pass over memory instead of one per layer.
// The last one is stored; the convolution's output and the others are inlined (inference).
// `epilogue` may be empty.
// `producer`: the convolution (with its epilogue) whose output this one alone reads. Where this
// is a depthwise convolution whose channel tiles run their rows in turn, the producer's tiles
// are computed inside them, a row ahead (MobileNetV2's 1x1 expansion into its depthwise 3x3: the
// expanded activation, 6x the block's width, never goes through memory); else at root as usual.
struct ConvProducer {
    const Layer *conv;
    std::vector<const Layer *> epilogue;
    LayerSchedule options;
};
// Where a convolution's register tiles go, besides their shape.
struct TilePlacement {
    // In parallel over channel tiles and samples (or rows), else left to the enclosing loop.
    bool parallel = true;
    // `out` is computed a whole image at a time (at root or per sample), not a few rows at a time
    // inside a consumer, so bands of rows can be blocked.
    bool whole_image = true;
    // `out`, an intermediate its readers take by channel vectors, is stored channels-innermost
    // where the tile runs across channels.
    bool channels_innermost = false;
    // Where rows are the outer loop: in bands of this many rows, a task each, so that a layer
    // computed inside `out` (its input) is computed a band at a time.
    int band_rows = 0;
};

// `placement`'s channels_innermost and band_rows apply to the stored output (its parallel and
// whole_image are the layer's own). Returns whether the output's rows are the outer loop.
bool schedule_conv_with_epilogue_cpu(const Layer &conv, const std::vector<const Layer *> &epilogue,
                                     const LayerSchedule &options, const Halide::Target &target,
                                     const ConvProducer *producer = nullptr, const TilePlacement &placement = {});
// `inference`: convolutions stage their input window in shared memory (a training step keeps
// the padded input in global memory, where the gradient kernels read it too).
void schedule_layer_gpu(const Layer &layer, const Halide::Target &target, const LayerSchedule &options = {},
                        bool inference = true);

// Schedules every Func feeding `outputs` that is not in `skip`: for the pipelines
// autodiff produces, whose intermediate Funcs are not known by name in advance.
// naive materializes each Func; cpu adds parallel and vector loops; gpu maps them to GPU threads.
void schedule_gradients(const std::string &schedule, const std::vector<Halide::Func> &outputs,
                        const std::set<std::string> &skip, const Halide::Target &target);
// Pure Vars an update definition writes directly; parallel loops over them cannot race.
std::vector<Halide::Var> pure_update_vars(Halide::Func f, int update);

// Runs the named autoscheduler on a pipeline whose inputs and outputs carry estimates.
void autoschedule(Halide::Pipeline &pipeline, const std::string &name, const Halide::Target &target);

// Vector width for a dimension of `extent` float elements: the target's natural
// width, halved until it fits (1 means do not vectorize).
int vector_width_for(const Halide::Target &target, int extent);

}  // namespace cnngen

#include "../layers/backward.h"

namespace cnngen {

// Hand-derived backward passes (layers/backward.h): naive materializes each stage, cpu
// tiles the weight-gradient and input-gradient reductions like the forward convolutions.
// `inline_d_input`: a pooling's input gradient is left for its one reader to compute as it reads
// (an activation's gradient, reading each value once).
void schedule_backward(const std::string &schedule, const Gradients &gradients, const Halide::Target &target,
                       bool inline_d_input = false);

}  // namespace cnngen
