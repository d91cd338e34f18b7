// serve WEIGHTS_DIR IMAGES_IDX [THREADS]: a fixed pool of worker threads takes images from a
// queue and classifies each with one shared model, as a request handler would; then checks
// every answer against one batched call.
#include <cnngen/error.h>
#include <cnngen/idx.h>
#include <cnngen/model.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "lenet5.h"

namespace {

// Image indices waiting for a worker; close() lets the workers finish.
class RequestQueue {
public:
    void push(int request) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            requests_.push_back(request);
        }
        ready_.notify_one();
    }
    void close() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }
    // The next request, or -1 once the queue is closed and empty.
    int pop() {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return closed_ || !requests_.empty(); });
        if (requests_.empty()) return -1;
        const int request = requests_.front();
        requests_.pop_front();
        return request;
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<int> requests_;
    bool closed_ = false;
};

}  // namespace

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s WEIGHTS_DIR IMAGES_IDX [THREADS]\n", argv[0]);
        return 2;
    }
    const int workers = argc > 3 ? std::atoi(argv[3]) : 4;
    try {
        cnngen::Model model(lenet5_model());  // one model for every worker
        model.load_weights(argv[1]);
        const cnngen::IdxImages images = cnngen::read_idx_images(argv[2]);
        std::vector<int> answers(size_t(images.count), -1);
        RequestQueue queue;
        const auto started = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int w = 0; w < workers; ++w)
            pool.emplace_back([&] {
                for (int request; (request = queue.pop()) >= 0;) {
                    const float *image = images.pixels.data() + size_t(request) * model.sample_size();
                    answers[size_t(request)] = cnngen::argmax_rows(model.logits(image, 1), model.classes())[0];
                }
            });
        for (int k = 0; k < images.count; ++k) queue.push(k);
        queue.close();
        for (std::thread &t : pool) t.join();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const std::vector<int> batched =
            cnngen::argmax_rows(model.logits(images.pixels.data(), images.count), model.classes());
        int mismatches = 0;
        for (size_t k = 0; k < batched.size(); ++k) mismatches += answers[k] != batched[k];
        std::printf("%d workers answered %d requests in %.3f s (%.0f img/s); %d differ from one batched call\n", workers,
                    images.count, seconds, images.count / seconds, mismatches);
        return mismatches == 0 ? 0 : 1;
    } catch (const cnngen::RuntimeError &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
