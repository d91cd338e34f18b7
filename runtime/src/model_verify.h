#pragma once
// `MODEL verify`: the values a schedule must not change, so two builds of one model can be
// compared without knowing how either was scheduled (cnngen tune checks every candidate
// against the naive build this way).
#include "cnngen/model.h"

#include <string>

namespace cnngen {

// Computes the logits of seeded images at every built batch size and, when the library trains,
// the velocities and parameters after two seeded SGD steps, all from seeded initial weights.
// `write_dir` non-empty: writes them there as .npy files (atomically, one file each).
// `against_dir` non-empty: compares with the files another build wrote there; each tensor's
// largest difference must be within `tolerance` of its largest magnitude. Prints one line per
// tensor; returns 0 when all agree, 1 naming the first that does not.
int verify_model(Model &model, const std::string &write_dir, const std::string &against_dir, double tolerance);

}  // namespace cnngen
