#include "cnngen/model_cli.h"


#include "cnngen/error.h"
#include "cnngen/idx.h"
#include "cnngen/model.h"
#include "cnngen/npy.h"
#include "cnngen/onnx_export.h"
#include "cnngen/process_group.h"
#include "cnngen/trainer.h"
#include "model_verify.h"
#include "parallel_loops.h"

#include <CLI/CLI.hpp>
#include <HalideRuntime.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace cnngen {

namespace {

using Clock = std::chrono::steady_clock;

struct Inputs {
    std::vector<float> images;
    int count = 0;
    std::vector<int32_t> labels;  // empty when unknown
};

bool is_npy(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    char magic[6] = {};
    in.read(magic, 6);
    return std::string(magic, 6) == "\x93NUMPY";
}

Inputs read_inputs(const Model &model, const std::string &path, const std::string &labels_path) {
    Inputs in;
    const auto &shape = model.description().input_shape;
    if (!std::filesystem::exists(path)) runtime_fail("{}: input file does not exist", path);
    if (is_npy(path)) {
        NpyArray a = read_npy(path);
        if (a.shape.size() != 4 || a.shape[1] != shape[0] || a.shape[2] != shape[1] || a.shape[3] != shape[2])
            runtime_fail("{}: shape ({}), expected (N, {}, {}, {})", path, fmt::join(a.shape, ", "), shape[0], shape[1],
                         shape[2]);
        in.count = a.shape[0];
        in.images = std::move(a.data);
    } else {
        IdxImages idx = read_idx_images(path);
        if (shape[0] != 1 || idx.rows != shape[1] || idx.cols != shape[2])
            runtime_fail("{}: images are 1x{}x{}, model {} expects {}x{}x{}", path, idx.rows, idx.cols,
                         model.description().name, shape[0], shape[1], shape[2]);
        in.count = idx.count;
        in.images = std::move(idx.pixels);
    }
    std::string label_file = labels_path;
    if (label_file.empty()) {
        // t10k-images-idx3-ubyte[.gz] -> t10k-labels-idx1-ubyte[.gz], when present.
        const auto at = path.find("images-idx3");
        if (at != std::string::npos) {
            std::string guess = path;
            guess.replace(at, 11, "labels-idx1");
            if (std::filesystem::exists(guess)) label_file = guess;
        }
    }
    if (!label_file.empty()) {
        in.labels = read_idx_labels(label_file);
        if (int(in.labels.size()) != in.count)
            runtime_fail("{}: {} labels for {} images in {}", label_file, in.labels.size(), in.count, path);
    }
    return in;
}

int predict(Model &model, const std::string &weights, const std::string &input, const std::string &labels,
            const std::string &logits_out, bool all) {
    model.load_weights(weights);
    const Inputs in = read_inputs(model, input, labels);
    const auto t0 = Clock::now();
    const std::vector<float> logits = model.logits(in.images.data(), in.count);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const bool classifier = model.output_shape().size() == 1;
    const std::vector<int> predicted = classifier ? argmax_rows(logits, model.classes()) : std::vector<int>{};
    const size_t shown = all ? predicted.size() : std::min<size_t>(predicted.size(), 20);
    if (classifier)
        fmt::print("predicted labels{}: {}\n", shown < predicted.size() ? fmt::format(" (first {} of {})", shown, predicted.size()) : "",
               fmt::join(predicted.begin(), predicted.begin() + long(shown), " "));
    fmt::print("{} images in {:.1f} ms: {:.0f} img/s\n", in.count, seconds * 1e3, in.count / std::max(seconds, 1e-9));
    if (classifier && !in.labels.empty()) {
        int correct = 0;
        for (size_t k = 0; k < predicted.size(); ++k) correct += predicted[k] == in.labels[k];
        fmt::print("accuracy: {:.2f}% ({}/{})\n", 100.0 * correct / std::max(1, in.count), correct, in.count);
    }
    if (!logits_out.empty()) {
        std::vector<int> shape{in.count};
        shape.insert(shape.end(), model.output_shape().begin(), model.output_shape().end());
        write_npy(logits_out, shape, logits.data());
        fmt::print("logits written to {}\n", logits_out);
    }
    return 0;
}

struct Timing {
    double median_seconds;
    double mean_seconds;
};

double median(std::vector<double> values) {
    std::nth_element(values.begin(), values.begin() + long(values.size() / 2), values.end());
    return values[values.size() / 2];
}

// Calls `fn` once to warm up (first calls allocate and start threads), then for at least
// `seconds` and 3 calls, timing each call.
Timing time_calls(double seconds, const std::function<void()> &fn) {
    fn();
    std::vector<double> times;
    const auto start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - start).count() < seconds || times.size() < 3) {
        const auto t0 = Clock::now();
        fn();
        times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    const double total = std::chrono::duration<double>(Clock::now() - start).count();
    return {median(times), total / double(times.size())};
}

// `callers` threads, each calling batch-1 logits() on the one shared model for `seconds`:
// median per-call latency and total img/s (the serving case of model.h's threading contract).
Timing time_concurrent_calls(Model &model, int callers, double seconds, const std::vector<float> &image) {
    model.logits(image.data(), 1);
    std::atomic<bool> stop{false};
    std::vector<std::vector<double>> times(static_cast<size_t>(callers));
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int t = 0; t < callers; ++t)
        threads.emplace_back([&, t] {
            while (!stop) {
                const auto t0 = Clock::now();
                model.logits(image.data(), 1);
                times[size_t(t)].push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            }
        });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (std::thread &t : threads) t.join();
    const double total = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> all;
    for (const auto &v : times) all.insert(all.end(), v.begin(), v.end());
    if (all.empty()) runtime_fail("bench: no call finished in {} s", seconds);
    return {median(all), total / double(all.size())};
}

// `only_batch` > 0: that batch's inference alone (its peak memory, measured from outside);
// `only_train`: the training step alone.
int bench(Model &model, double seconds_per_case, bool csv, int only_batch, bool only_train) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> pixel(0, 1);
    std::vector<std::vector<std::string>> rows;
    auto images_for = [&](int batch) {
        std::vector<float> v(size_t(batch) * model.sample_size());
        for (float &x : v) x = pixel(rng);
        return v;
    };
    std::vector<int> batches = model.inference_batches();
    if (only_batch > 0) {
        if (std::find(batches.begin(), batches.end(), only_batch) == batches.end())
            runtime_fail("bench --only-batch {}: the library has batch sizes {}", only_batch, fmt::join(batches, ", "));
        batches = {only_batch};
    }
    if (only_train) {
        if (!model.train_batch()) runtime_fail("bench --only-train: the library has no training step");
        batches.clear();
    }
    for (int batch : batches) {
        const std::vector<float> images = images_for(batch);
        const Timing t = time_calls(seconds_per_case, [&] { model.logits(images.data(), batch); });
        rows.push_back({"inference", std::to_string(batch), fmt::format("{:.1f}", t.median_seconds * 1e6),
                        fmt::format("{:.2f}", batch / t.mean_seconds)});
    }
    if (const int batch = only_batch > 0 ? 0 : model.train_batch()) {
        const std::vector<float> images = images_for(batch);
        std::vector<int32_t> labels(static_cast<size_t>(batch), 0);
        for (auto &l : labels) l = int32_t(rng() % unsigned(model.classes()));
        SgdSettings sgd;
        sgd.learning_rate = 1e-4f;
        const Timing t = time_calls(seconds_per_case, [&] { model.train_step(images.data(), labels.data(), sgd); });
        rows.push_back({"train_step", std::to_string(batch), fmt::format("{:.1f}", t.median_seconds * 1e6),
                        fmt::format("{:.2f}", batch / t.mean_seconds)});
    }
    // Last: after calls from several threads, training steps in the same process measured 3x
    // slower (the state Halide's thread pool is left in).
    if (only_batch == 0 && !only_train && std::find(batches.begin(), batches.end(), 1) != batches.end()) {
        const std::vector<float> image = images_for(1);
        for (int callers : {1, 2, 4}) {
            const Timing t = time_concurrent_calls(model, callers, seconds_per_case, image);
            rows.push_back({fmt::format("threads_{}", callers), "1", fmt::format("{:.1f}", t.median_seconds * 1e6),
                            fmt::format("{:.2f}", 1 / t.mean_seconds)});
        }
    }
    const auto &d = model.description();
    if (csv) {
        fmt::print("model,target,schedule,kind,batch,latency_us,img_per_s\n");
        for (const auto &r : rows) fmt::print("{},{},{},{}\n", d.name, d.target, d.schedule, fmt::join(r, ","));
    } else {
        fmt::print("{} ({}, schedule {})\n{:<11} {:>6} {:>14} {:>12}\n", d.name, d.target, d.schedule, "kind", "batch",
                   "latency_us", "img_per_s");
        for (const auto &r : rows) fmt::print("{:<11} {:>6} {:>14} {:>12}\n", r[0], r[1], r[2], r[3]);
    }
    return 0;
}

std::string with_commas(size_t value) {
    std::string digits = std::to_string(value), out;
    for (size_t k = 0; k < digits.size(); ++k) {
        if (k > 0 && (digits.size() - k) % 3 == 0) out += ',';
        out += digits[k];
    }
    return out;
}

double mib(size_t bytes) { return double(bytes) / (1024.0 * 1024.0); }

size_t product(const std::vector<int> &shape) {
    size_t count = 1;
    for (int e : shape) count *= size_t(e);
    return count;
}

// Per layer, as notes 004 accounts for VGG-16: the output volume and its activations per
// image, the layer's parameters; then what this model holds.
void print_memory(const Model &model) {
    const auto &d = model.description();
    fmt::print("memory (float32):\n  {:<14} {:<16} {:>14} {:>14}\n", "layer", "output", "activations", "parameters");
    size_t activations = product(d.input_shape), parameters = 0;
    fmt::print("  {:<14} {:<16} {:>14} {:>14}\n", "input", fmt::format("{}", fmt::join(d.input_shape, "x")),
               with_commas(activations), 0);
    for (size_t k = 0; k < d.layers.size(); ++k) {
        const std::string name = d.layers[k].substr(0, d.layers[k].find(' '));
        size_t weights = 0;
        for (const ParameterEntry &p : d.parameters)
            if (p.name.rfind(name + ".", 0) == 0) weights += product(p.shape);
        const size_t values = product(d.layer_outputs[k]);
        fmt::print("  {:<14} {:<16} {:>14} {:>14}\n", name, fmt::format("{}", fmt::join(d.layer_outputs[k], "x")),
                   with_commas(values), with_commas(weights));
        activations += values;
        parameters += weights;
    }
    fmt::print("  total: {} activations ({:.1f} MiB) per image with every output kept; {} parameters ({:.1f} MiB)\n",
               with_commas(activations), mib(activations * 4), with_commas(parameters), mib(parameters * 4));
    const Model::StateBytes held = model.state_bytes();
    fmt::print("held by this model: parameters {:.1f} MiB, optimizer state {:.1f} MiB, packed weight copies {:.1f} "
               "MiB{}\n",
               mib(held.parameters), mib(held.optimizer), mib(held.packed_copies),
               model.train_batch() ? "" : " (inference only)");
}

void info(const Model &model) {
    const auto &d = model.description();
    fmt::print("{}: input {}x{}x{}, {} classes, target {}, schedule {}\n", d.name, d.input_shape[0], d.input_shape[1],
               d.input_shape[2], d.classes, d.target, d.schedule);
    fmt::print("device: {}\n", model.device().description);
    for (const auto &l : d.layers) fmt::print("  {}\n", l);
    for (const auto &p : d.parameters) fmt::print("  {:<14} ({})\n", p.name, fmt::join(p.shape, ", "));
    for (const auto &e : d.pipelines) fmt::print("  {}\n", e.function_name);
    print_memory(model);
}

// Trains alone, or as one rank of an MPI job when the executable was built with MPI support
// and started by mpirun. A rank that fails says so and ends the whole job: the others would
// otherwise wait for it forever in the next allreduce.
int train_in_processes(Model &model, const TrainOptions &options, JoinProcesses join) {
    const int launched = launched_process_count();
    if (!join && launched > 1)
        runtime_fail("started as one of {} processes (mpirun), but {} was built without MPI support, so each would "
                     "train alone: rebuild it without --no-mpi, with a cnngen configured with Open MPI "
                     "(cmake -DCNNGEN_MPI=ON)",
                     launched, model.description().name);
    std::unique_ptr<ProcessGroup> processes = join ? join() : std::make_unique<ProcessGroup>();
    try {
        train(model, options, *processes);
        return 0;
    } catch (const std::exception &e) {
        if (processes->size() == 1) throw;
        fmt::print(stderr, "error: rank {} of {}: {}\n", processes->rank(), processes->size(), e.what());
        processes->abort(1);
    }
    return 1;  // not reached: abort ends the process
}

}  // namespace

int run_model_cli(int argc, char **argv, const ModelDescription &description, JoinProcesses join) {
    CLI::App app{fmt::format("{}: a CNN generated by cnngen (target {}, schedule {}).\n"
                             "Exit codes: 0 success, 1 bad input or failed run, 2 usage error.",
                             description.name, description.target, description.schedule)};
    app.require_subcommand(1);
    int threads = 0;
    app.add_option("--threads", threads, "Worker threads (default: all cores, or HL_NUM_THREADS)")->check(CLI::NonNegativeNumber);

    std::string weights, input, labels, logits_out;
    bool all_labels = false;
    CLI::App *predict_cmd = app.add_subcommand("predict", "Classify images from an IDX file or an .npy array (N,C,H,W)");
    predict_cmd->add_option("--weights", weights, "Directory with one .npy per parameter (state_dict names)")->required();
    predict_cmd->add_option("--input", input, "IDX image file (raw or .gz) or float32 .npy (N,C,H,W)")->required();
    predict_cmd->add_option("--labels", labels, "IDX label file (default: the input's sibling *-labels-idx1-ubyte)");
    predict_cmd->add_option("--logits", logits_out, "Write the logits (N, classes), or the output of a model ending in an image layer, to this .npy file");
    predict_cmd->add_flag("--all", all_labels, "Print every predicted label, not the first 20");

    double seconds = 1.0;
    int only_batch = 0;
    bool csv = false;
    CLI::App *bench_cmd = app.add_subcommand(
        "bench", "Batch-1 latency, img/s at every built batch size, batch 1 from 1, 2 and 4 threads sharing the model");
    bench_cmd->add_option("--seconds", seconds, "Time per measured case")->check(CLI::PositiveNumber)->capture_default_str();
    bench_cmd->add_flag("--csv", csv, "Print CSV instead of a table");
    bench_cmd->add_option("--only-batch", only_batch, "Only inference at this built batch size")
        ->check(CLI::PositiveNumber);
    bool only_train = false;
    bench_cmd->add_flag("--only-train", only_train, "Only the training step")->excludes("--only-batch");

    std::string verify_write, verify_against;
    double tolerance = 1e-4;
    CLI::App *verify_cmd = app.add_subcommand(
        "verify", "Logits and two SGD steps from seeded weights and data: write them, or compare with another build's");
    verify_cmd->add_option("--write", verify_write, "Write this build's values to this directory");
    verify_cmd->add_option("--against", verify_against, "Compare with the values another build of the model wrote here");
    verify_cmd->add_option("--tolerance", tolerance, "Largest difference allowed, relative to each tensor's largest value")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();

    TrainOptions t;
    std::string policy = "fixed";
    bool no_shuffle = false, quiet = false;
    CLI::App *train_cmd = app.add_subcommand("train", "Train with SGD on MNIST-format IDX files");
    train_cmd->add_option("--data", t.data_dir, "Directory with train-images-idx3-ubyte[.gz] and the three others")->required();
    train_cmd->add_option("--epochs", t.epochs, "Passes over the training set")->capture_default_str();
    train_cmd->add_option("--batch", t.batch, "Must equal the generated training batch (see `info`)")
        ->check(CLI::PositiveNumber);
    train_cmd->add_option("--lr", t.sgd.learning_rate, "Base learning rate")->capture_default_str();
    train_cmd->add_option("--momentum", t.sgd.momentum, "SGD momentum")->capture_default_str();
    train_cmd->add_option("--weight-decay", t.sgd.weight_decay, "L2 weight decay")->capture_default_str();
    train_cmd->add_option("--lr-policy", policy, "fixed, step (lr*gamma^floor(step/stepsize)) or inv (lr*(1+gamma*step)^-power)")
        ->check(CLI::IsMember({"fixed", "step", "inv"}))
        ->capture_default_str();
    train_cmd->add_option("--lr-gamma", t.lr_gamma, "gamma of the step and inv policies")->capture_default_str();
    train_cmd->add_option("--lr-stepsize", t.lr_stepsize, "Updates per step of the step policy")->capture_default_str();
    train_cmd->add_option("--lr-power", t.lr_power, "power of the inv policy")->capture_default_str();
    train_cmd->add_option("--seed", t.seed, "Initialization and shuffling seed")->capture_default_str();
    train_cmd->add_option("--init", t.init_dir, "Start from this weights directory");
    train_cmd->add_option("--out", t.out_dir, "Checkpoint directory, replaced atomically after each epoch");
    train_cmd->add_option("--resume", t.resume_dir, "Continue from a checkpoint written by --out");
    train_cmd->add_option("--max-steps", t.max_steps, "Stop after this many updates");
    train_cmd->add_option("--until-accuracy", t.until_accuracy,
                          "Stop after the first epoch whose test accuracy reaches this percentage (e.g. 89)")
        ->check(CLI::Range(0.0, 100.0));
    train_cmd->add_flag("--no-shuffle", no_shuffle, "Take batches in file order");
    train_cmd->add_flag("--quiet", quiet, "No progress bar");

    std::string onnx_out, export_weights;
    CLI::App *export_cmd = app.add_subcommand("export", "Write the model with its weights as ONNX (opset 13)");
    export_cmd->add_option("--onnx", onnx_out, "The .onnx file to write")->required();
    export_cmd->add_option("--weights", export_weights, "Directory with one .npy per parameter (state_dict names)")
        ->required();

    app.add_subcommand("info", "Print layers, parameters and generated functions");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    try {
        if (threads > 0) {
            halide_set_num_threads(threads);
            set_parallel_threads(threads);
        }
        Model model(description);
        if (*predict_cmd) return predict(model, weights, input, labels, logits_out, all_labels);
        if (*bench_cmd) return bench(model, seconds, csv, only_batch, only_train);
        if (*verify_cmd) return verify_model(model, verify_write, verify_against, tolerance);
        if (*export_cmd) {
            model.load_weights(export_weights);
            export_onnx(model, onnx_out);
            fmt::print("{} with the weights of {} written to {}\n", description.name, export_weights, onnx_out);
            return 0;
        }
        if (*train_cmd) {
            if (t.epochs < 1) runtime_fail("--epochs {}: expected at least 1", t.epochs);
            if (t.batch < 0) runtime_fail("--batch {}: expected a positive batch size", t.batch);
            t.lr_policy = policy == "step" ? LrPolicy::step : policy == "inv" ? LrPolicy::inv : LrPolicy::fixed;
            t.shuffle = !no_shuffle;
            t.progress = !quiet;
            return train_in_processes(model, t, join);
        }
        info(model);
        return 0;
    } catch (const RuntimeError &e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    } catch (const std::exception &e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    }
}

}  // namespace cnngen
