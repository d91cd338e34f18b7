// Schedules for autodiff-generated pipelines, whose intermediate Funcs are not known
// by name in advance: every Func is materialized (unscheduled adjoints can take
// Halide many minutes to compile), and loops over pure dimensions run in parallel.
#include "gpu_tiles.h"
#include "schedule.h"

#include "../layers/errors.h"

using namespace Halide;

namespace cnngen {

namespace {

bool at_root(const Internal::Function &f) {
    LoopLevel level = f.schedule().compute_level();
    level.lock();  // schedules set levels by assignment, never through this handle
    return level.is_root();
}

// Forward Funcs a schedule placed inside a layer (compute_at or inline) that backward Funcs
// also read must be computed at root, where the backward loops can reach them. On the GPU such
// a Func also gets its own kernel, in global memory.
void materialize_shared_stages(const std::vector<Func> &outputs, const std::set<std::string> &skip, bool gpu) {
    std::map<std::string, Internal::Function> all;
    for (const Func &out : outputs) {
        all[out.name()] = out.function();
        for (const auto &[name, function] : Internal::find_transitive_calls(out.function())) all[name] = function;
    }
    for (const auto &[name, function] : all) {
        if (skip.count(name)) continue;
        for (const auto &[callee, callee_function] : Internal::find_direct_calls(function))
            if (skip.count(callee) && callee_function.has_pure_definition() &&
                !at_root(callee_function)) {
                Func stage(callee_function);
                if (gpu) gpu_every_definition(stage.store_in(MemoryType::Auto), 128);
                else stage.compute_root();
            }
    }
}

std::vector<Func> pipeline_funcs(const std::vector<Func> &outputs, const std::set<std::string> &skip) {
    std::map<std::string, Internal::Function> all;
    for (const Func &out : outputs) {
        all[out.name()] = out.function();
        for (const auto &[name, function] : Internal::find_transitive_calls(out.function())) all[name] = function;
    }
    std::vector<Func> funcs;
    for (const auto &[name, function] : all)
        if (!skip.count(name)) funcs.emplace_back(function);
    return funcs;
}

}  // namespace

std::vector<Var> pure_update_vars(Func f, int update) {
    std::vector<Var> vars;
    for (const Expr &arg : f.update_args(update)) {
        const auto *v = arg.as<Internal::Variable>();
        if (v && !v->reduction_domain.defined()) vars.emplace_back(v->name);
    }
    return vars;
}

void schedule_gradients(const std::string &schedule, const std::vector<Func> &outputs,
                        const std::set<std::string> &skip, const Target &target) {
    check_schedule_name("gradient pipeline", schedule);
    const bool gpu = is_gpu_schedule(schedule);  // check_target has made sure the target has a GPU
    materialize_shared_stages(outputs, skip, gpu);
    if (gpu) {
        // At root already: a hand-derived pass scheduled it (the weights it reads, say).
        for (Func f : pipeline_funcs(outputs, skip))
            if (!at_root(f.function())) gpu_every_definition(f, 128);
        return;
    }
    if (schedule != "naive" && schedule != "cpu")
        fail("gradient pipeline: schedule '{}' is an autoscheduler; call autoschedule() on the pipeline", schedule);
    for (Func f : pipeline_funcs(outputs, skip)) {
        f.compute_root();
        if (schedule == "naive") continue;
        const std::vector<Var> args = f.args();
        if (args.empty()) continue;
        if (args.size() > 1) f.parallel(args.back());
        f.vectorize(args.front(), target.natural_vector_size<float>(), TailStrategy::GuardWithIf);
        for (int u = 0; u < f.num_update_definitions(); ++u) {
            std::vector<Var> vars = pure_update_vars(f, u);
            if (!vars.empty()) f.update(u).parallel(vars.back());
        }
    }
}

}  // namespace cnngen
