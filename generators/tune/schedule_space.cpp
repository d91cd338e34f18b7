#include "schedule_space.h"

#include "../model/schedule_file.h"
#include "../schedules/cpu_tiles.h"

#include <fmt/format.h>

#include <fstream>
#include <set>

namespace cnngen {

namespace {

const std::set<std::string> activation_kinds = {"relu", "leaky_relu", "sigmoid", "tanh", "elu"};

// Layers others fuse into (schedule_model_layers): pooling, LRN and activations on images.
bool is_fusion_consumer(const std::string &kind) {
    return activation_kinds.count(kind) || kind == "max_pool" || kind == "avg_pool" || kind == "p_norm_pool" ||
           kind == "lrn";
}

bool same(const LayerSchedule &a, const LayerSchedule &b) {
    return a.vector_width == b.vector_width && a.tile == b.tile && a.vectorize == b.vectorize &&
           a.compute_at == b.compute_at && a.inline_into_consumer == b.inline_into_consumer && a.threads == b.threads;
}

// Layers at their defaults are dropped, so equal schedules have equal maps.
ModelSchedule canonical(ModelSchedule s) {
    for (auto it = s.layers.begin(); it != s.layers.end();) it = same(it->second, {}) ? s.layers.erase(it) : std::next(it);
    return s;
}

bool same(const ModelSchedule &a, const ModelSchedule &b) {
    if (a.base != b.base || a.train_step != b.train_step || a.gradients != b.gradients) return false;
    const ModelSchedule ca = canonical(a), cb = canonical(b);
    if (ca.layers.size() != cb.layers.size()) return false;
    for (const auto &[name, o] : ca.layers)
        if (!cb.layers.count(name) || !same(o, cb.layers.at(name))) return false;
    return true;
}

LayerSchedule settings(const ModelSchedule &s, const std::string &layer) {
    const auto it = s.layers.find(layer);
    return it == s.layers.end() ? LayerSchedule{} : it->second;
}

bool is_image(const ModelPlan &plan, size_t layer) { return plan.activations[layer + 1].size() == 3; }

long long bytes(const Shape &shape) { return 4 * element_count(shape); }

std::string fusion_problem(const ModelSchedule &s, const SearchSpace &space) {
    const ModelPlan &plan = space.plan;
    if (std::string problem = fusion_chain_problem(s, plan.spec); !problem.empty()) return problem;
    const auto &layers = plan.spec.layers;
    std::map<std::string, long long> footprint;  // per consumer: its group's per-image bytes
    for (size_t k = 0; k < layers.size(); ++k) {
        const LayerSchedule o = settings(s, layers[k].name);
        if (o.inline_into_consumer) {
            if (!activation_kinds.count(layers[k].kind) || k + 1 == layers.size())
                return fmt::format("{} cannot be inlined", layers[k].name);
            continue;
        }
        if (o.compute_at.empty()) continue;
        size_t c = k + 1;
        while (c < layers.size() && layers[c].name != o.compute_at) ++c;
        if (c == layers.size() || !is_image(plan, c) || !is_fusion_consumer(layers[c].kind))
            return fmt::format("{} computes at {}, not a later pooling, LRN or activation", layers[k].name, o.compute_at);
        // Not known to build: a consumer that is itself computed inside another.
        if (!settings(s, layers[c].name).compute_at.empty())
            return fmt::format("{} computes at {}, which is itself fused", layers[k].name, o.compute_at);
        footprint[o.compute_at] += bytes(plan.activations[k + 1]) +
                                   (layers[k].kind == "conv2d" ? bytes(plan.activations[k]) : 0);
    }
    for (const auto &[consumer, total] : footprint)
        if (total > space.limits.l2_bytes)
            return fmt::format("the group fused at {} holds {} KiB per image, over the {} KiB L2", consumer, total / 1024,
                               space.limits.l2_bytes / 1024);
    return "";
}

// Conv and fully-connected register tiles: accumulators beyond the vector registers spill.
std::string tile_problem(const ModelSchedule &s, const SearchSpace &space) {
    const ModelPlan &plan = space.plan;
    const MachineLimits &m = space.limits;
    for (size_t k = 0; k < plan.spec.layers.size(); ++k) {
        const LayerSpec &layer = plan.spec.layers[k];
        const LayerSchedule o = settings(s, layer.name);
        if (o.vector_width > 2 * m.natural_vector)
            return fmt::format("{}.vector_width {} is over two of the target's vectors", layer.name, o.vector_width);
        if (layer.kind == "fully_connected" && o.tile > space.largest_batch)
            return fmt::format("{}.tile {} is over the largest batch", layer.name, o.tile);
        if (layer.kind != "conv2d" || o.tile == 0) continue;
        const Shape &out = plan.activations[k + 1];  // c, h, w
        const int vec = o.vector_width > 0 ? o.vector_width : m.natural_vector;
        const int registers_per_vector = std::max(1, vec / m.natural_vector);
        const auto &conv = std::get<Conv2dParams>(layer.params);
        const int taps = conv.height.kernel * conv.width.kernel;
        const int in_channels = plan.activations[size_t(plan.inputs[k].at(0))][0];
        const bool across_channels = conv_tiles_across_channels(o, vec, m.vector_registers, out[0], out[2], taps,
                                                                taps * in_channels / conv.groups, conv.groups);
        const int channel_vectors = across_channels ? across_channels_vectors(out[0], vec) : 1;
        const int accumulators = o.tile * channel_vectors * registers_per_vector;
        if (accumulators > m.vector_registers - 2)
            return fmt::format("{}.tile {} needs {} accumulator registers of {}", layer.name, o.tile, accumulators,
                               m.vector_registers);
        if (o.tile > (across_channels ? out[2] : out[0]))
            return fmt::format("{}.tile {} is over the {} it tiles", layer.name, o.tile,
                               across_channels ? "width" : "channel count");
    }
    return "";
}

template <typename T>
void add_choices(std::vector<ModelSchedule> &out, const ModelSchedule &from, const std::string &layer,
                 T LayerSchedule::*field, const std::vector<T> &values) {
    for (const T &value : values) {
        ModelSchedule s = from;
        if (s.layers[layer].*field == value) continue;
        s.layers[layer].*field = value;
        out.push_back(s);
    }
}

}  // namespace

MachineLimits machine_limits(const Halide::Target &target) {
    MachineLimits m;
    m.vector_registers = vector_registers(target);
    m.natural_vector = target.natural_vector_size<float>();
    if (target.arch == Halide::get_host_target().arch) {
        std::ifstream size("/sys/devices/system/cpu/cpu0/cache/index2/size");
        long long amount = 0;
        std::string unit;  // sysfs writes "1024K"
        if (size >> amount && amount > 0) {
            size >> unit;
            m.l2_bytes = amount * (unit == "M" ? 1 << 20 : unit == "K" ? 1024 : 1);
        }
    }
    return m;
}

std::string pruned_because(const ModelSchedule &schedule, const SearchSpace &space) {
    std::string problem = fusion_problem(schedule, space);
    return problem.empty() ? tile_problem(schedule, space) : problem;
}

std::vector<ModelSchedule> neighbours(const ModelSchedule &from, const SearchSpace &space) {
    const auto &layers = space.plan.spec.layers;
    const int v = space.limits.natural_vector;
    std::vector<ModelSchedule> out;
    std::set<std::string> consumers;
    for (const auto &[name, o] : from.layers)
        if (!o.compute_at.empty()) consumers.insert(o.compute_at);
    for (size_t k = 0; k < layers.size(); ++k) {
        const std::string &name = layers[k].name;
        const std::string &kind = layers[k].kind;
        const LayerSchedule o = settings(from, name);
        const bool last = k + 1 == layers.size();
        if (is_image(space.plan, k) && !last && o.compute_at.empty() && !o.inline_into_consumer &&
            !consumers.count(name)) {
            // Join a fusion group at each later consumer, taking every layer between along.
            for (size_t c = k + 1; c < layers.size() && is_image(space.plan, c); ++c) {
                if (!is_fusion_consumer(layers[c].kind)) continue;
                ModelSchedule s = from;
                for (size_t j = k; j < c; ++j)
                    if (!s.layers[layers[j].name].inline_into_consumer) s.layers[layers[j].name].compute_at = layers[c].name;
                for (auto &[other, setting] : s.layers)  // a group that computed at a layer now inside moves too
                    for (size_t j = k; j < c; ++j)
                        if (setting.compute_at == layers[j].name) setting.compute_at = layers[c].name;
                out.push_back(s);
            }
        }
        if (!o.compute_at.empty()) {  // leave the group, with every member before it
            ModelSchedule s = from;
            for (size_t j = 0; j <= k; ++j)
                if (s.layers[layers[j].name].compute_at == o.compute_at) s.layers[layers[j].name].compute_at.clear();
            out.push_back(s);
        }
        if (activation_kinds.count(kind) && !last && !consumers.count(name)) {
            ModelSchedule s = from;
            s.layers[name].inline_into_consumer = !o.inline_into_consumer;
            if (s.layers[name].inline_into_consumer) s.layers[name].compute_at.clear();
            out.push_back(s);
        }
        if (o.inline_into_consumer) continue;
        const std::vector<int> widths = {0, v / 2, v, 2 * v};
        if (kind == "conv2d") {
            add_choices(out, from, name, &LayerSchedule::tile, {0, 2, 3, 4, 6, 8, 12, 16});
            add_choices(out, from, name, &LayerSchedule::vector_width, widths);
            add_choices<std::string>(out, from, name, &LayerSchedule::vectorize, {"", "x", "channels"});
        } else if (kind == "fully_connected") {  // its vector width is the target's (schedule_fully_connected)
            add_choices(out, from, name, &LayerSchedule::tile, {0, 1, 2, 4, 8, 16});
        } else {
            add_choices(out, from, name, &LayerSchedule::vector_width, widths);
        }
    }
    if (space.training) {
        ModelSchedule s = from;
        s.train_step = from.train_step == TrainStep::fused ? TrainStep::chained : TrainStep::fused;
        out.push_back(s);
        s = from;
        s.gradients = from.gradients == GradientMethod::autodiff ? GradientMethod::automatic : GradientMethod::autodiff;
        out.push_back(s);
    }
    std::vector<ModelSchedule> kept;
    for (ModelSchedule &s : out) {
        s = canonical(std::move(s));
        if (same(s, from) || !pruned_because(s, space).empty()) continue;
        bool seen = false;
        for (const ModelSchedule &k : kept) seen = seen || same(k, s);
        if (!seen) kept.push_back(std::move(s));
    }
    return kept;
}

ModelSchedule combined(const ModelSchedule &base, const ModelSchedule &a, const ModelSchedule &b) {
    ModelSchedule s = a;
    if (b.train_step != base.train_step) s.train_step = b.train_step;
    if (b.gradients != base.gradients) s.gradients = b.gradients;
    std::set<std::string> names;
    for (const auto *m : {&base.layers, &b.layers})
        for (const auto &[name, o] : *m) names.insert(name);
    for (const std::string &name : names)
        if (!same(settings(b, name), settings(base, name))) s.layers[name] = settings(b, name);
    return canonical(s);
}

std::string describe_changes(const ModelSchedule &base, const ModelSchedule &changed) {
    std::vector<std::string> parts;
    const auto text = [](int value) { return value == 0 ? std::string("auto") : std::to_string(value); };
    if (base.base != changed.base) parts.push_back("base " + changed.base);
    if (base.train_step != changed.train_step)
        parts.push_back(changed.train_step == TrainStep::fused ? "train_step fused" : "train_step chained");
    if (base.gradients != changed.gradients)
        parts.push_back(changed.gradients == GradientMethod::autodiff ? "gradients autodiff" : "gradients hand-derived");
    std::set<std::string> names;
    for (const auto *m : {&base.layers, &changed.layers})
        for (const auto &[name, o] : *m) names.insert(name);
    for (const std::string &name : names) {
        const LayerSchedule a = settings(base, name), b = settings(changed, name);
        if (a.compute_at != b.compute_at && !b.inline_into_consumer)
            parts.push_back(b.compute_at.empty() ? name + " at root" : name + " at " + b.compute_at);
        if (a.inline_into_consumer != b.inline_into_consumer)
            parts.push_back(name + (b.inline_into_consumer ? " inline" : " stored"));
        if (a.tile != b.tile) parts.push_back(fmt::format("{}.tile {}", name, text(b.tile)));
        if (a.vector_width != b.vector_width) parts.push_back(fmt::format("{}.vector_width {}", name, text(b.vector_width)));
        if (a.vectorize != b.vectorize)
            parts.push_back(fmt::format("{}.vectorize {}", name, b.vectorize.empty() ? "auto" : b.vectorize));
    }
    std::string joined;
    for (const std::string &p : parts) joined += (joined.empty() ? "" : ", ") + p;
    return joined.empty() ? "no change" : joined;
}

}  // namespace cnngen
