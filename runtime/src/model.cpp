#include "cnngen/model.h"

#include "cnngen/error.h"
#include "cnngen/npy.h"

#include <HalideBuffer.h>
#include <HalideRuntime.h>
#include <fmt/ranges.h>

#include <algorithm>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <set>

namespace fs = std::filesystem;

namespace cnngen {

namespace {

thread_local std::string last_halide_error;

// Halide's default handler aborts; ours records the message so the call returns an error.
void record_halide_error(void *, const char *message) { last_halide_error = message; }

std::string shape_text(const std::vector<int> &shape) { return fmt::format("({})", fmt::join(shape, ", ")); }

size_t element_count(const std::vector<int> &shape) {
    size_t count = 1;
    for (int e : shape) count *= size_t(e);
    return count;
}

template <typename T>
Halide::Runtime::Buffer<> wrap(T *data, std::vector<int> shape_pytorch_order) {
    std::vector<int> sizes(shape_pytorch_order.rbegin(), shape_pytorch_order.rend());
    return Halide::Runtime::Buffer<T>(data, sizes);
}

// Halide makes Func names unique within the generating process ("logits$1"); the
// runtime matches arguments by the name the generator gave them.
std::string argument_name(const char *generated) {
    std::string name = generated;
    const auto dollar = name.find('$');
    return dollar == std::string::npos ? name : name.substr(0, dollar);
}

bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

struct Model::Bound {
    const PipelineEntry *entry = nullptr;
    std::vector<float> staging;  // a padded copy when fewer images than the batch arrive
    std::vector<float> logits;
    float loss = 0;
    // Chained steps: the tensor entering each layer (0: the images, unused) and its gradient.
    std::vector<std::vector<float>> activations, deltas;
};

Model::Model(const ModelDescription &description) : description_(description) {
    halide_set_error_handler(record_halide_error);
#ifdef __GLIBC__
    // Generated functions allocate their intermediate buffers on every call. Past glibc's
    // default 128 KiB threshold each one would be a fresh mmap, page-faulted in and unmapped
    // again (a third of batch-1 latency); kept on the heap, the memory is reused.
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
    for (const ParameterEntry &p : description_.parameters) {
        Tensor t{p.shape, std::vector<float>(element_count(p.shape))};
        parameter_index_[p.identifier] = parameters_.size();
        parameters_.push_back(t);
        velocities_.push_back(t);
        next_parameters_.push_back(t);
        next_velocities_.push_back(t);
        gradients_.push_back(t);
    }
    initialize(1);
}

Model::~Model() = default;

int Model::sample_size() const {
    return description_.input_shape[0] * description_.input_shape[1] * description_.input_shape[2];
}

int Model::train_batch() const {
    for (const PipelineEntry &e : description_.pipelines)
        if (e.kind == PipelineKind::train_step || e.kind == PipelineKind::loss) return e.batch;
    return 0;
}

std::vector<int> Model::inference_batches() const {
    std::vector<int> batches;
    for (const PipelineEntry &e : description_.pipelines)
        if (e.kind == PipelineKind::forward) batches.push_back(e.batch);
    std::sort(batches.begin(), batches.end());
    return batches;
}

void Model::initialize(uint32_t seed) {
    std::mt19937 rng(seed);
    for (size_t k = 0; k < parameters_.size(); ++k) {
        const float bound = 1.0f / std::sqrt(float(std::max(1, description_.parameters[k].fan_in)));
        std::uniform_real_distribution<float> dist(-bound, bound);
        for (float &v : parameters_[k].data) v = dist(rng);
        std::fill(velocities_[k].data.begin(), velocities_[k].data.end(), 0.0f);
    }
}

void Model::load_weights(const std::string &dir) {
    if (!fs::is_directory(dir)) runtime_fail("{}: weights directory does not exist", dir);
    std::set<std::string> expected;
    for (const ParameterEntry &p : description_.parameters) expected.insert(p.name + ".npy");
    for (const auto &entry : fs::directory_iterator(dir)) {
        const std::string file = entry.path().filename().string();
        if (entry.path().extension() == ".npy" && !expected.count(file))
            runtime_fail("{}: unexpected tensor '{}' (model {} has {})", entry.path().string(),
                         entry.path().stem().string(), description_.name,
                         fmt::join(std::vector<std::string>(expected.begin(), expected.end()), ", "));
    }
    std::vector<Tensor> loaded;
    for (const ParameterEntry &p : description_.parameters) {
        const std::string path = dir + "/" + p.name + ".npy";
        if (!fs::exists(path))
            runtime_fail("{}: tensor '{}' missing (expected {} with shape {})", dir, p.name, path, shape_text(p.shape));
        NpyArray array = read_npy(path);
        if (array.shape != p.shape)
            runtime_fail("{}: tensor '{}' has shape {}, expected {}", path, p.name, shape_text(array.shape),
                         shape_text(p.shape));
        loaded.push_back({array.shape, std::move(array.data)});
    }
    // Only replace parameters once every tensor loaded.
    parameters_ = std::move(loaded);
}

void Model::save_weights(const std::string &dir) const {
    fs::create_directories(dir);
    for (size_t k = 0; k < parameters_.size(); ++k)
        write_npy(dir + "/" + description_.parameters[k].name + ".npy", parameters_[k].shape, parameters_[k].data.data());
}

Model::Bound &Model::bound(PipelineKind kind, int batch) {
    auto &slot = bound_[{int(kind), batch}];
    if (!slot) {
        slot = std::make_unique<Bound>();
        for (const PipelineEntry &e : description_.pipelines)
            if (e.kind == kind && e.batch == batch) slot->entry = &e;
        if (!slot->entry) runtime_fail("{}: no generated function for batch {}", description_.name, batch);
        slot->logits.resize(size_t(batch) * classes());
        slot->staging.resize(size_t(batch) * sample_size());
    }
    return *slot;
}

// Calls a generated function, binding each argument by its name: buffers through `lookup`,
// the SGD scalars from `sgd`.
void Model::invoke(const PipelineEntry &entry, const std::function<Slot(const std::string &)> &lookup,
                   const SgdSettings *sgd) {
    const halide_filter_metadata_t *md = entry.metadata();
    // Reserved up front: args keeps pointers into these buffers.
    std::vector<Halide::Runtime::Buffer<>> buffers;
    buffers.reserve(size_t(md->num_arguments));
    std::vector<void *> args(size_t(md->num_arguments));
    float scalars[3] = {};
    if (sgd) scalars[0] = sgd->learning_rate, scalars[1] = sgd->momentum, scalars[2] = sgd->weight_decay;
    for (int a = 0; a < md->num_arguments; ++a) {
        const std::string name = argument_name(md->arguments[a].name);
        if (sgd && (name == "learning_rate" || name == "momentum" || name == "weight_decay")) {
            args[size_t(a)] = &scalars[name == "learning_rate" ? 0 : name == "momentum" ? 1 : 2];
            continue;
        }
        Slot slot = lookup(name);
        if (slot.floats) {
            buffers.push_back(wrap(slot.floats, slot.shape));
        } else if (slot.ints) {
            buffers.push_back(wrap(slot.ints, slot.shape));
        } else {
            // Parameters and optimizer state, by the names the generator gives them.
            auto tensor = [&](const std::string &prefix, const std::string &suffix, std::vector<Tensor> &storage) {
                if (name.size() < prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
                    !ends_with(name, suffix))
                    return false;
                auto it = parameter_index_.find(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
                if (it == parameter_index_.end()) return false;
                Tensor &t = storage[it->second];
                buffers.push_back(wrap(t.data.data(), t.shape));
                return true;
            };
            if (!tensor("", "_velocity_next", next_velocities_) && !tensor("", "_next", next_parameters_) &&
                !tensor("", "_velocity", velocities_) && !tensor("d_", "", gradients_) && !tensor("", "", parameters_))
                runtime_fail("{}: generated function {} has an unknown argument '{}'", description_.name,
                             entry.function_name, name);
        }
        args[size_t(a)] = buffers.back().raw_buffer();
    }
    last_halide_error.clear();
    if (entry.argv(args.data()) != 0)
        runtime_fail("{}: {} failed: {}", description_.name, entry.function_name, last_halide_error);
}

void Model::run(Bound &b, const float *images, const int32_t *labels, const SgdSettings *sgd) {
    const int batch = b.entry->batch;
    const std::vector<int> &in = description_.input_shape;
    invoke(
        *b.entry,
        [&](const std::string &name) -> Slot {
            if (name == "images") return {const_cast<float *>(images), nullptr, {batch, in[0], in[1], in[2]}};
            if (name == "labels" && labels) return {nullptr, const_cast<int32_t *>(labels), {batch}};
            if (name == "logits") return {b.logits.data(), nullptr, {batch, classes()}};
            if (name == "loss") return {&b.loss, nullptr, {}};
            return {};
        },
        sgd);
}

std::vector<float> Model::logits(const float *images, int count) {
    const std::vector<int> batches = inference_batches();
    if (batches.empty()) runtime_fail("{}: the library has no inference function", description_.name);
    std::vector<float> result(size_t(count) * classes());
    int done = 0;
    while (done < count) {
        const int remaining = count - done;
        int batch = batches.front();
        for (int b : batches)
            if (b <= remaining) batch = b;
        Bound &b = bound(PipelineKind::forward, batch);
        const float *source = images + size_t(done) * sample_size();
        const int used = std::min(batch, remaining);
        if (used < batch) {
            std::fill(b.staging.begin(), b.staging.end(), 0.0f);
            std::copy(source, source + size_t(used) * sample_size(), b.staging.begin());
            source = b.staging.data();
        }
        run(b, source, nullptr, nullptr);
        std::copy(b.logits.begin(), b.logits.begin() + size_t(used) * classes(),
                  result.begin() + size_t(done) * classes());
        done += used;
    }
    return result;
}

StepResult Model::train_step(const float *images, const int32_t *labels, const SgdSettings &sgd) {
    const int batch = train_batch();
    if (batch == 0) runtime_fail("{}: the library has no training step", description_.name);
    for (int n = 0; n < batch; ++n)
        if (labels[n] < 0 || labels[n] >= classes())
            runtime_fail("{}: label {} of sample {} in the batch is outside 0..{}", description_.name, labels[n], n,
                         classes() - 1);
    const bool fused = std::any_of(description_.pipelines.begin(), description_.pipelines.end(),
                                   [](const PipelineEntry &e) { return e.kind == PipelineKind::train_step; });
    Bound &b = bound(fused ? PipelineKind::train_step : PipelineKind::loss, batch);
    if (fused)
        run(b, images, labels, &sgd);
    else
        run_chained(b, images, labels, sgd);
    std::swap(parameters_, next_parameters_);
    std::swap(velocities_, next_velocities_);
    StepResult result;
    result.loss = b.loss;
    const std::vector<int> predicted = argmax_rows(b.logits, classes());
    for (int n = 0; n < batch; ++n) result.correct += predicted[size_t(n)] == labels[n];
    return result;
}

// Forward through every layer keeping each activation, the loss and its gradient, backward
// from the last layer to the first, then the update: the fused step's arithmetic, in steps.
void Model::run_chained(Bound &b, const float *images, const int32_t *labels, const SgdSettings &sgd) {
    const int batch = b.entry->batch;
    const size_t layers = description_.layer_outputs.size();
    auto with_batch = [&](size_t k) {  // shape of the tensor entering layer k (k = layers: the logits)
        std::vector<int> shape{batch};
        const std::vector<int> &per_sample = k == 0 ? description_.input_shape : description_.layer_outputs[k - 1];
        shape.insert(shape.end(), per_sample.begin(), per_sample.end());
        return shape;
    };
    if (b.activations.empty()) {
        for (size_t k = 0; k <= layers; ++k) {
            b.activations.emplace_back(k == 0 ? 0 : element_count(with_batch(k)));
            b.deltas.emplace_back(k == 0 ? 0 : element_count(with_batch(k)));
        }
    }
    auto activation = [&](size_t k) { return k == 0 ? const_cast<float *>(images) : b.activations[k].data(); };
    auto kernel = [&](PipelineKind kind, size_t layer) -> const PipelineEntry * {
        for (const PipelineEntry &e : description_.pipelines)
            if (e.kind == kind && e.batch == batch && (e.layer < 0 || size_t(e.layer) == layer)) return &e;
        return nullptr;
    };
    for (size_t k = 0; k < layers; ++k) {
        const PipelineEntry *forward = kernel(PipelineKind::layer_forward, k);
        if (!forward) runtime_fail("{}: no forward kernel for layer {}", description_.name, k);
        invoke(*forward, [&](const std::string &name) -> Slot {
            if (name == "input") return {activation(k), nullptr, with_batch(k)};
            if (name == "output") return {activation(k + 1), nullptr, with_batch(k + 1)};
            return {};
        });
    }
    invoke(*b.entry, [&](const std::string &name) -> Slot {
        if (name == "logits") return {activation(layers), nullptr, with_batch(layers)};
        if (name == "labels") return {nullptr, const_cast<int32_t *>(labels), {batch}};
        if (name == "loss") return {&b.loss, nullptr, {}};
        if (name == "d_logits") return {b.deltas[layers].data(), nullptr, with_batch(layers)};
        return {};
    });
    std::copy(b.activations[layers].begin(), b.activations[layers].end(), b.logits.begin());
    for (size_t k = layers; k-- > 0;) {
        const PipelineEntry *backward = kernel(PipelineKind::layer_backward, k);
        if (!backward) continue;  // a first layer without parameters
        invoke(*backward, [&](const std::string &name) -> Slot {
            if (name == "input") return {activation(k), nullptr, with_batch(k)};
            if (name == "d_output") return {b.deltas[k + 1].data(), nullptr, with_batch(k + 1)};
            if (name == "d_input") return {b.deltas[k].data(), nullptr, with_batch(k)};
            return {};
        });
    }
    const PipelineEntry *update = kernel(PipelineKind::sgd_update, 0);
    if (!update) runtime_fail("{}: no SGD update kernel", description_.name);
    invoke(*update, [](const std::string &) { return Slot{}; }, &sgd);
}

std::vector<int> argmax_rows(const std::vector<float> &values, int columns) {
    std::vector<int> result(values.size() / size_t(columns));
    for (size_t r = 0; r < result.size(); ++r) {
        const float *row = values.data() + r * size_t(columns);
        result[r] = int(std::max_element(row, row + columns) - row);
    }
    return result;
}

}  // namespace cnngen
