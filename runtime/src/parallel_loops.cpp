#include "parallel_loops.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>

namespace cnngen {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// A spin's k-th pause; every 1024th gives the core up, so that with more threads than cores
// (tests side by side, processes sharing a machine) a spinning thread does not hold a core the
// thread it waits for needs.
void spin_pause(unsigned k) {
    if ((k & 1023) == 1023) std::this_thread::yield();
    else cpu_relax();
}

// Pauses a worker spins through before it sleeps (not timed here; a PAUSE takes tens to about 150
// cycles, by CPU), meant to outlast the serial work between two loops of a call, so a worker is
// awake for the next one without a wakeup.
constexpr unsigned kSpinRounds = 1 << 14;

// HL_NUM_THREADS, as Halide's pool reads it, else the cores this process may run on (its
// affinity mask: `taskset`, a container's cpuset).
int default_threads() {
    if (const char *env = std::getenv("HL_NUM_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) return n;
    }
#ifdef __linux__
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) return std::max(1, CPU_COUNT(&allowed));
#endif
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

struct Loop {
    void *user_context;
    halide_task_t f;
    int min, extent;
    uint8_t *closure;
};

// threads - 1 workers; thread k (the caller is 0) runs the k-th of `threads` equal ranges. Where
// the system refuses a thread, the pool keeps those it has.
class StaticPool {
public:
    explicit StaticPool(int threads) {
        for (int k = 1; k < threads; ++k) {
            try {
                workers_.emplace_back([this, k] { work(k); });
            } catch (const std::system_error &) {
                break;
            }
        }
        // Read by the workers only after run() publishes a loop (generation_).
        threads_ = int(workers_.size()) + 1;
    }
    StaticPool(const StaticPool &) = delete;
    StaticPool &operator=(const StaticPool &) = delete;
    ~StaticPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_.store(true, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        for (std::thread &t : workers_) t.join();
    }

    int threads() const { return threads_; }

    int run(const Loop &loop) {
        loop_ = loop;
        result_.store(0, std::memory_order_relaxed);
        pending_.store(threads_ - 1, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lock(mutex_);  // a sleeping worker checks under it
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        run_range(0);
        for (unsigned k = 0; pending_.load(std::memory_order_acquire) != 0; ++k) spin_pause(k);
        return result_.load(std::memory_order_relaxed);
    }

private:
    // Rounded up, so the first ranges take the remainder and the caller's is never empty.
    int range_start(int k) const { return loop_.min + int((int64_t(loop_.extent) * k + threads_ - 1) / threads_); }

    void run_range(int k) {
        const Loop &l = loop_;
        const int begin = range_start(k), end = range_start(k + 1);
        for (int i = begin; i < end && result_.load(std::memory_order_relaxed) == 0; ++i) {
            const int r = l.f(l.user_context, i, l.closure);
            if (r != 0) {
                int none = 0;
                result_.compare_exchange_strong(none, r, std::memory_order_relaxed);
            }
        }
    }

    void work(int k) {
        uint64_t seen = 0;
        for (;;) {
            for (unsigned spins = 0; generation_.load(std::memory_order_acquire) == seen && spins < kSpinRounds; ++spins)
                spin_pause(spins);
            if (generation_.load(std::memory_order_acquire) == seen) {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
            }
            seen = generation_.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_relaxed)) return;
            run_range(k);
            pending_.fetch_sub(1, std::memory_order_release);
        }
    }

    int threads_ = 1;
    std::vector<std::thread> workers_;
    Loop loop_{};  // written by the caller before generation_ moves, read by the workers after
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<int> result_{0};
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
};

// One pool for the process, held by one loop at a time (busy); made at the first loop, and
// never destroyed at exit (a call still running in another thread would wait on its workers).
std::atomic_flag busy = ATOMIC_FLAG_INIT;
StaticPool *pool = nullptr;  // guarded by busy
int requested_threads = 0;   // guarded by busy

// A forked child has the parent's pool but none of its threads (and maybe its busy flag, if
// another thread of the parent held it): it starts afresh, the old pool left unfreed.
void forget_pool_in_child() {
    pool = nullptr;
    busy.clear();
}

StaticPool *make_pool() {
    static const bool watching_forks = pthread_atfork(nullptr, nullptr, forget_pool_in_child) == 0;
    (void)watching_forks;
    return new StaticPool(requested_threads ? requested_threads : default_threads());
}

void acquire() {
    for (unsigned k = 0; busy.test_and_set(std::memory_order_acquire); ++k) spin_pause(k);
}

}  // namespace

void set_parallel_threads(int threads) {
    acquire();
    requested_threads = threads > 0 ? threads : 0;
    if (pool && pool->threads() != (requested_threads ? requested_threads : default_threads())) {
        delete pool;
        pool = nullptr;
    }
    busy.clear(std::memory_order_release);
}

int static_do_par_for(void *user_context, halide_task_t f, int min, int extent, uint8_t *closure) {
    if (extent > 1 && !busy.test_and_set(std::memory_order_acquire)) {
        if (!pool) pool = make_pool();
        if (pool->threads() > 1) {
            const int result = pool->run({user_context, f, min, extent, closure});
            busy.clear(std::memory_order_release);
            return result;
        }
        busy.clear(std::memory_order_release);
    }
    for (int i = min; i < min + extent; ++i)
        if (const int r = f(user_context, i, closure); r != 0) return r;
    return 0;
}

}  // namespace cnngen
