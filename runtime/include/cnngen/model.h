#pragma once
// Runs a generated model: owns parameters, optimizer state and activation buffers
// (allocated once, reused across calls) and calls the generated functions.
#include "model_description.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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
    int train_batch() const;                // 0 when the library has no training step
    std::vector<int> inference_batches() const;

    // PyTorch's default for Conv2d and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
    // and biases (kaiming_uniform with a = sqrt(5)); velocities zero.
    void initialize(uint32_t seed);
    std::vector<Tensor> &parameters() { return parameters_; }
    std::vector<Tensor> &velocities() { return velocities_; }
    const std::vector<Tensor> &parameters() const { return parameters_; }
    const std::vector<Tensor> &velocities() const { return velocities_; }

    // One .npy per parameter named by its state_dict key; errors name the tensor.
    void load_weights(const std::string &dir);
    void save_weights(const std::string &dir) const;

    // Logits for `count` images (count x C x H x W floats), count x classes floats.
    std::vector<float> logits(const float *images, int count);
    // One SGD step on exactly train_batch() images.
    StepResult train_step(const float *images, const int32_t *labels, const SgdSettings &sgd);

private:
    struct Bound;
    Bound &bound(PipelineKind kind, int batch);
    // A buffer argument: float or int32 data in PyTorch order, or neither for the
    // parameters and optimizer state the model owns.
    struct Slot {
        float *floats = nullptr;
        int32_t *ints = nullptr;
        std::vector<int> shape;
    };
    void invoke(const PipelineEntry &entry, const std::function<Slot(const std::string &)> &lookup,
                const SgdSettings *sgd = nullptr);
    // Binds images, labels, parameters and outputs to the function's arguments by name and calls it.
    void run(Bound &bound, const float *images, const int32_t *labels, const SgdSettings *sgd);
    void run_chained(Bound &bound, const float *images, const int32_t *labels, const SgdSettings &sgd);

    const ModelDescription &description_;
    std::vector<Tensor> parameters_, velocities_, next_parameters_, next_velocities_, gradients_;
    std::map<std::string, size_t> parameter_index_;  // by generated identifier
    std::map<std::pair<int, int>, std::unique_ptr<Bound>> bound_;
};

// Index of the largest value of each row.
std::vector<int> argmax_rows(const std::vector<float> &values, int columns);

}  // namespace cnngen
