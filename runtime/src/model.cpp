#include "cnngen/model.h"

#include "cnngen/error.h"
#include "cnngen/npy.h"

#include <HalideBuffer.h>
#include <HalideRuntime.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
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
};

Model::Model(const ModelDescription &description) : description_(description) {
    halide_set_error_handler(record_halide_error);
    for (const ParameterEntry &p : description_.parameters) {
        Tensor t{p.shape, std::vector<float>(element_count(p.shape))};
        parameter_index_[p.identifier] = parameters_.size();
        parameters_.push_back(t);
        velocities_.push_back(t);
        next_parameters_.push_back(t);
        next_velocities_.push_back(t);
    }
    initialize(1);
}

Model::~Model() = default;

int Model::sample_size() const {
    return description_.input_shape[0] * description_.input_shape[1] * description_.input_shape[2];
}

int Model::train_batch() const {
    for (const PipelineEntry &e : description_.pipelines)
        if (e.kind == PipelineKind::train_step) return e.batch;
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

void Model::run(Bound &b, const float *images, const int32_t *labels, const SgdSettings *sgd) {
    const int batch = b.entry->batch;
    const std::vector<int> &in = description_.input_shape;
    const halide_filter_metadata_t *md = b.entry->metadata();
    // Reserved up front: args keeps pointers into these buffers.
    std::vector<Halide::Runtime::Buffer<>> buffers;
    buffers.reserve(size_t(md->num_arguments));
    std::vector<void *> args(size_t(md->num_arguments));
    auto tensor_for = [&](const std::string &name, const std::string &suffix, std::vector<Tensor> &storage) {
        if (!ends_with(name, suffix)) return false;
        auto it = parameter_index_.find(name.substr(0, name.size() - suffix.size()));
        if (it == parameter_index_.end()) return false;
        Tensor &t = storage[it->second];
        buffers.push_back(wrap(t.data.data(), t.shape));
        return true;
    };
    float scalars[3] = {};
    if (sgd) scalars[0] = sgd->learning_rate, scalars[1] = sgd->momentum, scalars[2] = sgd->weight_decay;
    for (int a = 0; a < md->num_arguments; ++a) {
        const std::string name = argument_name(md->arguments[a].name);
        if (sgd && (name == "learning_rate" || name == "momentum" || name == "weight_decay")) {
            args[size_t(a)] = &scalars[name == "learning_rate" ? 0 : name == "momentum" ? 1 : 2];
            continue;
        }
        if (name == "images") {
            buffers.push_back(wrap(const_cast<float *>(images), {batch, in[0], in[1], in[2]}));
        } else if (name == "labels" && labels) {
            buffers.push_back(wrap(const_cast<int32_t *>(labels), {batch}));
        } else if (name == "logits") {
            buffers.push_back(wrap(b.logits.data(), {batch, classes()}));
        } else if (name == "loss") {
            buffers.push_back(wrap(&b.loss, {}));
        } else if (!tensor_for(name, "_velocity_next", next_velocities_) && !tensor_for(name, "_next", next_parameters_) &&
                   !tensor_for(name, "_velocity", velocities_) && !tensor_for(name, "", parameters_)) {
            runtime_fail("{}: generated function {} has an unknown argument '{}'", description_.name,
                         b.entry->function_name, name);
        }
        args[size_t(a)] = buffers.back().raw_buffer();
    }
    last_halide_error.clear();
    if (b.entry->argv(args.data()) != 0)
        runtime_fail("{}: {} failed: {}", description_.name, b.entry->function_name, last_halide_error);
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
    Bound &b = bound(PipelineKind::train_step, batch);
    run(b, images, labels, &sgd);
    std::swap(parameters_, next_parameters_);
    std::swap(velocities_, next_velocities_);
    StepResult result;
    result.loss = b.loss;
    const std::vector<int> predicted = argmax_rows(b.logits, classes());
    for (int n = 0; n < batch; ++n) result.correct += predicted[size_t(n)] == labels[n];
    return result;
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
