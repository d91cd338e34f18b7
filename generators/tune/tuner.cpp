#include "tuner.h"

#include "../layers/errors.h"
#include "../model/plan.h"
#include "../model/schedule_file.h"
#include "../model/spec.h"
#include "../model/toolchain.h"
#include "../schedules/schedule.h"
#include "child_process.h"
#include "schedule_space.h"
#include "tune_cache.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <csignal>
#include <unistd.h>

namespace fs = std::filesystem;

namespace cnngen {

namespace {

using Clock = std::chrono::steady_clock;

// One measured case: inference at a batch size, or the training step.
struct Case {
    std::string name;  // b1, b256, train
    int batch = 0;
    bool train = false;
};

struct Candidate {
    std::string label;  // cpu, lenet5.fused, li2018, g3.1
    ModelSchedule schedule;
    std::string schedule_text;  // the file it is built with; with the context, its identity
    std::string key;
    CandidateResult result;
    bool searched = false;  // a neighbour the search made, not a starting point
};

// Build logs and runtime errors go into the written file's comments: printable ASCII only,
// at most `length` characters (a cut UTF-8 sequence would not parse as TOML).
std::string comment_safe(const std::string &text, size_t length = 160) {
    std::string out;
    for (char ch : text)
        if (ch >= 0x20 && ch < 0x7f && out.size() < length) out += ch;
    return out;
}

std::string read_text(const std::string &path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown processor";
}

std::string default_cache_dir() {
    if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/cnngen/tune";
    if (const char *home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/cnngen/tune";
    return ".cnngen-tune-cache";
}

std::string minutes_seconds(double seconds) {
    const int s = int(std::lround(std::max(0.0, seconds)));
    return fmt::format("{}m{:02}s", s / 60, s % 60);
}

class Tuner {
public:
    explicit Tuner(const TuneOptions &options);
    void run();

private:
    // Builds, verifies and measures what the cache does not already know, builds in parallel
    // and everything that runs the library one at a time, with nothing else compiling.
    void evaluate(std::vector<Candidate> &generation);
    // The cpu schedule, the start and the winner built again and timed side by side, with more
    // repeats: the figures written to the file, free of the drift between generations.
    std::vector<Candidate> confirm(const Candidate &start, const Candidate &winner);
    Candidate make_candidate(const std::string &label, const ModelSchedule &schedule, bool named);
    std::string build_command(const std::string &schedule_argument, const std::string &dir, int jobs) const;
    std::string executable(const std::string &dir) const { return dir + "/" + spec_.name; }
    std::string run_prefix() const { return options_.runner.empty() ? "" : options_.runner + " "; }
    void build_reference();
    void verify_and_measure(std::vector<Candidate *> &built);
    double score(const CandidateResult &r) const { return baseline() ? score(r, baseline()->result) : 0; }
    double score(const CandidateResult &r, const CandidateResult &base) const;
    bool improves_on(const Candidate &c, const Candidate &incumbent) const;
    void progress(const std::string &what);
    void write_result(const std::vector<Candidate> &confirmed, const Candidate &winner, const Candidate &start);
    void store(const Candidate &c) const {
        if (!confirming_) cache_.store(c.key, c.result);
    }
    double elapsed() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

    TuneOptions options_;
    std::string cnngen_ = fs::read_symlink("/proc/self/exe").string();  // builds run this cnngen
    std::string spec_path_;
    ModelSpec spec_;
    ModelPlan plan_;
    std::vector<Case> cases_;
    bool training_ = false;
    TuneCache cache_;
    std::string context_;  // everything a result depends on besides the schedule
    std::string work_dir_, reference_dir_;
    Clock::time_point started_ = Clock::now();
    std::vector<Candidate> tried_;
    std::set<std::string> tried_keys_;
    int baseline_index_ = -1;  // the cpu schedule, in tried_
    const Candidate *baseline() const { return baseline_index_ < 0 ? nullptr : &tried_[size_t(baseline_index_)]; }
    int built_ = 0, from_cache_ = 0;
    bool confirming_ = false;  // results neither read from nor written to the cache
    std::vector<std::string> notes_;  // autoschedulers, starts that could not be used
};

Tuner::Tuner(const TuneOptions &options)
    : options_(options),
      spec_path_(fs::exists(options.spec_path) || !fs::exists(options.spec_path + ".toml") ? options.spec_path
                                                                                               : options.spec_path + ".toml"),
      spec_(load_model_spec(spec_path_)),
      plan_(plan_model(spec_, {training_obstacle(spec_).empty()})),
      cache_(options.cache_dir.empty() ? default_cache_dir() : options.cache_dir) {
    if (options_.reference != "naive" && options_.reference != "cpu")
        fail("cnngen tune: --reference '{}': expected naive or cpu", options_.reference);
    static const std::set<std::string> objectives = {"latency", "throughput", "train", "all"};
    if (!objectives.count(options_.objective))
        fail("cnngen tune: --objective '{}' unknown, expected latency, throughput, train or all", options_.objective);
    if (options_.output.empty()) fail("cnngen tune: no output file (-o FILE)");
    if (options_.throughput_batch < 2 || options_.throughput_batch > 65536)
        fail("cnngen tune: --batch {} must be 2..65536", options_.throughput_batch);
    if (options_.threads <= 0) options_.threads = int(std::max(1u, std::thread::hardware_concurrency()));
    if (options_.jobs < 1) options_.jobs = 1;
    if (options_.repeats < 1) fail("cnngen tune: --repeats {}: expected at least 1", options_.repeats);
    if (!(options_.seconds_per_case > 0)) fail("cnngen tune: --seconds must be positive");
    const std::string &objective = options_.objective;
    if (objective == "latency" || objective == "all") cases_.push_back({"b1", 1, false});
    if (objective == "throughput" || objective == "all")
        cases_.push_back({fmt::format("b{}", options_.throughput_batch), options_.throughput_batch, false});
    // An imported model with a folded BatchNormalization, say, tunes for inference alone.
    const std::string obstacle = training_obstacle(spec_);
    if (objective == "train" && !obstacle.empty())
        fail("cnngen tune: {} builds for inference only ({}); tune --objective latency or throughput", spec_path_, obstacle);
    if (objective == "all" && !obstacle.empty())
        notes_.push_back(fmt::format("the training step is left out of the objective: {}", obstacle));
    training_ = (objective == "train" || objective == "all") && obstacle.empty();
    if (training_) cases_.push_back({"train", spec_.train_batch, true});
    parse_targets(options_.target);  // a bad target fails here, before anything is built
    // A rebuilt cnngen may schedule differently: its size and time stamp are part of every key.
    const std::string generator = fmt::format("{} {}", fs::file_size(cnngen_),
                                              fs::last_write_time(cnngen_).time_since_epoch().count());
    context_ = fmt::format("cnngen tune 1 {} reference {}\nspec {}\ntarget {}\nobjective {} batch {}\nrunner {}\nthreads {} "
                           "repeats {} seconds {}\nmachine {} x{}\n",
                           generator, options_.reference, read_text(spec_path_), options_.target, options_.objective, options_.throughput_batch,
                           options_.runner, options_.threads, options_.repeats, options_.seconds_per_case, cpu_model(),
                           std::thread::hardware_concurrency());
    work_dir_ = cache_.dir() + "/work-" + std::to_string(getpid());
    reference_dir_ = cache_.dir() + "/reference-" + stable_hash(context_);
}

Candidate Tuner::make_candidate(const std::string &label, const ModelSchedule &schedule, bool named) {
    Candidate c;
    c.label = label;
    c.schedule = schedule;
    c.schedule_text = named ? "named " + schedule.base : schedule_file_text(schedule, spec_, "candidate");
    c.key = stable_hash(context_ + c.schedule_text);
    return c;
}

std::string Tuner::build_command(const std::string &schedule_argument, const std::string &dir, int jobs) const {
    std::vector<int> batches;  // only what is measured (the training step needs some inference batch: 1)
    for (const Case &test : cases_)
        if (!test.train) batches.push_back(test.batch);
    if (batches.empty()) batches.push_back(1);
    // --no-mpi: a candidate is timed on the fused step alone.
    return fmt::format("{} build {} --target {} --schedule {} --batch-sizes {} --no-mpi --jobs {}{} -o {}",
                       shell_quoted(cnngen_), shell_quoted(spec_path_),
                       shell_quoted(options_.target), shell_quoted(schedule_argument), fmt::join(batches, ","), jobs,
                       training_ ? "" : " --inference-only", shell_quoted(dir));
}

// The reference build's values, once per context: what every candidate must reproduce.
void Tuner::build_reference() {
    if (fs::exists(reference_dir_ + "/complete")) return;
    const std::string &name = options_.reference;
    progress("building the " + name + " reference");
    const std::string dir = work_dir_ + "/reference", log = work_dir_ + "/reference.log";
    ChildProcess build = start_command(build_command(name, dir, 0), log, 1800);  // alone: cnngen's default
    if (wait_command(build) != 0)
        fail("cnngen tune: the {} reference did not build: {} (log: {})", name, log_tail(log, 3), log);
    const std::string partial = reference_dir_ + ".partial";
    fs::remove_all(partial);
    ChildProcess verify = start_command(
        fmt::format("{}{} --threads {} verify --write {}", run_prefix(), shell_quoted(executable(dir)), options_.threads,
                    shell_quoted(partial)),
        log, 1800);
    if (wait_command(verify) != 0)
        fail("cnngen tune: the {} reference did not run: {} (log: {})", name, log_tail(log, 3), log);
    std::ofstream(partial + "/complete") << name << "\n";
    fs::remove_all(reference_dir_);
    fs::rename(partial, reference_dir_);
    fs::remove_all(dir);
}

void Tuner::evaluate(std::vector<Candidate> &generation) {
    fs::create_directories(work_dir_);
    std::vector<Candidate *> to_build;
    for (Candidate &c : generation) {
        if (auto cached = confirming_ ? std::nullopt : cache_.find(c.key)) {
            c.result = *cached;
            ++from_cache_;
        } else {
            c.result.schedule = c.schedule_text;
            to_build.push_back(&c);
        }
    }
    // Autoschedulers and autodiff may take far longer than a hand-scheduled build: each build
    // gets several times the baseline's, at least a minute.
    const double limit = baseline() ? std::max(60.0, 6 * baseline()->result.build_seconds) : 600.0;
    struct Running {
        Candidate *candidate;
        ChildProcess process;
        std::string log;
    };
    std::vector<Running> running;
    std::vector<Candidate *> built;
    size_t next = 0;
    while (next < to_build.size() || !running.empty()) {
        while (next < to_build.size() && int(running.size()) < options_.jobs) {
            Candidate *c = to_build[next++];
            const std::string base = work_dir_ + "/" + c->key;
            std::string schedule_argument = c->schedule.base;
            if (c->schedule_text.rfind("named ", 0) != 0) {
                schedule_argument = base + ".schedule.toml";
                std::ofstream(schedule_argument) << c->schedule_text;
            }
            // One generating process each: options_.jobs builds run at once.
            running.push_back({c, start_command(build_command(schedule_argument, base, 1), base + ".build.log",
                                                c->schedule.base == "cpu" ? limit : std::max(limit, 180.0)),
                               base + ".build.log"});
            progress("building " + c->label);
        }
        for (size_t k = 0; k < running.size();) {
            const int status = poll_command(running[k].process);
            if (status == -1) {
                ++k;
                continue;
            }
            Candidate *c = running[k].candidate;
            c->result.build_seconds =
                std::chrono::duration<double>(Clock::now() - running[k].process.started).count();
            if (status == 0) {
                built.push_back(c);
                built_ += confirming_ ? 0 : 1;
            } else {
                c->result.status = status == kTimedOut ? "build timed out" : "build failed";
                c->result.message = status == kTimedOut ? fmt::format("no library after {:.0f} s", c->result.build_seconds)
                                                        : log_tail(running[k].log, 2);
                store(*c);
            }
            running.erase(running.begin() + long(k));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    verify_and_measure(built);
    if (confirming_) return;
    for (Candidate &c : generation) {
        tried_keys_.insert(c.key);
        tried_.push_back(c);
    }
}

void Tuner::verify_and_measure(std::vector<Candidate *> &built) {
    std::vector<Candidate *> correct;
    for (Candidate *c : built) {
        const std::string dir = work_dir_ + "/" + c->key, log = dir + ".run.log";
        progress("checking " + c->label);
        ChildProcess verify = start_command(fmt::format("{}{} --threads {} verify --against {} --tolerance 1e-3",
                                                        run_prefix(), shell_quoted(executable(dir)), options_.threads,
                                                        shell_quoted(reference_dir_)),
                                            log, 600);
        const int status = wait_command(verify);
        if (status == 0) {
            correct.push_back(c);
        } else {
            c->result.status = status == 1 && read_text(log).find("differs") != std::string::npos ? "wrong" : "run failed";
            c->result.message = log_tail(log, 1);
            store(*c);
        }
    }
    // Each case timed `repeats` times, candidates interleaved so drift hits all alike; the
    // fastest median is kept (interference only ever slows a run down).
    const int repeats = confirming_ ? std::max(3, options_.repeats) : options_.repeats;
    for (int repeat = 0; repeat < repeats; ++repeat)
        for (Candidate *c : correct)
            for (const Case &test : cases_) {
                progress(fmt::format("timing {} {}", c->label, test.name));
                const std::string dir = work_dir_ + "/" + c->key, csv = dir + ".bench.csv", log = dir + ".bench.log";
                // stdout alone is the CSV; a runner's or the runtime's messages go to the log.
                ChildProcess bench = start_command(
                    fmt::format("{}{} --threads {} bench --csv --seconds {} {} > {}", run_prefix(),
                                shell_quoted(executable(dir)), options_.threads, options_.seconds_per_case,
                                test.train ? "--only-train" : fmt::format("--only-batch {}", test.batch),
                                shell_quoted(csv)),
                    log, 600);
                const int status = wait_command(bench);
                // The last row; latency_us is its second-to-last field (a multi-target name has commas).
                std::ifstream in(csv);
                std::string row;
                for (std::string line; std::getline(in, line);)
                    if (!line.empty()) row = line;
                std::vector<std::string> fields;
                std::stringstream split(row);
                for (std::string field; std::getline(split, field, ',');) fields.push_back(field);
                double us = 0;
                try {
                    us = fields.size() >= 7 ? std::stod(fields[fields.size() - 2]) : 0;
                } catch (const std::exception &) {
                    us = 0;
                }
                if (status != 0 || !(us > 0)) {
                    c->result.status = "run failed";
                    c->result.message = status != 0 ? log_tail(log, 1) : "bench printed no timing: " + row;
                    continue;
                }
                auto [it, inserted] = c->result.microseconds.emplace(test.name, us);
                if (!inserted) it->second = std::min(it->second, us);
            }
    for (Candidate *c : correct) {
        if (c->result.status.empty()) c->result.status = "ok";
        store(*c);
        fs::remove_all(work_dir_ + "/" + c->key);
    }
}

// The geometric mean over the objective's cases of the speed-up over the cpu schedule.
double Tuner::score(const CandidateResult &r, const CandidateResult &baseline) const {
    if (r.status != "ok" || baseline.status != "ok") return 0;
    double log_sum = 0;
    for (const Case &test : cases_) {
        const auto &base_times = baseline.microseconds;
        const auto mine = r.microseconds.find(test.name), base = base_times.find(test.name);
        if (mine == r.microseconds.end() || base == base_times.end()) return 0;
        log_sum += std::log(base->second / mine->second);
    }
    return std::exp(log_sum / double(cases_.size()));
}

// More than 1% better overall, and no case more than 5% slower: a tuned schedule must not
// trade one of the objective's cases away for another.
bool Tuner::improves_on(const Candidate &c, const Candidate &incumbent) const {
    if (score(c.result) <= 1.01 * score(incumbent.result)) return false;
    for (const Case &test : cases_)
        if (c.result.microseconds.at(test.name) > 1.05 * incumbent.result.microseconds.at(test.name)) return false;
    return true;
}

void Tuner::progress(const std::string &what) {
    const double left = options_.budget_seconds - elapsed();
    double best = 0;
    for (const Candidate &c : tried_) best = std::max(best, score(c.result));
    const int width = 24;
    const int filled = int(width * std::clamp(elapsed() / options_.budget_seconds, 0.0, 1.0));
    const std::string line =
        fmt::format("[{}{}] {} tried, best {:.2f}x cpu, {} left: {}", std::string(size_t(filled), '#'),
                    std::string(size_t(width - filled), '.'), tried_.size(), best, minutes_seconds(left), what);
    if (isatty(2)) {
        fmt::print(stderr, "\r{:<110.110}", line);
    } else if (what.rfind("timing ", 0) != 0 && what.rfind("checking ", 0) != 0) {  // a log: events only
        fmt::print(stderr, "{}\n", line);
    }
}

std::vector<Candidate> Tuner::confirm(const Candidate &start, const Candidate &winner) {
    std::vector<Candidate> side_by_side{*baseline()};
    for (const Candidate *c : {&start, &winner})  // each built once: one key, one build directory
        if (c->key != side_by_side.back().key && c->key != side_by_side.front().key) side_by_side.push_back(*c);
    for (Candidate &c : side_by_side) c.result = CandidateResult{};
    confirming_ = true;
    evaluate(side_by_side);
    confirming_ = false;
    return side_by_side;
}

// `confirmed`: cpu, then the start and the search's best where they differ from it and each
// other, timed side by side; `winner` is what the file holds, one of them.
void Tuner::write_result(const std::vector<Candidate> &confirmed, const Candidate &winner, const Candidate &start) {
    const auto retimed = [&](const Candidate &c) -> const Candidate & {
        return *std::find_if(confirmed.begin(), confirmed.end(), [&](const Candidate &r) { return r.key == c.key; });
    };
    const auto count_status = [&](const std::string &prefix) {
        return std::count_if(tried_.begin(), tried_.end(),
                             [&](const Candidate &c) { return c.result.status.rfind(prefix, 0) == 0; });
    };
    const Halide::Target target = parse_targets(options_.target).front();
    const Candidate &cpu = confirmed.front(), &tuned = retimed(winner), &started = retimed(start);
    std::vector<std::string> comment = {
        fmt::format("Made by `cnngen tune {} --target {} --objective {}{} --budget {:.0f}s --seed {}{}{}`",
                    fs::path(spec_path_).lexically_normal().string(), options_.target, options_.objective,
                    options_.throughput_batch == 256 ? "" : fmt::format(" --batch {}", options_.throughput_batch),
                    options_.budget_seconds, options_.seed,
                    options_.reference == "naive" ? "" : " --reference " + options_.reference,
                    options_.runner.empty() ? "" : " --runner '" + options_.runner + "'"),
        options_.runner.empty()
            ? fmt::format("on {} ({} cores), Halide target {}, {} threads.", cpu_model(),
                          std::thread::hardware_concurrency(), target.to_string(), options_.threads)
            : fmt::format("Halide target {}, {} threads, timed through the runner (built on {}).", target.to_string(),
                          options_.threads, cpu_model()),
        fmt::format("{} candidates in {} ({} built, {} from the cache; {} did not build, {} failed to run, {} gave "
                    "wrong values).",
                    tried_.size(), minutes_seconds(elapsed()), built_, from_cache_, count_status("build"),
                    count_status("run"), count_status("wrong")),
        fmt::format("Every candidate timed matched the {} build's logits{} first (`MODEL verify`).", options_.reference,
                    training_ ? " and SGD steps" : ""),
        fmt::format("Built again and timed side by side at the end: median microseconds per call, the fastest of {} "
                    "timings of {} s each:",
                    std::max(3, options_.repeats), options_.seconds_per_case)};
    std::string header = fmt::format("  {:<32}", "schedule");
    for (const Case &test : cases_)
        header += fmt::format(" {:>12}", test.train ? fmt::format("train b{}", test.batch) : test.name);
    comment.push_back(header + "   speed-up over cpu");
    const auto row = [&](const std::string &label, const Candidate &c) {
        std::string line = fmt::format("  {:<32}", label);
        if (c.result.status != "ok") return line + " " + c.result.status + ": " + comment_safe(c.result.message);
        for (const Case &test : cases_) line += fmt::format(" {:>12.1f}", c.result.microseconds.at(test.name));
        return line + fmt::format("   {:.2f}x", score(c.result, cpu.result));
    };
    const std::string tuned_label = winner.key == cpu.key     ? "tuned (= cpu)"
                                    : winner.key == start.key ? "tuned (= the start)"
                                                              : "tuned (this file)";
    comment.push_back(row(tuned_label, tuned));
    comment.push_back(row("cpu", cpu));
    if (start.key != cpu.key && start.key != winner.key) comment.push_back(row(start.label + " (the start)", started));
    bool first_other = true;
    for (const Candidate &c : tried_)
        if (!c.searched && c.key != cpu.key && c.key != start.key) {
            if (first_other) comment.push_back("Other starting points, as timed during the search:");
            first_other = false;
            comment.push_back(row(c.label, c));
        }
    for (const std::string &note : notes_) comment.push_back(note);
    comment.push_back(fmt::format("Changes from {}: {}", start.label, describe_changes(start.schedule, winner.schedule)));
    comment.push_back("");
    const std::string description = fmt::format("{} tuned for {} ({}) on this machine", spec_.name,
                                                options_.objective == "all" ? "latency, throughput and training"
                                                                            : options_.objective,
                                                options_.target);
    const std::string text = schedule_file_text(winner.schedule, spec_, description, comment);
    parse_model_schedule(text, options_.output, spec_);  // what is written must read back
    const std::string temporary = options_.output + ".partial";
    {
        std::ofstream out(temporary);
        out << text;
        if (!out) fail("cnngen tune: cannot write {}", temporary);
    }
    fs::rename(temporary, options_.output);
    fmt::print("tuned {} in {}: {} candidates ({} built, {} from the cache), {:.2f}x cpu ({}); wrote {}\n", spec_.name,
               minutes_seconds(elapsed()), tried_.size(), built_, from_cache_, score(tuned.result, cpu.result),
               winner.label, options_.output);
    for (const Case &test : cases_) {
        const auto us = [&](const Candidate &c) {
            return c.result.status == "ok" ? fmt::format("{:>10.1f} us", c.result.microseconds.at(test.name))
                                           : c.result.status;
        };
        fmt::print("  {:<6} tuned {}   cpu {}   start ({}) {}\n", test.name, us(tuned), us(cpu), start.label,
                   us(started));
    }
}

void Tuner::run() {
    // Builds an interrupted tune left behind (its process is gone) are of no use to anyone.
    for (const auto &entry : fs::directory_iterator(cache_.dir())) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("work-", 0) == 0 && kill(pid_t(std::atol(name.c_str() + 5)), 0) != 0) {
            std::error_code ignored;
            fs::remove_all(entry.path(), ignored);
        }
    }
    fs::create_directories(work_dir_);
    struct RemoveWorkDir {
        std::string dir;
        ~RemoveWorkDir() {
            std::error_code ignored;
            fs::remove_all(dir, ignored);
        }
    } cleanup{work_dir_};
    build_reference();

    // Generation 0: the cpu schedule, the starting points, the autoschedulers.
    std::vector<Candidate> generation{make_candidate("cpu", named_model_schedule("cpu"), true)};
    std::vector<std::string> starts = options_.starts;
    if (starts.empty()) {  // SPEC.schedule.toml and SPEC.*.schedule.toml beside SPEC
        const fs::path spec = fs::absolute(spec_path_);
        const std::string stem = spec.stem().string();
        for (const auto &entry : fs::directory_iterator(spec.parent_path())) {
            const std::string file = entry.path().filename().string();
            const std::string suffix = ".schedule.toml";
            if (file.rfind(stem + ".", 0) == 0 && file.size() > suffix.size() &&
                file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0)
                starts.push_back(entry.path().string());
        }
        std::sort(starts.begin(), starts.end());
    }
    for (const std::string &path : starts) {
        ModelSchedule s = load_model_schedule(path, spec_);
        if (s.base != "cpu") {
            notes_.push_back(fmt::format("Start {} not used: base '{}', the search refines cpu schedules", path, s.base));
            continue;
        }
        Candidate c = make_candidate(s.name, s, false);
        const bool duplicate = std::any_of(generation.begin(), generation.end(),
                                           [&](const Candidate &other) { return other.key == c.key; });
        if (!duplicate) generation.push_back(c);
    }
    const bool cross = !options_.runner.empty();
    if (options_.autoschedulers)
        for (const char *name : {"li2018", "mullapudi2016", "adams2019"}) {
            if (std::string(name) == "adams2019" && options_.budget_seconds < 1800) {
                notes_.push_back("adams2019: not tried, its builds took over 5 minutes and 8 GB here; a --budget of 30m "
                                 "or more includes it");
                continue;
            }
            if (cross) continue;  // their cost models describe x86 hosts
            ModelSchedule s = named_model_schedule(name);
            generation.push_back(make_candidate(name, s, true));
        }
    evaluate(generation);
    baseline_index_ = 0;  // generation 0 starts with it
    if (baseline()->result.status != "ok")
        fail("cnngen tune: the cpu schedule itself failed ({}): {}", baseline()->result.status, baseline()->result.message);
    // The incumbent: the best hand-written starting point that works, cpu only when there is none.
    // (One noisy timing must not make cpu the start over a file a person tuned.)
    size_t incumbent = 0;
    for (size_t k = 1; k < tried_.size(); ++k)
        if (tried_[k].schedule.base == "cpu" && tried_[k].result.status == "ok" &&
            (incumbent == 0 || score(tried_[k].result) > score(tried_[incumbent].result)))
            incumbent = k;
    const Candidate start = tried_[incumbent];

    SearchSpace space{plan_, machine_limits(parse_targets(options_.target).front()), training_,
                      options_.throughput_batch};
    std::mt19937 rng(options_.seed);
    std::vector<size_t> improved_last;  // indices into tried_ that beat the incumbent last generation
    size_t incumbent_before = incumbent;  // what those moves were made from
    for (int round = 1;; ++round) {
        const int budget_left = options_.max_candidates > 0 ? options_.max_candidates - int(tried_.size()) : 1 << 30;
        if (budget_left <= 0 || elapsed() >= options_.budget_seconds) break;
        std::vector<ModelSchedule> options;
        std::set<std::string> keys = tried_keys_;
        if (improved_last.size() >= 2) {  // the two best moves of the last round, together
            ModelSchedule both = combined(tried_[incumbent_before].schedule, tried_[improved_last[0]].schedule,
                                          tried_[improved_last[1]].schedule);
            if (pruned_because(both, space).empty() && keys.insert(make_candidate("", both, false).key).second)
                options.push_back(both);
        }
        const size_t first = options.size();  // the combination, if any, is tried first
        for (ModelSchedule &s : neighbours(tried_[incumbent].schedule, space))
            if (keys.insert(make_candidate("", s, false).key).second) options.push_back(std::move(s));
        if (options.empty()) {
            notes_.push_back(fmt::format("Converged: every neighbour of the best schedule was tried ({} rounds)", round - 1));
            break;
        }
        // Then a seeded random pick of the neighbours.
        for (size_t k = first; k < options.size(); ++k) std::swap(options[k], options[k + rng() % (options.size() - k)]);
        const size_t count = std::min<size_t>({options.size(), size_t(2 * options_.jobs), size_t(budget_left)});
        std::vector<Candidate> next;
        for (size_t k = 0; k < count; ++k) {
            next.push_back(make_candidate(fmt::format("g{}.{}", round, k + 1), options[k], false));
            next.back().searched = true;
        }
        const size_t before = tried_.size();
        evaluate(next);
        const size_t previous = incumbent;
        incumbent_before = incumbent;
        improved_last.clear();
        for (size_t k = before; k < tried_.size(); ++k)
            if (improves_on(tried_[k], tried_[previous])) improved_last.push_back(k);
        std::sort(improved_last.begin(), improved_last.end(),
                  [&](size_t a, size_t b) { return score(tried_[a].result) > score(tried_[b].result); });
        if (!improved_last.empty()) incumbent = improved_last.front();
        if (!improved_last.empty())
            progress(fmt::format("{} {:.2f}x: {}", tried_[incumbent].label, score(tried_[incumbent].result),
                                 describe_changes(tried_[previous].schedule, tried_[incumbent].schedule)));
    }
    // A whole-schedule candidate (an autoscheduler) wins only by the same rule.
    size_t winner = incumbent;
    for (size_t k = 0; k < tried_.size(); ++k)
        if (tried_[k].schedule.base != "cpu" && tried_[k].result.status == "ok" && improves_on(tried_[k], tried_[winner]))
            winner = k;
    progress("timing cpu, the start and the winner side by side");
    const std::vector<Candidate> confirmed = confirm(start, tried_[winner]);
    const auto retimed = [&](const Candidate &c) -> const CandidateResult & {
        return std::find_if(confirmed.begin(), confirmed.end(), [&](const Candidate &r) { return r.key == c.key; })->result;
    };
    const CandidateResult &cpu = confirmed.front().result;
    // A gain the side-by-side timing does not show again was the machine's noise: keep the start.
    if (tried_[winner].key != start.key &&
        !(score(retimed(tried_[winner]), cpu) > 1.01 * score(retimed(start), cpu))) {
        notes_.push_back(fmt::format("The search's best ({}: {}) timed {:.2f}x cpu side by side, not better than the "
                                     "start's {:.2f}x: the start is kept.",
                                     tried_[winner].label, describe_changes(start.schedule, tried_[winner].schedule),
                                     score(retimed(tried_[winner]), cpu), score(retimed(start), cpu)));
        for (size_t k = 0; k < tried_.size(); ++k)
            if (tried_[k].key == start.key) winner = k;
    }
    // Nor may a tuned file be slower than cpu side by side.
    if (!(score(retimed(tried_[winner]), cpu) >= 1.0)) {
        notes_.push_back(fmt::format("{} timed {:.2f}x cpu side by side: cpu is kept.", tried_[winner].label,
                                     score(retimed(tried_[winner]), cpu)));
        winner = size_t(baseline_index_);
    }
    if (isatty(2)) fmt::print(stderr, "\n");
    write_result(confirmed, tried_[winner], start);
}

}  // namespace

void tune_model(const TuneOptions &options) { Tuner(options).run(); }

}  // namespace cnngen
