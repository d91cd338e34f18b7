#pragma once
// The state one call of a generated function carries through Halide's `user_context`: where
// Halide's error messages go, and the scratch memory its large intermediate buffers come from.
// Nothing process-wide is changed: the hooks installed once chain to whatever handlers were
// there before and act only on contexts made here, so an application's own Halide code, or a
// second model, keeps its behaviour.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace cnngen {

// Host memory handed to generated code: at least what Halide's own allocator guarantees, which
// generated code may rely on for aligned vector loads.
constexpr size_t kHostAlignment = 128;

// Blocks handed out for the intermediate buffers of one call at a time and kept for the next,
// so a call neither maps nor page-faults fresh memory (glibc would mmap each large block).
class ScratchArena {
public:
    ScratchArena() = default;
    ScratchArena(const ScratchArena &) = delete;
    ScratchArena &operator=(const ScratchArena &) = delete;
    ~ScratchArena();
    void *allocate(size_t bytes);
    bool release(void *block);  // false: not one of this arena's

private:
    struct Block {
        void *memory;
        size_t bytes;
        bool in_use;
    };
    mutable std::mutex mutex_;  // a call's parallel loops allocate from several threads
    std::vector<Block> blocks_;
};

class CallContext {
public:
    CallContext();
    // Pass as the generated function's user context.
    void *user_context() { return this; }
    // Messages Halide reported since the last clear(), joined.
    std::string error() const;
    void clear_error();

    void record_error(const char *message);
    ScratchArena &arena() { return arena_; }

    // The context behind a user_context value, or null when it is not one of ours.
    static CallContext *from(void *user_context);

private:
    uint64_t tag_;
    mutable std::mutex error_mutex_;
    std::string error_;
    ScratchArena arena_;
};

}  // namespace cnngen
