#pragma once
// Jobs run in child processes forked from the caller, several at a time. `cnngen build` compiles
// its functions this way: Halide lowers a pipeline on one thread, and its global name counters
// make a function's code depend on what the process compiled before it. Forked from one state,
// every function's bytes are the same whatever the number of jobs and the order they finish in.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace cnngen {

struct ForkedJob {
    std::string name;           // in messages, and the name of its error file
    std::function<void()> run;  // runs in the child; throws to fail
};

// Runs every job in a child forked from the caller's state as it is on entry, at most `parallel`
// at a time (0: one per hardware thread), and calls finished(index, seconds) here as each ends.
// The first job to fail (with several at once, whichever fails first) stops the others; its
// exception is rethrown here with its message and kind (ConfigError, Halide::CompileError, else
// std::runtime_error; a crash is a std::runtime_error). `scratch` holds the children's error
// reports until they are read.
void run_forked(const std::vector<ForkedJob> &jobs, int parallel, const std::filesystem::path &scratch,
                const std::function<void(size_t index, double seconds)> &finished);

}  // namespace cnngen
