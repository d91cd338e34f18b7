#pragma once
#include "model_description.h"
#include "process_group.h"

namespace cnngen {

// The generated executable's main: `MODEL predict|bench|train|info ...`.
// Exit codes: 0 success, 1 bad input or failed run, 2 usage error.
// `join` (cnngen::join_mpi_job in executables built with MPI support) makes `train` one rank
// of a data-parallel run when started by mpirun.
int run_model_cli(int argc, char **argv, const ModelDescription &description, JoinProcesses join = nullptr);

}  // namespace cnngen
