#include "cnngen/model.h"

#include "cnngen/error.h"
#include "cnngen/npy.h"

#include <HalideBuffer.h>
#include <HalideRuntime.h>
#include <fmt/ranges.h>

#include "call_context.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>

namespace fs = std::filesystem;

namespace cnngen {

namespace {

std::string shape_text(const std::vector<int> &shape) { return fmt::format("({})", fmt::join(shape, ", ")); }

size_t element_count(const std::vector<int> &shape) {
    size_t count = 1;
    for (int e : shape) count *= size_t(e);
    return count;
}

template <typename T>
Halide::Runtime::Buffer<> wrap(T *data, const std::vector<int> &shape_pytorch_order) {
    std::vector<int> sizes(shape_pytorch_order.rbegin(), shape_pytorch_order.rend());
    return Halide::Runtime::Buffer<T>(data, sizes);
}

bool is_scalar(ArgumentRole role) {
    return role == ArgumentRole::learning_rate || role == ArgumentRole::momentum || role == ArgumentRole::weight_decay;
}

// The generated function's metadata must match what the description says it binds: the user
// context first, then one argument per binding, buffers where buffers are bound.
void check_entry(const ModelDescription &d, const PipelineEntry &e) {
    const halide_filter_metadata_t *md = e.metadata();
    if (md->num_arguments != int(e.arguments.size()) + 1 || std::string(md->arguments[0].name) != "__user_context")
        runtime_fail("{}: generated function {} has {} arguments, its description binds {} and a user context",
                     d.name, e.function_name, md->num_arguments, e.arguments.size());
    for (size_t k = 0; k < e.arguments.size(); ++k) {
        const halide_filter_argument_t &a = md->arguments[k + 1];
        const bool buffer = a.kind != halide_argument_kind_input_scalar;
        if (buffer == is_scalar(e.arguments[k].role))
            runtime_fail("{}: generated function {} argument {} ('{}') is {}, its description binds a {}", d.name,
                         e.function_name, k, a.name, buffer ? "a buffer" : "a scalar", buffer ? "scalar" : "buffer");
    }
}

}  // namespace

// One call's own buffers: padded input and logits per batch size, the chained step's
// activations, and the context Halide reports errors and allocates scratch through.
struct Model::Scratch {
    CallContext context;
    std::map<int, std::vector<float>> staging, logits;
    float loss = 0;
    std::vector<std::vector<float>> activations, deltas;  // chained: by activation index
};

// The buffers a call binds to the roles the model does not own.
struct Model::Call {
    int batch = 0;
    const float *images = nullptr;
    const int32_t *labels = nullptr;
    float *logits = nullptr;
    float *loss = nullptr;
    std::vector<std::vector<float>> *activations = nullptr;  // chained step: activation index -> data
    std::vector<std::vector<float>> *deltas = nullptr;
};

// A scratch taken from the model's pool for the length of one call.
class Model::ScratchLease {
public:
    explicit ScratchLease(Model &model) : model_(model), scratch_(model.take_scratch()) {}
    ~ScratchLease() { model_.return_scratch(std::move(scratch_)); }
    Scratch &operator*() { return *scratch_; }
    Scratch *operator->() { return scratch_.get(); }

private:
    Model &model_;
    std::unique_ptr<Scratch> scratch_;
};

Model::Model(const ModelDescription &description)
    : description_(description), training_scratch_(std::make_unique<Scratch>()) {
    for (const PipelineEntry &e : description_.pipelines) check_entry(description_, e);
    const bool trains = train_batch() > 0;
    for (const ParameterEntry &p : description_.parameters) {
        Tensor t{p.shape, std::vector<float>(element_count(p.shape))};
        parameters_.push_back(t);
        velocities_.push_back(t);
        // Optimizer state only where the library can train.
        if (!trains) t.data.clear();
        next_parameters_.push_back(t);
        next_velocities_.push_back(t);
        gradients_.push_back(t);
    }
    initialize(1);
}

Model::~Model() = default;

std::shared_lock<std::shared_mutex> Model::lock_for_reading() const {
    { std::lock_guard<std::mutex> pass(turnstile_); }
    return std::shared_lock<std::shared_mutex>(parameters_mutex_);
}

std::unique_lock<std::shared_mutex> Model::lock_for_writing() const {
    std::lock_guard<std::mutex> hold(turnstile_);  // new readers wait here while running ones finish
    return std::unique_lock<std::shared_mutex>(parameters_mutex_);
}

std::unique_ptr<Model::Scratch> Model::take_scratch() {
    std::lock_guard<std::mutex> lock(scratch_mutex_);
    if (idle_scratch_.empty()) return std::make_unique<Scratch>();
    std::unique_ptr<Scratch> scratch = std::move(idle_scratch_.back());
    idle_scratch_.pop_back();
    return scratch;
}

void Model::return_scratch(std::unique_ptr<Scratch> scratch) {
    std::lock_guard<std::mutex> lock(scratch_mutex_);
    idle_scratch_.push_back(std::move(scratch));
}

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
    auto lock = lock_for_writing();
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
    auto lock = lock_for_writing();
    parameters_ = std::move(loaded);
}

void Model::save_weights(const std::string &dir) const {
    auto lock = lock_for_reading();
    fs::create_directories(dir);
    for (size_t k = 0; k < parameters_.size(); ++k)
        write_npy(dir + "/" + description_.parameters[k].name + ".npy", parameters_[k].shape, parameters_[k].data.data());
}

const PipelineEntry *Model::find(PipelineKind kind, int batch, int layer) const {
    for (const PipelineEntry &e : description_.pipelines)
        if (e.kind == kind && e.batch == batch && e.layer == layer) return &e;
    return nullptr;
}

void Model::invoke(const PipelineEntry &entry, const Call &call, Scratch &scratch, const SgdSettings *sgd) {
    const size_t count = entry.arguments.size();
    // Reserved up front: args keeps pointers into these.
    std::vector<Halide::Runtime::Buffer<>> buffers;
    buffers.reserve(count);
    std::vector<void *> args(count + 1);
    void *user_context = scratch.context.user_context();
    args[0] = &user_context;
    float scalars[3] = {};
    if (sgd) scalars[0] = sgd->learning_rate, scalars[1] = sgd->momentum, scalars[2] = sgd->weight_decay;
    const size_t layers = description_.layer_outputs.size();
    const auto activation_shape = [&](int index) {
        std::vector<int> shape{call.batch};
        const std::vector<int> &per_sample =
            index == 0 ? description_.input_shape : description_.layer_outputs.at(size_t(index - 1));
        shape.insert(shape.end(), per_sample.begin(), per_sample.end());
        return shape;
    };
    for (size_t k = 0; k < count; ++k) {
        const ArgumentBinding &a = entry.arguments[k];
        const auto parameter = [&](std::vector<Tensor> &storage) {
            Tensor &t = storage.at(size_t(a.index));
            buffers.push_back(wrap(t.data.data(), t.shape));
        };
        switch (a.role) {
        case ArgumentRole::learning_rate:
        case ArgumentRole::momentum:
        case ArgumentRole::weight_decay:
            if (!sgd) runtime_fail("{}: {} needs SGD settings", description_.name, entry.function_name);
            args[k + 1] = &scalars[a.role == ArgumentRole::learning_rate ? 0 : a.role == ArgumentRole::momentum ? 1 : 2];
            continue;
        case ArgumentRole::parameter: parameter(parameters_); break;
        case ArgumentRole::velocity: parameter(velocities_); break;
        case ArgumentRole::gradient: parameter(gradients_); break;
        case ArgumentRole::next_parameter: parameter(next_parameters_); break;
        case ArgumentRole::next_velocity: parameter(next_velocities_); break;
        case ArgumentRole::labels:
            buffers.push_back(wrap(const_cast<int32_t *>(call.labels), {call.batch}));
            break;
        case ArgumentRole::loss: buffers.push_back(wrap(call.loss, {})); break;
        case ArgumentRole::activation: {
            float *data = a.index == 0                  ? const_cast<float *>(call.images)
                          : size_t(a.index) == layers && call.logits ? call.logits
                                                                     : call.activations->at(size_t(a.index)).data();
            buffers.push_back(wrap(data, activation_shape(a.index)));
            break;
        }
        case ArgumentRole::d_activation:
            buffers.push_back(wrap(call.deltas->at(size_t(a.index)).data(), activation_shape(a.index)));
            break;
        }
        args[k + 1] = buffers.back().raw_buffer();
    }
    scratch.context.clear_error();
    if (entry.argv(args.data()) != 0)
        runtime_fail("{}: {} failed: {}", description_.name, entry.function_name, scratch.context.error());
}

std::vector<float> Model::logits(const float *images, int count) {
    const std::vector<int> batches = inference_batches();
    if (batches.empty()) runtime_fail("{}: the library has no inference function", description_.name);
    if (count < 0) runtime_fail("{}: logits for {} images, expected a count >= 0", description_.name, count);
    if (count > 0 && !images) runtime_fail("{}: logits for {} images from a null pointer", description_.name, count);
    std::vector<float> result(size_t(count) * classes());
    auto lock = lock_for_reading();
    ScratchLease scratch(*this);
    int done = 0;
    while (done < count) {
        const int remaining = count - done;
        int batch = batches.front();
        for (int b : batches)
            if (b <= remaining) batch = b;
        std::vector<float> &out = scratch->logits[batch];
        out.resize(size_t(batch) * classes());
        const float *source = images + size_t(done) * sample_size();
        const int used = std::min(batch, remaining);
        if (used < batch) {
            std::vector<float> &staging = scratch->staging[batch];
            staging.assign(size_t(batch) * sample_size(), 0.0f);
            std::copy(source, source + size_t(used) * sample_size(), staging.begin());
            source = staging.data();
        }
        Call call;
        call.batch = batch;
        call.images = source;
        call.logits = out.data();
        invoke(*find(PipelineKind::forward, batch), call, *scratch);
        std::copy(out.begin(), out.begin() + size_t(used) * classes(), result.begin() + size_t(done) * classes());
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
    auto lock = lock_for_writing();
    Scratch &scratch = *training_scratch_;
    std::vector<float> &logits = scratch.logits[batch];
    logits.resize(size_t(batch) * classes());
    if (const PipelineEntry *fused = find(PipelineKind::train_step, batch)) {
        Call call;
        call.batch = batch;
        call.images = images;
        call.labels = labels;
        call.logits = logits.data();
        call.loss = &scratch.loss;
        invoke(*fused, call, scratch, &sgd);
    } else {
        run_chained(scratch, images, labels, sgd);
    }
    std::swap(parameters_, next_parameters_);
    std::swap(velocities_, next_velocities_);
    StepResult result;
    result.loss = scratch.loss;
    const std::vector<int> predicted = argmax_rows(logits, classes());
    for (int n = 0; n < batch; ++n) result.correct += predicted[size_t(n)] == labels[n];
    return result;
}

// Forward through every layer keeping each activation, the loss and its gradient, backward
// from the last layer to the first, then the update: the fused step's arithmetic, in steps.
void Model::run_chained(Scratch &scratch, const float *images, const int32_t *labels, const SgdSettings &sgd) {
    const int batch = train_batch();
    const size_t layers = description_.layer_outputs.size();
    if (scratch.activations.empty()) {
        scratch.activations.emplace_back();  // the images, bound by pointer
        scratch.deltas.emplace_back();
        for (size_t k = 1; k <= layers; ++k) {
            size_t elements = size_t(batch);
            for (int e : description_.layer_outputs[k - 1]) elements *= size_t(e);
            scratch.activations.emplace_back(elements);
            scratch.deltas.emplace_back(elements);
        }
    }
    Call call;
    call.batch = batch;
    call.images = images;
    call.labels = labels;
    call.loss = &scratch.loss;
    call.activations = &scratch.activations;
    call.deltas = &scratch.deltas;
    for (size_t k = 0; k < layers; ++k) {
        const PipelineEntry *forward = find(PipelineKind::layer_forward, batch, int(k));
        if (!forward) runtime_fail("{}: no forward kernel for layer {}", description_.name, k);
        invoke(*forward, call, scratch);
    }
    const PipelineEntry *loss = find(PipelineKind::loss, batch);
    if (!loss) runtime_fail("{}: no loss kernel", description_.name);
    invoke(*loss, call, scratch);
    scratch.logits[batch] = scratch.activations[layers];
    for (size_t k = layers; k-- > 0;)
        if (const PipelineEntry *backward = find(PipelineKind::layer_backward, batch, int(k)))
            invoke(*backward, call, scratch);  // none for a first layer without parameters
    const PipelineEntry *update = find(PipelineKind::sgd_update, batch);
    if (!update) runtime_fail("{}: no SGD update kernel", description_.name);
    invoke(*update, call, scratch, &sgd);
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
