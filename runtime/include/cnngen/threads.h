#pragma once
// How many threads a model call's parallel loops use (runtime/src/parallel_loops.h says how
// they are shared out).

namespace cnngen {

// From the next parallel loop on, the caller included; 0: HL_NUM_THREADS, else every core this
// process may run on. Waits for a loop running in another thread to finish first. Halide's
// halide_set_num_threads no longer reaches cnngen's calls (their loops run on these threads).
void set_parallel_threads(int threads);

}  // namespace cnngen
