#include "cnngen/trainer.h"

#include "atomic_file.h"
#include "cnngen/checkpoint.h"
#include "cnngen/error.h"
#include "cnngen/idx.h"
#include "cnngen/process_group.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

namespace cnngen {

namespace {

using Clock = std::chrono::steady_clock;

struct Dataset {
    IdxImages images;
    std::vector<int32_t> labels;
};

Dataset load_split(const Model &model, const std::string &dir, const std::string &prefix) {
    Dataset d;
    const std::string image_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
    const std::string label_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
    d.images = read_idx_images(image_path);
    d.labels = read_idx_labels(label_path);
    const auto &in = model.description().input_shape;
    if (in[0] != 1 || d.images.rows != in[1] || d.images.cols != in[2])
        runtime_fail("{}: images are 1x{}x{}, model {} expects {}x{}x{}", image_path, d.images.rows, d.images.cols,
                     model.description().name, in[0], in[1], in[2]);
    if (size_t(d.images.count) != d.labels.size())
        runtime_fail("{}: {} labels for {} images in {}", label_path, d.labels.size(), d.images.count, image_path);
    for (size_t k = 0; k < d.labels.size(); ++k)
        if (d.labels[k] < 0 || d.labels[k] >= model.classes())
            runtime_fail("{}: label {} of sample {} is outside 0..{}", label_path, d.labels[k], k, model.classes() - 1);
    return d;
}

double accuracy(Model &model, const Dataset &d) {
    const std::vector<float> logits = model.logits(d.images.pixels.data(), d.images.count);
    const std::vector<int> predicted = argmax_rows(logits, model.classes());
    int correct = 0;
    for (size_t k = 0; k < predicted.size(); ++k) correct += predicted[k] == d.labels[k];
    return double(correct) / double(std::max(1, d.images.count));
}

std::vector<int> epoch_order(int count, uint32_t seed, long long epoch, bool shuffle) {
    std::vector<int> order(static_cast<size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    if (shuffle) {
        // A fresh generator per epoch makes a resumed run draw the same batches.
        std::mt19937_64 rng(uint64_t(seed) * 1000003ULL + uint64_t(epoch));
        std::shuffle(order.begin(), order.end(), rng);
    }
    return order;
}

void draw_progress(long long epoch, int step_in_epoch, int steps, double loss, double acc, double img_per_s,
                   bool terminal) {
    if (!terminal && step_in_epoch % 100 != 0 && step_in_epoch != steps) return;
    const int width = 30, filled = int(double(step_in_epoch) / steps * width);
    std::fprintf(stderr, "%sepoch %lld [%s%s] %d/%d loss %.4f acc %.2f%% %.0f img/s%s", terminal ? "\r" : "",
                 epoch + 1, std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), '.').c_str(),
                 step_in_epoch, steps, loss, 100 * acc, img_per_s, terminal ? "" : "\n");
    if (terminal && step_in_epoch == steps) std::fprintf(stderr, "\n");
}

void plot_curves(const std::string &csv, const std::string &png) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        std::printf("gnuplot not found; curves are in %s only\n", csv.c_str());
        return;
    }
    const std::string script = fmt::format(
        "set terminal pngcairo size 900,500; set output '{png}'; set datafile separator ',';"
        "set key autotitle columnhead; set xlabel 'epoch'; set ylabel 'loss'; set y2label 'accuracy %';"
        "set y2tics; set ytics nomirror;"
        "plot '{csv}' using 1:2 with linespoints axes x1y1 title 'train loss',"
        " '' using 1:3 with linespoints axes x1y2 title 'train accuracy',"
        " '' using 1:4 with linespoints axes x1y2 title 'test accuracy'",
        fmt::arg("png", png), fmt::arg("csv", csv));
    const std::string command = "gnuplot -e \"" + script + "\" 2>/dev/null";
    if (std::system(command.c_str()) == 0) std::printf("curves: %s, %s\n", csv.c_str(), png.c_str());
}

}  // namespace

float learning_rate_at(const TrainOptions &o, long long step) {
    switch (o.lr_policy) {
    case LrPolicy::fixed: return o.sgd.learning_rate;
    case LrPolicy::step: return o.sgd.learning_rate * std::pow(o.lr_gamma, float(step / o.lr_stepsize));
    case LrPolicy::inv: return o.sgd.learning_rate * std::pow(1.0f + o.lr_gamma * float(step), -o.lr_power);
    }
    return o.sgd.learning_rate;
}

namespace {

// The global batch: `processes` ranks each run the library's training batch.
int global_batch(const Model &model, const TrainOptions &o, int processes) {
    const int batch = model.train_batch();
    const std::string &name = model.description().name;
    if (batch == 0) runtime_fail("{}: this build is for inference only: {}", name, model.description().inference_only);
    if (processes == 1) {
        if (o.batch != 0 && o.batch != batch)
            runtime_fail("--batch {}: {} was generated for training batch {}; set [build] train_batch = {} in the spec "
                         "and rebuild",
                         o.batch, name, batch, o.batch);
        return batch;
    }
    const int global = o.batch != 0 ? o.batch : batch * processes;
    if (global != batch * processes)
        runtime_fail("--batch {}: {} processes each run {}'s training batch of {}, so the global batch is {} x {} = {}{}",
                     o.batch, processes, name, batch, processes, batch, batch * processes,
                     o.batch % processes == 0
                         ? fmt::format("; for {} rebuild with cnngen build --train-batch {}", o.batch, o.batch / processes)
                         : std::string());
    if (!model.has_split_step())
        runtime_fail("{}: training over {} processes needs the split step (gradients, then the update), which this "
                     "library lacks: build it without --no-mpi (cnngen_add_model: DATA_PARALLEL), with a cnngen "
                     "configured with MPI support",
                     name, processes);
    return global;
}

// Rank 0's parameters, velocities and position on every process, after rank 0 alone read --init
// or --resume (the other machines need not have them).
void share_rank0_state(Model &model, TrainingState &state, ProcessGroup &processes) {
    std::vector<Tensor> parameters = model.parameters(), velocities = model.velocities();
    for (auto *set : {&parameters, &velocities})
        for (Tensor &t : *set) processes.broadcast(t.data.data(), t.data.size() * sizeof(float));
    processes.broadcast(&state.step, sizeof state.step);
    model.set_parameters(parameters);
    model.set_velocities(velocities);
}

// What the allreduces cost, for the report at the end of a data-parallel run.
struct ExchangeCost {
    size_t bytes_per_step = 0;
    double seconds = 0;
    long long steps = 0;
};

// Averages the gradients, the loss and the correct count (summed) over the processes, in one
// allreduce: the loss and the count ride at the end of the gradients.
Model::GradientExchange average_over(ProcessGroup &processes, ExchangeCost &cost) {
    return [&processes, &cost](std::vector<float> &gradients, StepResult &result) {
        gradients.push_back(result.loss);
        gradients.push_back(float(result.correct));  // exact: at most 2^24 images per step
        const auto started = Clock::now();
        processes.sum(gradients.data(), gradients.size());
        cost.seconds += std::chrono::duration<double>(Clock::now() - started).count();
        cost.bytes_per_step = gradients.size() * sizeof(float);
        ++cost.steps;
        result.correct = int(std::lround(gradients.back()));
        gradients.pop_back();
        result.loss = gradients.back() / float(processes.size());
        gradients.pop_back();
        const float scale = 1.0f / float(processes.size());
        for (float &g : gradients) g *= scale;
    };
}

// Every process applies the same update to the same sums, so all should hold rank 0's weights
// bit for bit; MPI does not promise that an allreduce gives every rank the same bits, so this
// checks it. A process whose weights differ names the tensor, and every process
// stops. Returns how many values were compared.
size_t check_same_weights(const Model &model, ProcessGroup &processes) {
    const std::vector<Tensor> mine = model.parameters();
    float differing = 0;
    size_t compared = 0;
    std::string first_difference;
    for (size_t k = 0; k < mine.size(); ++k) {
        std::vector<float> rank0 = mine[k].data;
        processes.broadcast(rank0.data(), rank0.size() * sizeof(float));
        compared += rank0.size();
        if (std::memcmp(rank0.data(), mine[k].data.data(), rank0.size() * sizeof(float)) == 0) continue;
        float largest = 0;
        for (size_t i = 0; i < rank0.size(); ++i) largest = std::max(largest, std::abs(rank0[i] - mine[k].data[i]));
        if (first_difference.empty())
            first_difference = fmt::format("'{}' differs from rank 0's by up to {}", model.description().parameters[k].name,
                                           largest);
        ++differing;
    }
    processes.sum(&differing, 1);
    if (differing > 0)
        runtime_fail("the processes' weights diverged ({} tensors differ from rank 0's, over all processes){}",
                     differing, first_difference.empty() ? std::string() : ": here " + first_difference);
    return compared;
}

}  // namespace

double train(Model &model, const TrainOptions &o) {
    ProcessGroup alone;
    return train(model, o, alone);
}

double train(Model &model, const TrainOptions &o, ProcessGroup &processes) {
    const int ranks = processes.size(), rank = processes.rank();
    const bool leader = rank == 0;  // prints, evaluates, writes curves and checkpoints
    const int batch = model.train_batch();
    const int global = global_batch(model, o, ranks);
    if (o.epochs < 1) runtime_fail("--epochs {}: expected at least 1", o.epochs);
    if (!(o.sgd.learning_rate > 0)) runtime_fail("--lr {}: expected a positive learning rate", o.sgd.learning_rate);

    const Dataset train_set = load_split(model, o.data_dir, "train");
    std::optional<Dataset> test_set;
    const std::string test_images = o.data_dir + "/t10k-images-idx3-ubyte";
    if (leader && (std::filesystem::exists(test_images) || std::filesystem::exists(test_images + ".gz")))
        test_set = load_split(model, o.data_dir, "t10k");
    else if (leader)
        std::printf("no test set in %s; skipping test accuracy\n", o.data_dir.c_str());
    if (leader && o.until_accuracy > 0 && !test_set)
        runtime_fail("--until-accuracy {}: needs the test set t10k-images-idx3-ubyte[.gz] in {}", o.until_accuracy,
                     o.data_dir);
    if (ranks > 1) {  // every process must take the same number of steps, or the collectives would not pair up
        int rank0_count = train_set.images.count;
        processes.broadcast(&rank0_count, sizeof rank0_count);
        if (rank0_count != train_set.images.count)
            runtime_fail("{}: {} training images here, {} on rank 0: every process needs the same data", o.data_dir,
                         train_set.images.count, rank0_count);
    }
    if (train_set.images.count < global)
        runtime_fail("{}: {} training images, fewer than one batch of {}", o.data_dir, train_set.images.count, global);

    TrainingState state;
    state.seed = o.seed;
    state.lr_policy = o.lr_policy == LrPolicy::fixed ? "fixed" : o.lr_policy == LrPolicy::step ? "step" : "inv";
    model.initialize(o.seed);
    if (leader && !o.init_dir.empty()) model.load_weights(o.init_dir);
    if (leader && !o.resume_dir.empty()) {
        state = load_checkpoint(o.resume_dir, model);
        // The step counts updates: with another batch it would point elsewhere in the data.
        if (state.batch != 0 && state.batch != global)
            runtime_fail("--resume {}: the checkpoint was trained with a global batch of {}, this run's is {}; resume "
                         "with the same batch (and processes x training batch)",
                         o.resume_dir, state.batch, global);
        std::printf("resumed from %s at step %lld\n", o.resume_dir.c_str(), state.step);
    }
    state.batch = global;
    if (ranks > 1) {
        share_rank0_state(model, state, processes);
        if (leader)
            std::printf("training on %d processes: global batch %d, %d per process\n", ranks, global, batch);
    }
    ExchangeCost exchange_cost;
    const Model::GradientExchange exchange = average_over(processes, exchange_cost);
    if (leader) processes.set_stop_note(o.out_dir.empty() ? "no checkpoints: train with --out DIR to keep them"
                                                          : "no checkpoint written yet");

    const int steps_per_epoch = train_set.images.count / global;
    const int sample = model.sample_size();
    std::vector<float> images(size_t(batch) * size_t(sample));
    std::vector<int32_t> labels(static_cast<size_t>(batch), 0);
    const bool progress = o.progress && leader, terminal = progress && isatty(STDERR_FILENO);
    const std::string curves = (o.out_dir.empty() ? std::string("train") : o.out_dir) + "-curves";
    std::string csv = "epoch,train_loss,train_accuracy,test_accuracy,img_per_s,seconds\n";
    double test_acc = -1;
    const auto started = Clock::now();
    bool stop = false;

    for (long long epoch = state.step / steps_per_epoch; epoch < o.epochs && !stop; ++epoch) {
        const std::vector<int> order = epoch_order(train_set.images.count, o.seed, epoch, o.shuffle);
        double loss_sum = 0;
        long long seen = 0, correct = 0;
        const auto epoch_start = Clock::now();
        int step_in_epoch = int(state.step % steps_per_epoch);
        for (; step_in_epoch < steps_per_epoch; ++step_in_epoch) {
            for (int n = 0; n < batch; ++n) {  // this process's share of the global batch
                const int index = order[size_t(step_in_epoch) * global + size_t(rank) * batch + n];
                std::copy_n(train_set.images.pixels.begin() + long(index) * sample, sample,
                            images.begin() + long(n) * sample);
                labels[size_t(n)] = train_set.labels[size_t(index)];
            }
            SgdSettings sgd = o.sgd;
            sgd.learning_rate = learning_rate_at(o, state.step);
            const StepResult r = ranks == 1 ? model.train_step(images.data(), labels.data(), sgd)
                                            : model.train_step(images.data(), labels.data(), sgd, exchange);
            if (!std::isfinite(r.loss)) {
                if (terminal) std::fprintf(stderr, "\n");
                runtime_fail("step {}: loss became {}; stopping{}", state.step + 1, r.loss,
                             o.out_dir.empty() ? std::string()
                                               : fmt::format(", the last good checkpoint stays in {}", o.out_dir));
            }
            ++state.step;
            loss_sum += r.loss * global;
            correct += r.correct;
            seen += global;
            const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
            if (progress)
                draw_progress(epoch, step_in_epoch + 1, steps_per_epoch, loss_sum / seen, double(correct) / seen,
                              seen / std::max(seconds, 1e-9), terminal);
            if (o.max_steps > 0 && state.step >= o.max_steps) {
                stop = true;
                ++step_in_epoch;
                break;
            }
        }
        const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        if (terminal && stop) std::fprintf(stderr, "\n");
        if (test_set) test_acc = accuracy(model, *test_set);
        const double img_per_s = seen / std::max(seconds, 1e-9);
        if (leader) {
            std::printf("epoch %lld: train loss %.4f, train accuracy %.2f%%, test accuracy %s, %.0f img/s, %.1f s\n",
                        epoch + 1, seen ? loss_sum / seen : 0.0, seen ? 100.0 * correct / seen : 0.0,
                        test_set ? fmt::format("{:.2f}%", 100 * test_acc).c_str() : "n/a", img_per_s, seconds);
            std::fflush(stdout);
            csv += fmt::format("{},{:.6f},{:.4f},{:.4f},{:.1f},{:.2f}\n", epoch + 1, seen ? loss_sum / seen : 0.0,
                               seen ? 100.0 * correct / seen : 0.0, test_set ? 100 * test_acc : -1.0, img_per_s,
                               seconds);
            if (!o.out_dir.empty()) {
                save_checkpoint(o.out_dir, model, state);
                processes.set_stop_note(fmt::format("the last checkpoint, {}, holds step {}: continue with --resume {}",
                                                    o.out_dir, state.step, o.out_dir));
            }
        }
        if (o.until_accuracy > 0) {
            // Only rank 0 evaluates: every process stops where it says.
            char reached = leader && 100 * test_acc >= o.until_accuracy;
            processes.broadcast(&reached, 1);
            if (reached && leader)
                std::printf("reached %.2f%% test accuracy (target %.2f%%) after %lld epochs, %.1f s of training\n",
                            100 * test_acc, o.until_accuracy, epoch + 1,
                            std::chrono::duration<double>(Clock::now() - started).count());
            stop = stop || reached;
        }
    }
    if (ranks > 1) {
        const size_t compared = check_same_weights(model, processes);
        if (leader) {
            std::printf("weights identical on all %d processes (%zu values compared)\n", ranks, compared);
            const double steps = double(std::max(1LL, exchange_cost.steps));
            const double training = std::chrono::duration<double>(Clock::now() - started).count();
            std::printf("allreduce: %zu bytes per step, %.3f ms per step on rank 0 with its waits for the others "
                        "(%.1f%% of the run)\n",
                        exchange_cost.bytes_per_step, 1e3 * exchange_cost.seconds / steps,
                        100 * exchange_cost.seconds / std::max(training, 1e-9));
        }
    }
    if (!leader) return -1;
    if (o.until_accuracy > 0 && !(100 * test_acc >= o.until_accuracy))
        std::printf("did not reach %.2f%% test accuracy in %lld steps\n", o.until_accuracy, state.step);
    write_file_atomically(curves + ".csv", csv);
    plot_curves(curves + ".csv", curves + ".png");
    std::printf("trained %lld steps in %.1f s\n", state.step,
                std::chrono::duration<double>(Clock::now() - started).count());
    return test_acc;
}

}  // namespace cnngen
