#pragma once
// The training loop: IDX data, shuffled mini-batches, SGD with a learning-rate policy,
// progress, test accuracy per epoch, curves (CSV + PNG) and atomic checkpoints.
#include "model.h"
#include "process_group.h"

#include <optional>
#include <string>

namespace cnngen {

enum class LrPolicy { fixed, step, inv };

struct TrainOptions {
    std::string data_dir;
    int epochs = 10;
    int batch = 0;  // global batch; 0: the library's training batch times the processes
    SgdSettings sgd;
    LrPolicy lr_policy = LrPolicy::fixed;
    float lr_gamma = 0.1f;    // step: factor per stepsize; inv: (1 + gamma * step)^-power
    int lr_stepsize = 10000;  // step policy, in updates
    float lr_power = 0.75f;   // inv policy
    uint32_t seed = 1;
    std::string init_dir, out_dir, resume_dir;
    long long max_steps = 0;  // 0: no limit
    double until_accuracy = 0;  // percent: stop after the first epoch whose test accuracy reaches it; 0: off
    bool shuffle = true;
    bool progress = true;
};

// The learning rate for update number `step` (0-based).
float learning_rate_at(const TrainOptions &options, long long step);

// Returns the final test accuracy (or -1 without a test set).
double train(Model &model, const TrainOptions &options);

// Data-parallel: every process of `processes` runs this with the same options. Each takes its
// share (the library's training batch) of every global batch of the same shuffled order,
// the gradients are averaged over all of them and every process makes the same update, so
// the run equals one process training with the global batch (options.batch: processes x
// the library's batch). Rank 0 alone reads --init and --resume (the others get its state),
// evaluates, prints, and writes curves and checkpoints; it returns the test accuracy, the
// others -1.
double train(Model &model, const TrainOptions &options, ProcessGroup &processes);

}  // namespace cnngen
