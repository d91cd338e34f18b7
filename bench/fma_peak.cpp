// Measures this machine's float32 FMA throughput with all threads: independent FMA
// chains on the widest vectors the compiler targets (-march=native), no memory traffic.
// Prints GFLOP/s, the "peak" the benchmark's percentages refer to.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

// The target's own vectors: GCC splits a 64-byte vector on AVX2 through memory (built for
// Haswell on this machine, 2 threads: 35.9 GFLOP/s so, 229.8-233.5 with 32-byte vectors).
#ifdef __AVX512F__
using Vec = float __attribute__((vector_size(64)));
constexpr int kLanes = 16;
#else
using Vec = float __attribute__((vector_size(32)));
constexpr int kLanes = 8;
#endif
constexpr int kChains = 12;  // enough independent FMAs to hide latency
constexpr long kIterations = 20'000'000;

static float run_chains(float seed) {
    Vec acc[kChains];
    const Vec a = Vec{} + 0.999999f, b = Vec{} + 1e-7f * seed;
    for (int k = 0; k < kChains; ++k) acc[k] = Vec{} + float(k);
    for (long i = 0; i < kIterations; ++i)
        for (int k = 0; k < kChains; ++k) acc[k] = acc[k] * a + b;
    float sum = 0;
    for (int k = 0; k < kChains; ++k)
        for (int l = 0; l < kLanes; ++l) sum += acc[k][l];
    return sum;
}

int main(int argc, char **argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : int(std::thread::hardware_concurrency());
    std::vector<std::thread> workers;
    std::vector<float> sink(static_cast<size_t>(threads), 0.0f);
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { sink[size_t(t)] = run_chains(float(t + 1)); });
    for (auto &w : workers) w.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double flops = 2.0 * kLanes * kChains * double(kIterations) * threads;
    std::printf("%.1f\n", flops / seconds / 1e9);
    return sink[0] == 12345.0f;  // keeps the chains alive
}
