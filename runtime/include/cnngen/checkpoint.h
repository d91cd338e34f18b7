#pragma once
// Checkpoints: the weights (one .npy per state_dict key, loadable by `predict --weights`),
// the optimizer's velocities under optimizer/, and the training position in state.txt.
// DIR is a symbolic link to a complete sibling directory, replaced atomically, so a
// crash at any moment leaves either the old or the new checkpoint.
#include "model.h"

#include <string>

namespace cnngen {

struct TrainingState {
    long long step = 0;     // updates done
    uint32_t seed = 1;
    std::string lr_policy;  // recorded for information
    int batch = 0;          // images per update (all processes' together); 0: not recorded
};

void save_checkpoint(const std::string &dir, const Model &model, const TrainingState &state);
// Loads weights, velocities and state; throws RuntimeError naming the file at fault.
TrainingState load_checkpoint(const std::string &dir, Model &model);

}  // namespace cnngen
