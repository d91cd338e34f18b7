#pragma once
// `cnngen build`: a model spec + a Halide target + a schedule -> a directory holding
// the static library, headers, a CMake config and a ready executable.
#include <string>
#include <vector>

namespace cnngen {

struct BuildOptions {
    std::string spec_path;
    std::string target = "host";
    std::string schedule;  // empty: the spec's own schedule file (NAME.schedule.toml beside it), else the
                           // best built-in for the target
    std::string out_dir;
    std::string name;            // overrides the spec's name (symbols, files, executable)
    bool executable = true;      // also link DIR/NAME
    bool training = true;        // also generate the training step
    std::string train_step;      // fused (one pipeline) or chained (per-layer kernels); empty: the schedule's
    // With a cnngen built with MPI support (and a host target): also the split training step,
    // and an executable that trains data-parallel under mpirun.
    bool mpi = true;
    std::vector<int> batch_sizes;  // override the spec's [build] batch_sizes; empty: the spec's
    int train_batch = 0;           // override the spec's [build] train_batch; 0: the spec's
    int forward_parts = 0;         // inference pipelines per batch size; 0: by the model's size
    int winograd = -1;             // cpu: 3x3 stride-1 convolutions' Winograd tile, 2 or 4; 0 none;
                                   // -1 by each layer's shape (PlanOptions::winograd_tile)
    int jobs = 0;                  // functions generated at once, each in a process of its own; 0:
                                   // CNNGEN_JOBS, else one per hardware thread
    bool emit_stmt = false;      // Halide's stmt and HTML per function, for inspection
    bool profile = false;        // Halide's profiler in every function
    bool verbose = false;
};

// Throws ConfigError on bad input; DIR is written completely or left as it was.
void build_model(const BuildOptions &options);

}  // namespace cnngen
