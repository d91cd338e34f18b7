#pragma once
// How many threads a model call's parallel loops use (runtime/src/parallel_loops.h says how
// they are shared out).

namespace cnngen {

// From the next call on, the caller included; 0: HL_NUM_THREADS, else every core. Waits for a
// running call's loop to finish first.
void set_parallel_threads(int threads);

}  // namespace cnngen
