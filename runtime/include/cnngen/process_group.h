#pragma once
// The processes one data-parallel training run is spread over: this process alone, or the
// ranks of an MPI job (cnngen/mpi_processes.h, in libcnngen_mpi.a, which only executables
// built with MPI support link). Every process makes the same calls in the same order.
#include <cstddef>
#include <memory>
#include <string>

namespace cnngen {

class ProcessGroup {
public:
    virtual ~ProcessGroup() = default;
    virtual int rank() const { return 0; }
    virtual int size() const { return 1; }
    // Element-wise sums over every process, in place: all processes end with the same values.
    virtual void sum(float *values, size_t count) { (void)values, (void)count; }
    // Every process ends with rank 0's `count` bytes.
    virtual void broadcast(void *bytes, size_t count) { (void)bytes, (void)count; }
    // Ends every process of the run with `exit_code`; this one has said why.
    [[noreturn]] virtual void abort(int exit_code);
    // What this process prints if the launcher ends it (mpirun does when another process
    // dies): where the run stood, so the user knows what to resume from.
    virtual void set_stop_note(const std::string &note) { (void)note; }
};

// How an executable joins the processes it was started with: null for one process.
using JoinProcesses = std::unique_ptr<ProcessGroup> (*)();

// How many processes the launcher started this one with: Open MPI's OMPI_COMM_WORLD_SIZE, or
// PMI_SIZE (MPICH, Slurm); 1 when started alone.
int launched_process_count();

}  // namespace cnngen
