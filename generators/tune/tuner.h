#pragma once
// `cnngen tune`: searches schedule files for a model on the machine it runs on and writes the
// best one, every candidate built by `cnngen build`, checked against the naive build's values
// (`MODEL verify`) and timed by the library's own `bench`, optionally under a runner command.
#include <cstdint>
#include <string>
#include <vector>

namespace cnngen {

struct TuneOptions {
    std::string spec_path;
    std::string target = "host";
    std::string output;                 // the schedule file written
    std::string objective = "all";      // latency (batch 1), throughput, train or all (their geometric mean)
    double budget_seconds = 300;        // wall time, builds included
    int max_candidates = 0;             // 0: as many as the budget allows
    uint32_t seed = 1;
    std::string cache_dir;              // empty: $XDG_CACHE_HOME/cnngen/tune or ~/.cache/cnngen/tune
    std::string runner;                 // prefix for every run of a built executable (qemu-aarch64 -L ...)
    std::vector<std::string> starts;    // schedule files to start from; empty: SPEC's own (see tuner.cpp)
    int jobs = 2;                       // builds at once
    int threads = 0;                    // measuring threads; 0: every core
    int throughput_batch = 256;
    int repeats = 2;                    // timings per case, the fastest kept
    double seconds_per_case = 0.3;
    bool autoschedulers = true;
    // The build every candidate must reproduce: naive (autodiff gradients: independent of every
    // hand-written schedule) or cpu (for networks whose naive build takes too long; the cpu
    // build is itself checked against PyTorch by the tests).
    std::string reference = "naive";
};

// Throws ConfigError on bad input or when the cpu baseline itself fails to build or verify.
void tune_model(const TuneOptions &options);

}  // namespace cnngen
