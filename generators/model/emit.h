#pragma once
// `cnngen build`: a model spec + a Halide target + a schedule -> a directory holding
// the static library, headers, a CMake config and a ready executable.
#include <string>

namespace cnngen {

struct BuildOptions {
    std::string spec_path;
    std::string target = "host";
    std::string schedule = "cpu";
    std::string out_dir;
    std::string name;            // overrides the spec's name (symbols, files, executable)
    bool executable = true;      // also link DIR/NAME
    bool training = true;        // also generate the training step
    std::string train_step;      // fused (one pipeline) or chained (per-layer kernels); empty: the schedule's
    bool emit_stmt = false;      // Halide's stmt and HTML per function, for inspection
    bool profile = false;        // Halide's profiler in every function
    bool verbose = false;
};

// Throws ConfigError on bad input; DIR is written completely or left as it was.
void build_model(const BuildOptions &options);

}  // namespace cnngen
