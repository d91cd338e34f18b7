#pragma once
#include "model_description.h"

namespace cnngen {

// The generated executable's main: `MODEL predict|bench|train|info ...`.
// Exit codes: 0 success, 1 bad input or failed run, 2 usage error.
int run_model_cli(int argc, char **argv, const ModelDescription &description);

}  // namespace cnngen
