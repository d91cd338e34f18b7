// cnngen: turns a model spec into an ahead-of-time library and executable.
#include "layers/errors.h"
#include "model/emit.h"
#include "model/plan.h"
#include "onnx/onnx_import.h"
#include "schedules/schedule.h"
#include "tune/tuner.h"

#include <CLI/CLI.hpp>
#include <fmt/ranges.h>

#include <filesystem>
#include <set>

namespace {

std::string with_commas(long long value) {
    std::string digits = std::to_string(value), out;
    for (size_t k = 0; k < digits.size(); ++k) {
        if (k > 0 && (digits.size() - k) % 3 == 0) out += ',';
        out += digits[k];
    }
    return out;
}

// Per image, as notes 004 accounts VGG-16: the input and each layer's output volume, and each
// layer's parameters. Elementwise activations run in place there (their output is their input's
// memory), so the notes' total leaves them out; the total with every output kept is printed too.
void print_memory(const cnngen::ModelPlan &plan) {
    static const std::set<std::string> in_place = {"relu", "leaky_relu", "sigmoid", "tanh", "elu"};
    const cnngen::ModelSpec &spec = plan.spec;
    fmt::print("memory per image (float32):\n  {:<14} {:<16} {:>14} {:>14}\n", "layer", "output", "activations",
               "parameters");
    long long counted = cnngen::element_count(spec.input), every = counted, parameters = 0;
    std::vector<int> readers(plan.activations.size(), 0);
    for (const std::vector<int> &inputs : plan.inputs)
        for (int a : inputs) ++readers[size_t(a)];
    fmt::print("  {:<14} {:<16} {:>14} {:>14}\n", "input", cnngen::shape_string(spec.input), with_commas(counted), 0);
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        const long long values = cnngen::element_count(plan.activations[k + 1]);
        long long weights = 0;
        for (int index : plan.parameters_of_layer(int(k))) weights += cnngen::element_count(plan.parameters[size_t(index)].shape);
        // In place only over an input no other layer reads.
        const int input = plan.inputs[k][0];
        const bool computed_in_place = in_place.count(spec.layers[k].kind) > 0 && input > 0 && readers[size_t(input)] == 1;
        fmt::print("  {:<14} {:<16} {:>14} {:>14}\n", spec.layers[k].name, cnngen::shape_string(plan.activations[k + 1]),
                   computed_in_place ? "(in place)" : with_commas(values), with_commas(weights));
        if (!computed_in_place) counted += values;
        every += values;
        parameters += weights;
    }
    const auto mib = [](long long values) { return double(values) * 4 / (1024.0 * 1024.0); };
    fmt::print("  total: {} activations ({:.1f} MiB) per image, activations in place; {} ({:.1f} MiB) with every "
               "layer's output kept\n",
               with_commas(counted), mib(counted), with_commas(every), mib(every));
    fmt::print("  total: {} parameters ({:.1f} MiB)\n", with_commas(parameters), mib(parameters));
    const long long live = cnngen::peak_live_activations(plan);
    fmt::print("  inference keeps at most {} activations ({:.1f} MiB) per image alive at once (each freed after its "
               "last reader)\n",
               with_commas(live), mib(live));
}

void print_plan(const cnngen::ModelPlan &plan) {
    const cnngen::ModelSpec &spec = plan.spec;
    fmt::print("{}: model '{}', input {}, batch sizes {}, training batch {}\n", spec.path, spec.name,
               cnngen::shape_string(spec.input), fmt::join(spec.batch_sizes, ", "), spec.train_batch);
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        const std::string reads = plan.inputs[k] == std::vector<int>{int(k)}
                                      ? ""
                                      : fmt::format("  <- {}", fmt::join(spec.layers[k].inputs, ", "));
        fmt::print("  {:<14} {:<16} -> {}{}\n", spec.layers[k].name, spec.layers[k].kind,
                   cnngen::shape_string(plan.activations[k + 1]), reads);
    }
    long long total = 0;
    for (const auto &p : plan.parameters) {
        fmt::print("  {:<14} {}\n", p.name, cnngen::shape_string(p.shape));
        total += cnngen::element_count(p.shape);
    }
    fmt::print("  {} parameters\n", total);
    for (const cnngen::PlannedFunction &f : plan.functions) {
        std::vector<std::string> args;
        for (const auto *list : {&f.inputs, &f.outputs})
            for (const cnngen::PlannedArgument &a : *list) args.push_back(cnngen::argument_name(plan, a));
        fmt::print("  {}({})\n", f.name, fmt::join(args, ", "));
    }
}

// "5m", "300s", "1h" or plain seconds.
double budget_seconds(const std::string &text) {
    size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception &) {
        used = 0;
    }
    const std::string unit = text.substr(used);
    const double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
    if (used == 0 || scale == 0 || !(value > 0))
        throw cnngen::ConfigError(fmt::format("cnngen tune: --budget '{}': expected a duration such as 300s, 5m or 1h", text));
    return value * scale;
}

// `cnngen build MODEL.onnx -o DIR`: imported beside DIR, built, and the spec and weights
// moved into DIR, so DIR/NAME predict --weights DIR/weights runs the ONNX model.
void build_from_onnx(cnngen::BuildOptions options) {
    namespace fs = std::filesystem;
    if (options.out_dir.empty()) throw cnngen::ConfigError("cnngen build: no output directory (-o DIR)");
    const fs::path imported = fs::absolute(options.out_dir).string() + ".import";
    fs::remove_all(imported);
    const cnngen::ImportedModel model = cnngen::import_onnx_file(options.spec_path, options.name);
    cnngen::write_imported_model(model, imported.string());
    options.spec_path = (imported / (model.spec.name + ".toml")).string();
    cnngen::build_model(options);
    fs::rename(imported / "weights", fs::path(options.out_dir) / "weights");
    fs::rename(options.spec_path, fs::path(options.out_dir) / (model.spec.name + ".toml"));
    fs::remove_all(imported);
    fmt::print("imported weights in {}\n", (fs::path(options.out_dir) / "weights").string());
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"cnngen: generate specialized CNN libraries and executables with Halide.\n"
                 "Exit codes: 0 success, 1 bad input (spec, target, schedule), 2 usage error, 3 internal error."};
    app.require_subcommand(1);

    cnngen::BuildOptions options;
    CLI::App *build = app.add_subcommand("build", "Generate DIR/libNAME.a, headers, a CMake config and DIR/NAME");
    build->add_option("spec", options.spec_path, "Model spec (models/lenet5.toml; .toml may be omitted)")->required();
    build->add_option("--target,-t", options.target, "Halide target: host, x86-64-linux-avx2, host-cuda-cuda_capability_80, arm-64-linux (cross), "
                      "or several, best first, chosen at run time: x86-64-linux-avx512_skylake,x86-64-linux-avx2-fma,"
                      "x86-64-linux-sse41")
        ->capture_default_str();
    build->add_option("--schedule,-s", options.schedule,
                      fmt::format("Schedule: {}, or a schedule file (models/lenet5.schedule.toml). "
                                  "Default: SPEC's schedule file next to it (models/lenet5.schedule.toml) when "
                                  "there is one, else gpu for GPU targets and cpu for the others",
                                  fmt::join(cnngen::schedule_names(), ", ")));
    build->add_option("-o,--output", options.out_dir, "Output directory (replaced atomically)")->required();
    build->add_option("--name", options.name, "Model name to generate under (default: the spec's name)");
    build->add_flag("!--no-executable", options.executable, "Only the library, headers and CMake config");
    build->add_flag("!--inference-only", options.training,
                    "Skip the training step (e.g. for autoschedulers that fail or take long on gradients)");
    build->add_option("--train-step", options.train_step,
                      "fused: the training step is one Halide pipeline; chained: one forward and one backward "
                      "kernel per layer, a loss kernel and an SGD kernel, called in turn by the runtime "
                      "(default: the schedule file's train_step, else fused)")
        ->check(CLI::IsMember({"fused", "chained"}));
    build->add_flag("!--no-mpi", options.mpi,
                    "No split training step and no MPI in the executable (default: both, when cnngen was built with "
                    "MPI support: `mpirun -np P DIR/NAME train` then trains data-parallel)");
    build->add_option("--batch-sizes", options.batch_sizes, "Inference batch sizes, replacing the spec's (e.g. 1,7)")
        ->delimiter(',');
    build->add_option("--train-batch", options.train_batch,
                      "Training batch size, replacing the spec's; under mpirun, each process's share of the global "
                      "batch");
    build->add_option("--forward-parts", options.forward_parts,
                      fmt::format("Inference as this many pipelines per batch size (at most one per layer), run in turn "
                                  "(default 0: one per about {} Halide stages, where Halide's compile time stays short)",
                                  cnngen::kStagesPerForwardPart));
    build->add_option("--winograd", options.winograd,
                      "cpu schedule: the output tile of Winograd's F(m x m, 3 x 3) for 3x3 stride-1 convolutions, 2 "
                      "or 4; 0 computes every convolution directly (default -1: F(4x4) where input and output channels "
                      "are at least 16)");
    build->add_option("-j,--jobs", options.jobs,
                      "Functions generated at once, each in a process of its own; the output is the same for any "
                      "count (default 0: CNNGEN_JOBS, else one per hardware thread)");
    build->add_flag("--emit-stmt", options.emit_stmt, "Also write Halide's .stmt and .html per function");
    build->add_flag("--profile", options.profile, "Build with Halide's profiler (prints per-Func time at exit)");
    build->add_flag("-v,--verbose", options.verbose, "Print the compiler commands");

    std::string check_path;
    CLI::App *check = app.add_subcommand("check", "Validate a model spec and print its layers and parameters");
    check->add_option("spec", check_path, "Model spec")->required();

    std::string import_path, import_dir, import_name;
    CLI::App *import = app.add_subcommand(
        "import", "Turn an ONNX model into DIR/NAME.toml and DIR/weights/*.npy (cnngen build DIR/NAME.toml then builds it)");
    import->add_option("model", import_path, "ONNX model (torch.onnx.export's output, say)")->required();
    import->add_option("-o,--output", import_dir, "Directory for the spec and its weights")->required();
    import->add_option("--name", import_name, "Model name, a C identifier (default: the file's stem)");

    app.add_subcommand("schedules", "List the schedule names");

    cnngen::TuneOptions tune_options;
    std::string budget = "5m";
    CLI::App *tune = app.add_subcommand(
        "tune", "Search schedule files for SPEC on this machine (or under --runner) and write the fastest as FILE");
    tune->add_option("spec", tune_options.spec_path, "Model spec")->required();
    tune->add_option("-o,--output", tune_options.output, "Schedule file to write (models/NAME.schedule.toml: "
                                                         "`cnngen build` then uses it)")->required();
    tune->add_option("--target,-t", tune_options.target, "Halide target")->capture_default_str();
    tune->add_option("--budget", budget, "Wall time for the whole tune, builds included (300s, 5m, 1h)")
        ->capture_default_str();
    tune->add_option("--objective", tune_options.objective,
                     "latency (batch 1), throughput (--batch), train (the training step) or all: the geometric mean "
                     "of their speed-ups over the cpu schedule")
        ->check(CLI::IsMember({"latency", "throughput", "train", "all"}))
        ->capture_default_str();
    tune->add_option("--seed", tune_options.seed, "Seed of the search's random picks")->capture_default_str();
    tune->add_option("--batch", tune_options.throughput_batch, "Batch size of the throughput case")->capture_default_str();
    tune->add_option("--max-candidates", tune_options.max_candidates, "Stop after this many candidates (0: the budget decides)");
    tune->add_option("--start", tune_options.starts,
                     "Schedule file to start from (repeatable; default: SPEC's own SPEC.schedule.toml and "
                     "SPEC.*.schedule.toml beside it)");
    tune->add_option("--runner", tune_options.runner,
                     "Command that runs each built executable, as a prefix: 'qemu-aarch64 -L /usr/aarch64-linux-gnu', "
                     "'ssh board' (paths must be shared)");
    tune->add_option("--cache", tune_options.cache_dir, "Results of every candidate, kept for resuming and re-tuning "
                                                        "(default: ~/.cache/cnngen/tune)");
    tune->add_option("--jobs,-j", tune_options.jobs, "Candidates built at once (timing always runs alone)")
        ->capture_default_str();
    tune->add_option("--threads", tune_options.threads, "Threads the measured library uses (default: every core)");
    tune->add_option("--repeats", tune_options.repeats, "Timings per case; the fastest is kept")->capture_default_str();
    tune->add_option("--seconds", tune_options.seconds_per_case, "Seconds per timing")->capture_default_str();
    tune->add_flag("!--no-autoschedulers", tune_options.autoschedulers, "Leave Halide's autoschedulers out");
    tune->add_option("--reference", tune_options.reference,
                     "The build every candidate must reproduce: naive (autodiff, independent of the hand-written "
                     "schedules) or cpu (for real-size networks, whose naive builds take too long)")
        ->check(CLI::IsMember({"naive", "cpu"}))
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    try {
        if (*build && std::filesystem::path(options.spec_path).extension() == ".onnx") {
            build_from_onnx(options);
        } else if (*build) {
            cnngen::build_model(options);
        } else if (*import) {
            const cnngen::ImportedModel model = cnngen::import_onnx_file(import_path, import_name);
            cnngen::write_imported_model(model, import_dir);
            fmt::print("imported {} as {}/{}.toml with {} weight tensors in {}/weights\n", import_path, import_dir,
                       model.spec.name, model.weights.size(), import_dir);
        } else if (*tune) {
            tune_options.budget_seconds = budget_seconds(budget);
            cnngen::tune_model(tune_options);
        } else if (*check) {
            const cnngen::ModelSpec spec = cnngen::load_model_spec(check_path);
            const cnngen::ModelPlan plan = cnngen::plan_model(spec, {cnngen::training_obstacle(spec).empty()});
            print_plan(plan);
            print_memory(plan);
        } else {
            for (const auto &name : cnngen::schedule_names()) fmt::print("{}\n", name);
        }
    } catch (const cnngen::ConfigError &e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 1;
    } catch (const Halide::CompileError &e) {
        fmt::print(stderr, "error: Halide could not compile the model: {}\n", e.what());
        return 3;
    } catch (const std::exception &e) {
        fmt::print(stderr, "error: {}\n", e.what());
        return 3;
    }
    return 0;
}
