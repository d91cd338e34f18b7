#include "schedule_file.h"

#include "toml_fields.h"

#include <filesystem>
#include <cstring>
#include <fstream>

namespace cnngen {

namespace {

bool looks_like_file(const std::string &name) {
    return name.find('/') != std::string::npos || name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0;
}

LayerSchedule read_layer(const Fields &f, const std::string &layer, const ModelSpec &spec) {
    f.reject_unknown({"vector_width", "tile", "vectorize", "compute_at", "inline", "threads"});
    LayerSchedule options;
    options.vector_width = f.has("vector_width") ? f.integer("vector_width", std::nullopt, 1) : 0;
    options.tile = f.has("tile") ? f.integer("tile", std::nullopt, 1) : 0;
    options.threads = f.has("threads") ? f.integer("threads", std::nullopt, 1) : 0;
    // GPUs allow 1024 threads per block: image layers use threads x threads, fully connected threads.
    bool fully_connected = false;
    for (const LayerSpec &l : spec.layers) fully_connected = fully_connected || (l.name == layer && l.kind == "fully_connected");
    // Its dot products take the target's vector width along the reduction, never along an output.
    if (fully_connected)
        for (const char *conv_only : {"vector_width", "vectorize"})
            if (f.has(conv_only))
                fail("{}: field '{}' has no effect on a fully-connected layer (its dot products take the target's "
                     "vector width); it takes tile (and threads under gpu)",
                     f.where(), conv_only);
    const int most_threads = fully_connected ? 1024 : 32;
    if (options.threads > most_threads)
        fail("{}: field 'threads' is {}, expected at most {}", f.where(), options.threads, most_threads);
    options.compute_at = f.string("compute_at", "");
    options.vectorize = f.string("vectorize", "");
    if (!options.vectorize.empty() && options.vectorize != "x" && options.vectorize != "channels")
        fail("{}: field 'vectorize' is '{}', expected x or channels", f.where(), options.vectorize);
    options.inline_into_consumer = f.boolean("inline", false);
    if (!options.compute_at.empty()) {
        size_t here = 0, at = 0;
        for (size_t k = 0; k < spec.layers.size(); ++k) {
            if (spec.layers[k].name == layer) here = k;
            if (spec.layers[k].name == options.compute_at) at = k + 1;
        }
        if (at == 0 || at - 1 <= here)
            fail("{}: compute_at '{}' is not a layer after '{}' in {}", f.where(), options.compute_at, layer, spec.path);
    }
    if (options.inline_into_consumer && !options.compute_at.empty())
        fail("{}: a layer is either inlined or computed at another layer, not both", f.where());
    return options;
}

}  // namespace

std::string fusion_chain_problem(const ModelSchedule &schedule, const ModelSpec &spec) {
    const auto settings = [&](size_t k) {
        const auto it = schedule.layers.find(spec.layers[k].name);
        return it == schedule.layers.end() ? LayerSchedule{} : it->second;
    };
    // Who reads each layer's output, by position: a fusion group is a path of the graph.
    std::vector<std::vector<size_t>> readers(spec.layers.size());
    const std::vector<std::vector<int>> inputs = layer_input_indices(spec);
    for (size_t k = 0; k < inputs.size(); ++k)
        for (int a : inputs[k])
            if (a > 0) readers[size_t(a - 1)].push_back(k);
    for (size_t k = 0; k < spec.layers.size(); ++k) {
        const std::string &at = settings(k).compute_at;
        if (at.empty()) continue;
        size_t c = k + 1;
        while (c < spec.layers.size() && spec.layers[c].name != at) ++c;
        if (c == spec.layers.size()) continue;  // not a later layer: read_layer says so
        if (settings(c).inline_into_consumer)
            return fmt::format("layer '{}' computes at '{}', which is inlined", spec.layers[k].name, at);
        for (size_t j = k; j < c; ++j)
            if (readers[j] != std::vector<size_t>{j + 1})
                return fmt::format("layer '{}' computes at '{}', but '{}' between them is read by {} layer(s) other "
                                   "than the next: a fusion group must be a path of the graph",
                                   spec.layers[k].name, at, spec.layers[j].name, readers[j].size());
        for (size_t j = k + 1; j < c; ++j)
            if (!settings(j).inline_into_consumer && settings(j).compute_at != at)
                return fmt::format("layer '{}' computes at '{}', but '{}' between them is neither inlined nor computed "
                                   "at '{}'",
                                   spec.layers[k].name, at, spec.layers[j].name, at);
    }
    return "";
}

ModelSchedule parse_model_schedule(const std::string &text, const std::string &path, const ModelSpec &spec) {
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error &e) {
        fail("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column, e.description());
    }
    const Fields top(root, path);
    top.reject_unknown({"description", "base", "train_step", "gradients", "layers"});
    ModelSchedule schedule;
    schedule.name = std::filesystem::path(path).filename().string();
    for (const char *suffix : {".toml", ".schedule"})
        if (schedule.name.size() > std::strlen(suffix) &&
            schedule.name.compare(schedule.name.size() - std::strlen(suffix), std::string::npos, suffix) == 0)
            schedule.name.resize(schedule.name.size() - std::strlen(suffix));
    schedule.base = top.string("base", "cpu");
    check_schedule_name(path + ": field 'base'", schedule.base);
    schedule.train_step = train_step_from_name(path + ": field 'train_step'", top.string("train_step", "fused"));
    if (top.has("gradients"))
        schedule.gradients = gradient_method_from_name(path + ": field 'gradients'", top.string("gradients"));
    if (schedule.gradients == GradientMethod::manual && schedule.base != "cpu" && schedule.base != "naive" &&
        !is_gpu_schedule(schedule.base))
        fail("{}: hand-derived gradients have naive, cpu and gpu schedules; base is '{}'", path, schedule.base);
    if (auto layers = root.get("layers")) {
        const toml::table *table = layers->as_table();
        if (!table) fail("{}: 'layers' must be a table of [layers.NAME] tables", path);
        if (schedule.base != "cpu" && !is_gpu_schedule(schedule.base) && !table->empty())
            fail("{}: per-layer settings refine the cpu and gpu schedules, but base is '{}'", path, schedule.base);
        for (const auto &[key, node] : *table) {
            const std::string layer(key.str());
            const std::string where = fmt::format("{}: [layers.{}]", path, layer);
            bool known = false;
            for (const LayerSpec &l : spec.layers) known = known || l.name == layer;
            if (!known) {
                std::vector<std::string> names;
                for (const LayerSpec &l : spec.layers) names.push_back(l.name);
                fail("{}: model {} has no layer '{}' (it has {})", where, spec.name, layer, fmt::join(names, ", "));
            }
            if (!node.is_table()) fail("{}: must be a table", where);
            const Fields fields(*node.as_table(), where);
            if (is_gpu_schedule(schedule.base))
                for (const char *cpu_only : {"vector_width", "vectorize", "compute_at", "inline"})
                    if (fields.has(cpu_only))
                        fail("{}: field '{}' refines the cpu schedule; under base '{}' a layer takes tile and threads",
                             where, cpu_only, schedule.base);
            schedule.layers[layer] = read_layer(fields, layer, spec);
        }
    }
    if (const std::string problem = fusion_chain_problem(schedule, spec); !problem.empty()) fail("{}: {}", path, problem);
    return schedule;
}

std::string schedule_file_text(const ModelSchedule &schedule, const ModelSpec &spec, const std::string &description,
                               const std::vector<std::string> &comment) {
    std::string text;
    for (const std::string &line : comment) text += line.empty() ? "#\n" : "# " + line + "\n";
    const auto quoted = [](const std::string &s) {
        std::string out = "\"";
        for (char ch : s) out += ch == '"' || ch == '\\' ? std::string{'\\', ch} : std::string(1, ch);
        return out + "\"";
    };
    text += fmt::format("description = {}\nbase = {}\ntrain_step = {}\n", quoted(description), quoted(schedule.base),
                        quoted(schedule.train_step == TrainStep::fused ? "fused" : "chained"));
    if (schedule.gradients != GradientMethod::automatic)
        text += fmt::format("gradients = {}\n", quoted(schedule.gradients == GradientMethod::manual ? "manual" : "autodiff"));
    for (const LayerSpec &layer : spec.layers) {
        const auto it = schedule.layers.find(layer.name);
        if (it == schedule.layers.end()) continue;
        const LayerSchedule &o = it->second;
        std::string fields;
        if (!o.compute_at.empty()) fields += fmt::format("compute_at = {}\n", quoted(o.compute_at));
        if (o.inline_into_consumer) fields += "inline = true\n";
        if (o.tile > 0) fields += fmt::format("tile = {}\n", o.tile);
        if (o.vector_width > 0) fields += fmt::format("vector_width = {}\n", o.vector_width);
        if (!o.vectorize.empty()) fields += fmt::format("vectorize = {}\n", quoted(o.vectorize));
        if (o.threads > 0) fields += fmt::format("threads = {}\n", o.threads);
        if (!fields.empty()) text += fmt::format("\n[layers.{}]\n{}", layer.name, fields);
    }
    return text;
}

ModelSchedule load_model_schedule(const std::string &name_or_path, const ModelSpec &spec) {
    if (!looks_like_file(name_or_path)) return named_model_schedule(name_or_path);
    std::ifstream file(name_or_path);
    if (!file) fail("{}: cannot open schedule file", name_or_path);
    std::stringstream text;
    text << file.rdbuf();
    return parse_model_schedule(text.str(), name_or_path, spec);
}

}  // namespace cnngen
