#include "model_schedule.h"

#include "cpu_tiles.h"

#include "../layers/errors.h"

#include <optional>
#include <set>

using namespace Halide;

namespace cnngen {

ModelSchedule named_model_schedule(const std::string &name) {
    check_schedule_name("cnngen build", name);
    ModelSchedule schedule;
    schedule.name = schedule.base = name;
    return schedule;
}

TrainStep train_step_from_name(const std::string &context, const std::string &name) {
    if (name == "fused") return TrainStep::fused;
    if (name == "chained") return TrainStep::chained;
    fail("{}: train_step '{}' unknown, expected fused or chained", context, name);
}

GradientMethod gradient_method_from_name(const std::string &context, const std::string &name) {
    if (name == "manual") return GradientMethod::manual;
    if (name == "autodiff") return GradientMethod::autodiff;
    fail("{}: gradients '{}' unknown, expected manual or autodiff", context, name);
}

bool uses_manual_gradients(const ModelSchedule &schedule) {
    return schedule.gradients == GradientMethod::automatic ? schedule.base == "cpu" || is_gpu_schedule(schedule.base)
                                                           : schedule.gradients == GradientMethod::manual;
}

namespace {

LayerSchedule options_for(const ModelSchedule &schedule, const Layer &layer) {
    auto it = schedule.layers.find(layer.name);
    return it == schedule.layers.end() ? LayerSchedule{} : it->second;
}

// ReLU and the other element-wise activations are inlined into the next layer: it applies
// them as it reads, which saves a kernel launch and a round trip through global memory.
void schedule_model_layers_gpu(const ModelSchedule &schedule, const std::vector<Layer> &layers, const Target &target,
                               bool inference) {
    for (size_t k = 0; k < layers.size(); ++k) {
        const Layer &layer = layers[k];
        if (layer.kind == "activation" && k + 1 < layers.size()) {
            Func(layer.output.func).compute_inline();
            continue;
        }
        schedule_layer_gpu(layer, target, options_for(schedule, layer), inference);
    }
}

// Layers that can run on a convolution's output tiles: element-wise, the output's shape
// (batch_norm in its inference form, whose statistics are per-channel constants).
bool rides_on_conv_output(const Layer &layer) {
    return layer.kind == "activation" || layer.kind == "add" || layer.kind == "dropout" ||
           (layer.kind == "batch_norm" && layer.stages.count("scale"));
}

// Per convolution (by index), the element-wise layers after it that its output tiles compute:
// each next layer the only reader of the one before, free of schedule-file settings (its own,
// or another layer's computed inside it).
// A layer rides on one convolution at most (an add joining two convolutions: the first).
// An activation the pipeline returns counts one reader more, with no layer.
// `producers`: per depthwise convolution (by index), the convolution whose output, after its
// epilogue, it alone reads (schedule_conv_with_epilogue_cpu may compute it inside).
// Per layer (by index): `readers`, the layers reading its output; `returned`, whether a pipeline
// returns it; `rides_on`, the convolution whose tiles compute it (-1: none).
struct ConvFusion {
    std::map<size_t, std::vector<const Layer *>> epilogues;
    std::map<size_t, size_t> producers;
    std::vector<std::vector<size_t>> readers;
    std::vector<bool> returned;
    std::vector<int> rides_on;
    std::map<size_t, size_t> epilogue_end;  // per convolution with an epilogue, its last layer

    // The layer whose output convolution k's tiles store: the last of its epilogue, else k.
    size_t stored(size_t k) const {
        auto it = epilogue_end.find(k);
        return it == epilogue_end.end() ? k : it->second;
    }
    // The sole reader of layer k's output, or -1 (none, several, or returned too).
    int sole_reader(size_t k) const { return readers[k].size() == 1 && !returned[k] ? int(readers[k][0]) : -1; }
};
ConvFusion conv_fusion(const ModelSchedule &schedule, const std::vector<Layer> &layers,
                       const std::vector<std::vector<int>> &inputs, const std::vector<int> &returned) {
    std::set<std::string> set_in_file;
    for (const auto &[name, options] : schedule.layers) {
        if (!options.compute_at.empty() || options.inline_into_consumer) set_in_file.insert(name);
        if (!options.compute_at.empty()) set_in_file.insert(options.compute_at);
    }
    const auto unscheduled = [&](const Layer &layer) { return !set_in_file.count(layer.name); };
    ConvFusion fusion;
    fusion.readers.resize(layers.size());
    fusion.returned.assign(layers.size(), false);
    fusion.rides_on.assign(layers.size(), -1);
    for (size_t k = 0; k < inputs.size(); ++k)
        for (int a : inputs[k])  // 0: the model's input
            if (a > 0) fusion.readers.at(size_t(a - 1)).push_back(k);
    for (int a : returned)
        if (a > 0) fusion.returned.at(size_t(a - 1)) = true;
    for (size_t k = 0; k < layers.size(); ++k) {
        if (layers[k].kind != "conv2d" || !unscheduled(layers[k])) continue;
        size_t last = k;
        while (fusion.sole_reader(last) >= 0) {
            const size_t next = size_t(fusion.sole_reader(last));
            if (fusion.rides_on[next] >= 0 || !rides_on_conv_output(layers[next]) || !unscheduled(layers[next])) break;
            fusion.rides_on[next] = int(k);
            fusion.epilogues[k].push_back(&layers[next]);
            last = next;
        }
        if (last != k) fusion.epilogue_end[k] = last;
        const int reader = fusion.sole_reader(last);
        // Not a depthwise convolution that is computed inside another already (a depthwise
        // after a depthwise: the first stays the second's consumer, never both).
        if (reader < 0 || fusion.rides_on[size_t(reader)] >= 0 || fusion.producers.count(k)) continue;
        const Layer &consumer = layers[size_t(reader)];
        if (is_depthwise(consumer) && unscheduled(consumer)) fusion.producers[size_t(reader)] = k;
    }
    return fusion;
}

// While training with hand-derived gradients: a convolution's tiles apply the activation after it
// where that activation's gradient reads its output alone (ReLU, sigmoid, tanh), so the
// convolution's output is never stored (a pass over it less per layer: VGG-16's 13). Nothing else
// rides on the tiles there: batch_norm's batch statistics and an add's gradient read what the
// tiles would keep to themselves. Schedule files' compute_at and inlining apply to inference only.
ConvFusion training_epilogues(const ModelSchedule &schedule, const std::vector<Layer> &layers,
                              const std::vector<std::vector<int>> &inputs, const std::vector<int> &returned) {
    ModelSchedule without_file = schedule;
    without_file.layers.clear();
    ConvFusion fusion = conv_fusion(without_file, layers, inputs, returned);
    fusion.producers.clear();
    const auto index = [&](const Layer *layer) { return size_t(layer - layers.data()); };
    for (auto it = fusion.epilogues.begin(); it != fusion.epilogues.end();) {
        std::vector<const Layer *> &epilogue = it->second;
        const bool activation = epilogue.front()->kind == "activation" &&
                                epilogue.front()->sizes.count("gradient_from_output");
        for (size_t j = activation ? 1 : 0; j < epilogue.size(); ++j) fusion.rides_on[index(epilogue[j])] = -1;
        if (!activation) {
            fusion.epilogue_end.erase(it->first);
            it = fusion.epilogues.erase(it);
            continue;
        }
        epilogue.resize(1);
        fusion.epilogue_end[it->first] = index(epilogue.front());
        ++it;
    }
    return fusion;
}

// Whether convolution k's stored output (after its epilogue) is kept channels-innermost: where
// its tile runs across channels, its stores are then whole vectors instead of one scalar per
// output. Only where every reader takes it that way too: a convolution tiled across channels
// that reads it unpadded (one input at a time, broadcast into its channel vectors) or as a
// depthwise one (its row-ahead padded copy is channels-innermost; one with too few channel tiles
// for them, rows outside, pads at root along x and so gathers: correct, slower), or an add riding
// on such a convolution's tiles (a vector of channels a load). MobileNetV2's layers at 28x28 and
// below.
bool output_channels_innermost(const ModelSchedule &schedule, const ConvFusion &fusion,
                               const std::vector<Layer> &layers, size_t k, const Target &target) {
    const auto across = [&](const Layer &conv) {
        return !conv.sizes.count("winograd_tile") && tiles_across_channels(conv, target, options_for(schedule, conv));
    };
    const size_t stored = fusion.stored(k);
    if (!across(layers[k]) || fusion.returned[stored] || fusion.readers[stored].empty()) return false;
    for (size_t reader : fusion.readers[stored]) {
        const Layer &layer = layers[reader];
        if (layer.kind == "conv2d") {
            if (!across(layer) || (size_or(layer, "padding", 1) && !is_depthwise(layer))) return false;
            continue;
        }
        // An add: on the tiles of the convolution whose epilogue it is, else computed alone.
        const int owner = fusion.rides_on[reader];
        if (layer.kind != "add" || owner < 0 || !across(layers[size_t(owner)])) return false;
    }
    return true;
}

// Where convolution k reads, unpadded and alone, the stored output of a depthwise convolution
// (after its epilogue, returned by no pipeline): that layer's index, computed a band of k's rows
// at a time inside k's tasks; else -1. Each task's cores then read the depthwise output from
// their own cache, not the other core's (MobileNetV2's 56x56 blocks, whose depthwise layers split
// channels among cores and whose narrow projections split rows: 82-99 GFLOP/s).
int depthwise_input_by_bands(const ModelSchedule &schedule, const ConvFusion &fusion, const std::vector<Layer> &layers,
                             const std::vector<std::vector<int>> &inputs, size_t k) {
    const Layer &conv = layers[k];
    if (size_or(conv, "padding", 1) || size_or(conv, "groups", 1) != 1 || inputs[k].size() != 1 || inputs[k][0] <= 0)
        return -1;
    const size_t read = size_t(inputs[k][0] - 1);
    if (fusion.sole_reader(read) != int(k)) return -1;
    const size_t owner = fusion.rides_on[read] >= 0 ? size_t(fusion.rides_on[read]) : read;  // whose tiles store it
    if (!is_depthwise(layers[owner]) || !options_for(schedule, layers[owner]).compute_at.empty()) return -1;
    return int(read);
}

// Bands of about an eighth of the image, else a quarter (tasks enough for the cores), of at least
// 7 rows (the depthwise layer's producer recomputes its halo rows in each band: 2 for 3x3); 0
// where there are none.
int rows_per_band(int height) {
    for (int bands : {8, 4}) {
        const int rows = divisor_at_most(height, std::max(1, height / bands));
        if (rows >= 7) return rows;
    }
    return 0;
}

}  // namespace

void schedule_model_layers(const ModelSchedule &schedule, const std::vector<Layer> &layers, const Target &target,
                           bool fuse, const std::vector<std::vector<int>> &inputs, const std::vector<int> &returned) {
    if (is_gpu_schedule(schedule.base)) return schedule_model_layers_gpu(schedule, layers, target, fuse);
    if (schedule.base != "cpu") {
        schedule_layers(schedule.base, layers, target);
        return;
    }
    // Which layers take fused producers: they keep a per-sample loop to compute them in.
    std::map<std::string, Func> consumers;
    for (size_t k = 0; fuse && k < layers.size(); ++k) {
        auto it = schedule.layers.find(layers[k].name);
        if (it == schedule.layers.end() || it->second.compute_at.empty()) continue;
        const std::string &at = it->second.compute_at;
        size_t c = k + 1;
        while (c < layers.size() && layers[c].name != at) ++c;
        // Not among these layers: in a later forward part (schedule files name later layers,
        // checked when read), so the producer is computed at root, its output returned.
        if (c == layers.size()) continue;
        if (layers[c].output.shape.size() != 4 || layers[c].kind == "conv2d")
            fail("schedule {}: layer '{}' cannot compute at '{}' ({}): producers fuse into pooling, LRN or activation "
                 "layers",
                 schedule.name, layers[k].name, at, layers[c].kind);
        consumers[at] = layers[c].output.func;
    }
    ConvFusion fusion;
    if (inputs.size() == layers.size())
        fusion = fuse ? conv_fusion(schedule, layers, inputs, returned) : training_epilogues(schedule, layers, inputs, returned);
    const auto &epilogues = fusion.epilogues;
    std::set<const Layer *> riding;  // scheduled with another layer
    for (const auto &[conv, epilogue] : epilogues) riding.insert(epilogue.begin(), epilogue.end());
    for (const auto &[consumer, producer] : fusion.producers) riding.insert(&layers[producer]);
    for (size_t k = 0; k < layers.size(); ++k) {
        const Layer &layer = layers[k];
        const LayerSchedule options = options_for(schedule, layer);
        if (riding.count(&layer)) continue;
        auto epilogue = epilogues.find(k);
        auto producer = fusion.producers.find(k);
        TilePlacement placement;
        int banded_input = -1;
        const bool fused = fuse && !fusion.readers.empty();  // conv_fusion ran
        if (fused && layer.kind == "conv2d" && options.compute_at.empty()) {
            placement.channels_innermost = output_channels_innermost(schedule, fusion, layers, k, target);
            const int band_rows = rows_per_band(layer.output.shape[2]);
            banded_input = band_rows ? depthwise_input_by_bands(schedule, fusion, layers, inputs, k) : -1;
            if (banded_input >= 0) placement.band_rows = band_rows;
        }
        if (epilogue != epilogues.end() || producer != fusion.producers.end() || placement.channels_innermost ||
            placement.band_rows) {
            const std::vector<const Layer *> none;
            std::optional<ConvProducer> made;
            if (producer != fusion.producers.end()) {
                const Layer &conv = layers[producer->second];
                auto its = epilogues.find(producer->second);
                made = ConvProducer{&conv, its == epilogues.end() ? none : its->second, options_for(schedule, conv)};
            }
            const bool rows_outside =
                schedule_conv_with_epilogue_cpu(layer, epilogue == epilogues.end() ? none : epilogue->second, options,
                                                target, made ? &*made : nullptr, placement);
            if (banded_input >= 0 && rows_outside) {
                // The depthwise output a band at a time inside this layer's bands: its channel
                // tiles run in turn there, no longer in parallel.
                // "tile": schedule_conv's task loop, here the stored output's bands of a sample,
                // and the depthwise output's own loop over channel tiles.
                Var tile("tile");
                Func(layers[size_t(banded_input)].output.func)
                    .compute_at(layers[fusion.stored(k)].output.func, tile)
                    .serial(tile);
            }
            continue;
        }
        if (fuse && options.inline_into_consumer) {
            if (layer.kind != "activation")
                fail("schedule {}: layer '{}' ({}) cannot be inlined: only element-wise activations can", schedule.name,
                     layer.name, layer.kind);
            Func(layer.output.func).compute_inline();
            continue;
        }
        if (fuse && !options.compute_at.empty() && consumers.count(options.compute_at)) {
            schedule_layer_cpu_inside(layer, consumers.at(options.compute_at), options, target);
        } else if (consumers.count(layer.name)) {
            schedule_fusion_consumer_cpu(layer, options, target);
        } else {
            schedule_layer_cpu(layer, target, options);
        }
    }
}

}  // namespace cnngen
