#pragma once
// The ranks of an MPI job as a ProcessGroup (libcnngen_mpi.a; link MPI's C library too).
#include "process_group.h"

namespace cnngen {

// Under mpirun: MPI_Init and a group of MPI_COMM_WORLD's ranks, finalized when destroyed, and
// a SIGTERM handler that prints the group's stop note and exits with 143. GPU libraries use
// Halide's default device (HL_GPU_DEVICE chooses; nothing here knows how many a machine has).
// Started alone: a group of this process, and MPI is never initialized.
std::unique_ptr<ProcessGroup> join_mpi_job();

}  // namespace cnngen
