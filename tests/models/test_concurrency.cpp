// One Model shared by many threads (model.h's threading contract): concurrent logits() calls
// each equal the call made alone; parameter changes are never seen half-done; errors stay
// with the call that caused them, in the C++ and the C interface.
#include "model_references.h"

#include <catch2/catch.hpp>
#include <cnngen/cnngen.h>
#include <cnngen/model.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include <unistd.h>

#include "lenet5.h"
#include "lenet5_c.h"
#include "lenet5_fused.h"
#include "parallel_loops.h"  // the runtime's own (runtime/src)

namespace {

constexpr int kThreads = 4;
constexpr int kCallsPerThread = 300;

std::vector<float> random_images(int count, int sample_size, uint32_t seed) {
    return cnngen_test::random_floats(size_t(count) * sample_size, seed, 0.0f, 1.0f);
}

// Each thread has its own images; every third call is a batch the library was built for
// (64), the others batch 1 or an odd count that is padded.
struct Work {
    std::vector<float> images;
    std::vector<std::vector<float>> expected;  // by call kind
};

int count_for(int call) { return call % 3 == 0 ? 64 : call % 3 == 1 ? 1 : 5; }

void check_concurrent_logits(const cnngen::ModelDescription &description) {
    INFO(description.name << " (" << description.schedule << ")");
    cnngen::Model model(description);
    model.initialize(7);
    std::vector<Work> work(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        work[t].images = random_images(64, model.sample_size(), 100 + t);
        for (int kind = 0; kind < 3; ++kind) work[t].expected.push_back(model.logits(work[t].images.data(), count_for(kind)));
    }
    std::atomic<int> differences{0}, calls{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int call = 0; call < kCallsPerThread; ++call) {
                const std::vector<float> got = model.logits(work[t].images.data(), count_for(call));
                if (got != work[t].expected[size_t(call % 3)]) ++differences;
                ++calls;
            }
        });
    for (std::thread &t : threads) t.join();
    INFO(differences << " of " << calls << " concurrent calls differ from the same call made alone");
    CHECK(calls == kThreads * kCallsPerThread);
    CHECK(differences == 0);
}

// Three readers call logits(images, count) until `change` has run 40 rounds and they have made
// 200 calls (so they overlap it); counts the results that are neither `a` nor `b`.
struct MixCount {
    int mixed, calls;
};
MixCount count_mixed_results(cnngen::Model &model, const std::vector<float> &images, int count,
                             const std::vector<float> &a, const std::vector<float> &b,
                             const std::function<void(int round)> &change) {
    std::atomic<bool> done{false};
    std::atomic<int> mixed{0}, calls{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&] {
            while (!done) {
                const std::vector<float> got = model.logits(images.data(), count);
                if (got != a && got != b) ++mixed;
                ++calls;
            }
        });
    for (int round = 0; round < 40 || calls < 200; ++round) change(round);
    done = true;
    for (std::thread &t : readers) t.join();
    return {mixed, calls};
}

}  // namespace

TEST_CASE("concurrent logits() on one model equal the serial results", "[concurrency]") {
    check_concurrent_logits(lenet5_model());
    check_concurrent_logits(lenet5_fused_model());
}

TEST_CASE("inference beside initialize and load_weights sees old or new weights, never a mix", "[concurrency]") {
    cnngen::Model model(lenet5_model());
    const std::vector<float> images = random_images(64, model.sample_size(), 3);
    const auto dir = std::filesystem::temp_directory_path() / ("cnngen_concurrency_" + std::to_string(::getpid()));
    model.initialize(1);
    const std::vector<float> first = model.logits(images.data(), 64);
    model.save_weights((dir / "first").string());
    model.initialize(2);
    const std::vector<float> second = model.logits(images.data(), 64);
    model.save_weights((dir / "second").string());
    REQUIRE(first != second);

    // Writers change parameters until the readers have made enough calls to overlap them.
    const MixCount result = count_mixed_results(model, images, 64, first, second, [&](int round) {
        if (round % 2) model.load_weights((dir / (round % 4 == 1 ? "first" : "second")).string());
        else model.initialize(round % 4 == 0 ? 1 : 2);
    });
    std::filesystem::remove_all(dir);
    INFO(result.mixed << " of " << result.calls << " inferences saw neither weight set");
    CHECK(result.mixed == 0);
}

TEST_CASE("inference beside train_step sees the weights before or after a step, never a mix", "[concurrency]") {
    cnngen::Model model(lenet5_model());
    const int batch = model.train_batch();
    const std::vector<float> images = random_images(batch, model.sample_size(), 4);
    std::vector<int32_t> labels(static_cast<size_t>(batch));
    for (int n = 0; n < batch; ++n) labels[size_t(n)] = n % 10;
    const cnngen::SgdSettings sgd{0.1f, 0.0f, 0.0f};
    model.initialize(5);
    const std::vector<cnngen::Tensor> before = model.parameters();
    const std::vector<float> old_logits = model.logits(images.data(), batch);
    // Momentum 0: a step from `before` on this batch always gives the same weights.
    model.train_step(images.data(), labels.data(), sgd);
    const std::vector<float> new_logits = model.logits(images.data(), batch);
    REQUIRE(old_logits != new_logits);

    const MixCount result = count_mixed_results(model, images, batch, old_logits, new_logits, [&](int) {
        model.set_parameters(before);
        model.train_step(images.data(), labels.data(), sgd);
    });
    INFO(result.mixed << " of " << result.calls << " inferences saw neither the old nor the new weights");
    CHECK(result.mixed == 0);
}

TEST_CASE("an error in one thread stays with its call; the others succeed", "[concurrency][errors]") {
    cnngen::Model model(lenet5_model());
    const std::vector<float> images = random_images(1, model.sample_size(), 9);
    const std::vector<float> expected = model.logits(images.data(), 1);
    std::atomic<int> wrong{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int call = 0; call < 200; ++call) {
                if (t == 0) {
                    try {
                        model.logits(nullptr, 3);
                    } catch (const std::exception &e) {
                        if (std::string(e.what()).find("3 images from a null pointer") != std::string::npos) ++errors;
                    }
                } else if (model.logits(images.data(), 1) != expected) {
                    ++wrong;
                }
            }
        });
    for (std::thread &t : threads) t.join();
    CHECK(errors == 200);
    CHECK(wrong == 0);
}

TEST_CASE("the C interface is safe to share between threads, errors per thread", "[concurrency][c]") {
    cnngen_model *model = cnngen_model_create(lenet5_description());
    REQUIRE(model);
    const int sample = cnngen_model_sample_size(model), classes = cnngen_model_classes(model);
    const std::vector<float> images = random_images(64, sample, 21);
    // Alone, per count: batch 1 and batch 64 are different functions, summing in other orders.
    std::vector<float> expected(size_t(64) * classes), expected_single(static_cast<size_t>(classes));
    REQUIRE(cnngen_model_logits(model, images.data(), 64, expected.data()) == 0);
    REQUIRE(cnngen_model_logits(model, images.data(), 1, expected_single.data()) == 0);
    std::atomic<int> wrong{0}, reported{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            std::vector<float> logits(size_t(64) * classes);
            for (int call = 0; call < 150; ++call) {
                if (t == 0 && call % 2) {
                    const bool failed = cnngen_model_logits(model, images.data(), -1, logits.data()) != 0;
                    if (failed && std::string(cnngen_last_error()).find("-1 images") != std::string::npos) ++reported;
                    continue;
                }
                const int count = call % 2 ? 64 : 1;
                const std::vector<float> &alone = count == 1 ? expected_single : expected;
                if (cnngen_model_logits(model, images.data(), count, logits.data()) != 0 ||
                    !std::equal(logits.begin(), logits.begin() + count * classes, alone.begin()))
                    ++wrong;
            }
        });
    for (std::thread &t : threads) t.join();
    cnngen_model_destroy(model);
    CHECK(reported == 75);
    CHECK(wrong == 0);
}

// The runtime's static split of Halide's parallel loops (parallel_loops.h), on its own: every
// iteration exactly once for extents around the thread count and below it, the first error
// returned, nested loops and loops started from several threads at once.
namespace {

struct Counts {
    std::vector<std::atomic<int>> runs;
    std::vector<int> fail_at;  // these iterations return 7 + their index in the list
    std::thread::id caller = std::this_thread::get_id();
    std::atomic<int> elsewhere{0};  // iterations run on a thread other than the caller's
    explicit Counts(size_t n) : runs(n) {}
};

int count_iteration(void *, int i, uint8_t *closure) {
    auto *counts = reinterpret_cast<Counts *>(closure);
    counts->runs.at(size_t(i)).fetch_add(1);
    if (std::this_thread::get_id() != counts->caller) counts->elsewhere.fetch_add(1);
    for (size_t k = 0; k < counts->fail_at.size(); ++k)
        if (counts->fail_at[k] == i) return 7 + int(k);
    return 0;
}

// The default thread count again when a test case ends, passed or not.
struct DefaultThreadsAfter {
    ~DefaultThreadsAfter() { cnngen::set_parallel_threads(0); }
};

int nested_iteration(void *user_context, int i, uint8_t *closure) {
    auto *counts = reinterpret_cast<Counts *>(closure);
    // Each outer iteration runs an inner loop over its own slice of 10.
    Counts inner(10);
    const int r = cnngen::static_do_par_for(user_context, count_iteration, 0, 10, reinterpret_cast<uint8_t *>(&inner));
    for (auto &c : inner.runs)
        if (c.load() != 1) return 1;
    counts->runs.at(size_t(i)).fetch_add(1);
    return r;
}

void check_once_each(int threads, int min, int extent) {
    INFO("threads " << threads << ", iterations " << min << " to " << min + extent);
    cnngen::set_parallel_threads(threads);
    Counts counts(size_t(min + extent));
    REQUIRE(cnngen::static_do_par_for(nullptr, count_iteration, min, extent, reinterpret_cast<uint8_t *>(&counts)) == 0);
    for (int i = 0; i < min + extent; ++i) CHECK(counts.runs[size_t(i)].load() == (i >= min ? 1 : 0));
    // Split, not run serially: a range of its own on another thread (the caller takes the first).
    if (threads > 1 && extent > 1) CHECK(counts.elsewhere.load() > 0);
}

}  // namespace

TEST_CASE("parallel loops split statically run every iteration once", "[concurrency][parallel_loops]") {
    DefaultThreadsAfter reset;
    for (int threads : {1, 2, 3, 5})
        for (int extent : {0, 1, 2, 3, 4, 7, 64, 1001}) check_once_each(threads, extent % 3, extent);
}

TEST_CASE("parallel loops split statically return the first error", "[concurrency][parallel_loops]") {
    DefaultThreadsAfter reset;
    cnngen::set_parallel_threads(2);
    for (int fail_at : {0, 49, 50, 99}) {
        Counts counts(100);
        counts.fail_at = {fail_at};
        CHECK(cnngen::static_do_par_for(nullptr, count_iteration, 0, 100, reinterpret_cast<uint8_t *>(&counts)) == 7);
        CHECK(counts.runs[size_t(fail_at)].load() == 1);
    }
    // A failure in each thread's range: either error, the one that came first.
    Counts counts(100);
    counts.fail_at = {10, 90};
    const int result = cnngen::static_do_par_for(nullptr, count_iteration, 0, 100, reinterpret_cast<uint8_t *>(&counts));
    CHECK((result == 7 || result == 8));
}

TEST_CASE("nested and concurrent loops split statically run every iteration once", "[concurrency][parallel_loops]") {
    DefaultThreadsAfter reset;
    cnngen::set_parallel_threads(2);
    Counts outer(16);
    REQUIRE(cnngen::static_do_par_for(nullptr, nested_iteration, 0, 16, reinterpret_cast<uint8_t *>(&outer)) == 0);
    for (auto &c : outer.runs) CHECK(c.load() == 1);
    // The threads are free again after the nested loops: the next loop is split.
    Counts after(64);
    REQUIRE(cnngen::static_do_par_for(nullptr, count_iteration, 0, 64, reinterpret_cast<uint8_t *>(&after)) == 0);
    CHECK(after.elsewhere.load() > 0);
    // Callers at once: one holds the threads, the others run serially; each sees its own loop whole.
    std::vector<std::thread> callers;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t)
        callers.emplace_back([&failures] {
            for (int round = 0; round < 200; ++round) {
                Counts counts(37);
                const int r = cnngen::static_do_par_for(nullptr, count_iteration, 0, 37, reinterpret_cast<uint8_t *>(&counts));
                for (auto &c : counts.runs)
                    if (c.load() != 1) failures.fetch_add(1);
                if (r != 0) failures.fetch_add(1);
            }
        });
    for (std::thread &t : callers) t.join();
    CHECK(failures.load() == 0);
}
