#pragma once
// Halide's parallel loops for cnngen's calls, each split into one contiguous range of iterations
// per thread (OpenMP's static schedule) instead of Halide's iterations taken one at a time by
// whichever thread is free. Successive layers' loops run over the same order of samples, rows or
// channel blocks, so each thread reads mostly what it wrote itself: on this project's 2-vCPU
// machine, with its vCPUs far apart (a cache line's round trip between them 429-507 ns),
// LeNet-5's training step was slower on 2 threads than on 1 with Halide's pool (2189-2282
// against 2072-2127 us, three rounds; conv1's ReLU pass 0.113 against 0.037 ms in the profiler), its
// element-wise passes reading lines from the other core.
#include "cnngen/threads.h"  // set_parallel_threads

#include <HalideRuntime.h>

namespace cnngen {

// halide_do_par_for's contract: runs f(user_context, i, closure) for i in [min, min + extent),
// returns the first nonzero result. Loops nested in another, or started while another call
// holds the threads, run serially on the caller.
int static_do_par_for(void *user_context, halide_task_t f, int min, int extent, uint8_t *closure);

}  // namespace cnngen
