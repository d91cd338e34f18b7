#pragma once
// Runs a generated model: owns parameters, optimizer state and activation buffers
// (allocated once, reused across calls) and calls the generated functions, binding each
// argument by the position and role the generator recorded.
//
// Threads: logits() may be called concurrently from any number of threads on one Model;
// each call gets exactly the result it would get alone (parameters are shared read-only,
// every call has its own scratch buffers and error report, taken from a pool and reused).
// train_step(), load_weights(), initialize() and set_*() change parameters: they wait until
// running logits() calls finish and hold later ones back until they are done, so an inference
// sees the old or the new weights, never a mix. save_weights() and parameters() may run beside
// logits(). The first logits() call after a training step repacks the weights inference reads
// packed (the others beside it wait for that, once).
//
// GPU libraries: parameters, velocities and a call's activations live on the device from the
// first call on; images and labels go up once per call and only what the caller reads (logits,
// the loss, parameters when saved or asked for) comes back. Device memory is freed with the Model.
#include "model_description.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace cnngen {

struct Tensor {
    std::vector<int> shape;  // PyTorch order
    std::vector<float> data;
};

struct SgdSettings {
    float learning_rate = 0.01f;
    float momentum = 0.9f;
    float weight_decay = 0.0f;
};

struct DeviceInfo {
    std::string description;  // "CPU"; "opencl: <device> (<platform>)"; or why there is no device
    bool available = true;    // false: a GPU library that found no usable device
};

struct StepResult {
    float loss = 0;
    int correct = 0;  // arg-max of the logits equal to the label
};

class Model {
public:
    explicit Model(const ModelDescription &description);
    ~Model();
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;

    const ModelDescription &description() const { return description_; }
    int sample_size() const;                // C * H * W
    int classes() const { return description_.classes; }
    // One sample's output: {classes} for a classifier, (C, H, W) for a model ending in an image layer.
    const std::vector<int> &output_shape() const { return description_.layer_outputs.back(); }
    int train_batch() const;                // 0 when the library has no training step
    std::vector<int> inference_batches() const;

    // PyTorch's default for Conv2d and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
    // and biases (kaiming_uniform with a = sqrt(5)); velocities zero. Dropout's masks follow
    // from the seed too: each training step draws them from the next seed in turn.
    void initialize(uint32_t seed);
    // Copies of the current parameters and velocities (from the device on GPU libraries). A
    // library without a training step holds no velocities: asking for them is an error.
    std::vector<Tensor> parameters() const;
    std::vector<Tensor> velocities() const;
    // Replace them all; errors name the tensor whose shape differs.
    void set_parameters(const std::vector<Tensor> &values);
    void set_velocities(const std::vector<Tensor> &values);
    // The device the library's kernels run on: "CPU" for CPU libraries; for GPU libraries the
    // API and the device's name (opening the device if no call has yet).
    DeviceInfo device() const;

    // Host bytes of the parameters (one copy each, in whichever layout is held), where the library
    // trains the optimizer state (velocities, the step's next parameters and velocities, and a
    // chained step's gradients), and the packed copies inference reads beside the plain ones a
    // training step reads.
    struct StateBytes {
        size_t parameters = 0, optimizer = 0, packed_copies = 0;
    };
    StateBytes state_bytes() const;

    // One .npy per parameter named by its state_dict key; errors name the tensor.
    void load_weights(const std::string &dir);
    void save_weights(const std::string &dir) const;

    // Logits for `count` images (count x C x H x W floats), count x classes floats.
    std::vector<float> logits(const float *images, int count);
    // One SGD step on exactly train_batch() images.
    StepResult train_step(const float *images, const int32_t *labels, const SgdSettings &sgd);

    // Data-parallel training (cnngen/trainer.h over a ProcessGroup): the same step split where
    // the gradients are known and the update not yet made. `exchange` gets every gradient, in
    // parameter order, as one array, with this batch's loss and correct count, and may replace
    // them all (with their averages over the processes, say); the update then uses what it left.
    // Needs a split step: a library built with MPI support or with a chained step. The model is
    // locked for writing while `exchange` runs: it must not call back into the model.
    using GradientExchange = std::function<void(std::vector<float> &gradients, StepResult &result)>;
    StepResult train_step(const float *images, const int32_t *labels, const SgdSettings &sgd,
                          const GradientExchange &exchange);
    bool has_split_step() const;
    size_t gradient_count() const;  // elements of all gradients together (all parameters')

private:
    struct State;    // parameters and optimizer state, on the device for GPU libraries
    struct Scratch;  // one call's buffers and Halide context
    struct Call;     // what one call binds to the roles the model does not own
    class ScratchLease;
    std::unique_ptr<Scratch> take_scratch();
    void return_scratch(std::unique_ptr<Scratch> scratch);
    const PipelineEntry *find(PipelineKind kind, int batch, int layer = -1) const;
    // Calls a generated function, binding argument k to what arguments[k] names.
    void invoke(const PipelineEntry &entry, const Call &call, Scratch &scratch, const SgdSettings *sgd = nullptr);
    void bind_training_inputs(Call &call, const float *images, const int32_t *labels);
    void compute_gradients(Call &call, Scratch &scratch);  // a split step's first half
    void compute_logits(Call &call, Scratch &scratch);     // the forward pipeline, or its parts in turn
    void invoke_update(Call &call, Scratch &scratch, const SgdSettings &sgd);
    void adopt_next_state();
    // Parameter k from PyTorch-layout values, into the layouts the library reads it in.
    void store_parameter(size_t k, const float *values);
    // Packs what a training step changed, before an inference reads it.
    void refresh_packed();
    StepResult batch_result(Call &call, Scratch &scratch, const int32_t *labels);

    const ModelDescription &description_;
    std::unique_ptr<State> state_;
    // Shared: inference; exclusive: changes. A change first takes the turnstile, which new
    // inference calls pass through, so a steady stream of calls cannot starve it.
    mutable std::shared_mutex parameters_mutex_;
    mutable std::mutex turnstile_;
    std::shared_lock<std::shared_mutex> lock_for_reading() const;
    std::unique_lock<std::shared_mutex> lock_for_writing() const;
    std::mutex scratch_mutex_;
    std::vector<std::unique_ptr<Scratch>> idle_scratch_;
    std::unique_ptr<Scratch> training_scratch_;
};

// Index of the largest value of each row.
std::vector<int> argmax_rows(const std::vector<float> &values, int columns);
std::vector<int> argmax_rows(const float *values, int rows, int columns);

}  // namespace cnngen
