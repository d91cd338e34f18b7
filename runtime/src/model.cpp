#include "cnngen/model.h"

#include "cnngen/error.h"
#include "cnngen/npy.h"

#include <HalideBuffer.h>
#include <HalideRuntime.h>
#include <fmt/ranges.h>

#include "call_context.h"
#include "device_info.h"
#include "resident_buffer.h"
#include "weight_packing.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>

namespace fs = std::filesystem;

namespace cnngen {

using Resident = ResidentBuffer<float>;

namespace {

std::string shape_text(const std::vector<int> &shape) { return fmt::format("({})", fmt::join(shape, ", ")); }

size_t element_count(const std::vector<int> &shape) {
    size_t count = 1;
    for (int e : shape) count *= size_t(e);
    return count;
}

bool is_scalar(ArgumentRole role) {
    return role == ArgumentRole::learning_rate || role == ArgumentRole::momentum || role == ArgumentRole::weight_decay ||
           role == ArgumentRole::dropout_seed;
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

// Parameters and optimizer state. next_* are the step's outputs, swapped in after it.
// `packed`: the tensors inference reads packed, in that layout (unallocated for the others).
// They are written with the parameters, and rebuilt from them before the first inference after
// a training step; a tensor no function reads plain is held packed alone (`parameters`
// unallocated), so an inference library keeps one copy of its weights, but for those
// transformed for Winograd's algorithm (the transform cannot be undone): both.
struct Model::State {
    bool on_device = false;  // a GPU library: inputs are staged for upload, never bound in place
    std::vector<Resident> parameters, packed, velocities, next_parameters, next_velocities, gradients;
    std::atomic<bool> packed_stale{false};
    // Dropout's seed for the next training step: from initialize()'s seed, one more each step.
    uint32_t dropout_seed = 0;
    std::mutex packing;    // the first inference after a step packs; others beside it wait
    CallContext context;   // for moving state between host and device outside a call
    std::mutex host_copy;  // readers beside each other bring state back one at a time

    ~State() {
        for (auto *set : {&parameters, &packed, &velocities, &next_parameters, &next_velocities, &gradients})
            for (Resident &t : *set) t.release_device(context);
    }
};

// One call's own buffers (by batch size where they depend on it) and the context Halide
// reports errors and allocates scratch through.
struct Model::Scratch {
    CallContext context;
    std::map<int, Resident> images, logits;
    std::map<int, ResidentBuffer<int32_t>> labels;
    Resident loss{std::vector<int>{}};
    std::vector<Resident> activations, deltas;  // chained step: by activation index
    std::map<int, std::vector<Resident>> between_parts;  // forward parts: by batch, then activation index
    std::vector<float> flat_gradients;          // a data-parallel step's, for the exchange

    ~Scratch() {
        for (auto *set : {&images, &logits})
            for (auto &[batch, t] : *set) t.release_device(context);
        for (auto &[batch, t] : labels) t.release_device(context);
        loss.release_device(context);
        for (auto *set : {&activations, &deltas})
            for (Resident &t : *set) t.release_device(context);
        for (auto &[batch, set] : between_parts)
            for (Resident &t : set) t.release_device(context);
    }
};

// The buffers a call binds to the roles the model does not own.
struct Model::Call {
    int batch = 0;
    halide_buffer_t *images = nullptr;
    halide_buffer_t *labels = nullptr;
    Resident *logits = nullptr;
    Resident *loss = nullptr;
    std::vector<Resident> *activations = nullptr;  // chained step: activation index -> tensor
    std::vector<Resident> *deltas = nullptr;
    // The caller's images and labels when bound in place; `images` and `labels` may point here.
    Halide::Runtime::Buffer<const float> images_in_place;
    Halide::Runtime::Buffer<const int32_t> labels_in_place;
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

namespace {

template <typename T>
ResidentBuffer<T> &tensor_for(std::map<int, ResidentBuffer<T>> &tensors, int batch, std::vector<int> shape_per_batch) {
    auto found = tensors.find(batch);
    if (found != tensors.end()) return found->second;
    shape_per_batch.insert(shape_per_batch.begin(), batch);
    return tensors.emplace(batch, ResidentBuffer<T>(shape_per_batch)).first->second;
}

// `count` of the caller's rows as a call's input for `batch` rows: bound in place when the
// library runs on the CPU and the batch is full, else copied into the batch's staging tensor,
// zero-padded (and, on a GPU, uploaded by Halide). `in_place` must live through the call.
template <typename T>
halide_buffer_t *input_rows(std::map<int, ResidentBuffer<T>> &staging, int batch, const std::vector<int> &per_sample,
                            bool on_device, const T *rows, int count, Halide::Runtime::Buffer<const T> &in_place) {
    if (!on_device && count == batch) {
        std::vector<int> sizes(per_sample.rbegin(), per_sample.rend());  // Halide's order
        sizes.push_back(batch);
        in_place = Halide::Runtime::Buffer<const T>(rows, sizes);
        return in_place.raw_buffer();
    }
    ResidentBuffer<T> &tensor = tensor_for(staging, batch, per_sample);
    HostVector<T> &host = tensor.overwrite();
    const size_t values = host.size() / size_t(batch) * size_t(count);
    std::copy(rows, rows + values, host.begin());
    std::fill(host.begin() + std::ptrdiff_t(values), host.end(), T(0));
    return tensor.bind();
}

}  // namespace

Model::Model(const ModelDescription &description)
    : description_(description), state_(std::make_unique<State>()), training_scratch_(std::make_unique<Scratch>()) {
    for (const PipelineEntry &e : description_.pipelines) check_entry(description_, e);
    state_->on_device = !device_api(description_.target).empty();
    // Optimizer state only where the library can train; gradients only where a split step
    // hands them to the update (the fused step keeps them inside).
    const bool trains = train_batch() > 0, split = has_split_step();
    for (size_t k = 0; k < description_.parameters.size(); ++k) {
        const ParameterEntry &p = description_.parameters[k];
        const bool packed = p.packed_block > 0;
        bool read_plain = !packed || !can_unpack(p);
        for (const PipelineEntry &e : description_.pipelines)
            for (const ArgumentBinding &a : e.arguments)
                read_plain = read_plain || (a.role == ArgumentRole::parameter && a.index == int(k));
        state_->parameters.emplace_back(p.shape, read_plain);
        state_->packed.emplace_back(packed_shape(p), packed);
        state_->velocities.emplace_back(p.shape, trains);
        state_->next_parameters.emplace_back(p.shape, trains);
        state_->next_velocities.emplace_back(p.shape, trains);
        state_->gradients.emplace_back(p.shape, split);
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
        if (e.kind == PipelineKind::forward || e.kind == PipelineKind::forward_part) batches.push_back(e.batch);
    std::sort(batches.begin(), batches.end());
    batches.erase(std::unique(batches.begin(), batches.end()), batches.end());
    return batches;
}

DeviceInfo Model::device() const {
    const std::string api = device_api(description_.target);
    if (api.empty()) return {"CPU", true};
    auto lock = lock_for_reading();  // the state's context is also the writers'
    std::lock_guard<std::mutex> context(state_->host_copy);
    DeviceInfo info = device_info(api, state_->context);
    info.description = api + ": " + info.description;
    return info;
}

Model::StateBytes Model::state_bytes() const {
    auto lock = lock_for_reading();  // a training step swaps the tensors
    StateBytes bytes;
    for (size_t k = 0; k < state_->parameters.size(); ++k) {
        const size_t plain = state_->parameters[k].host_bytes(), packed = state_->packed[k].host_bytes();
        bytes.parameters += plain ? plain : packed;
        if (plain) bytes.packed_copies += packed;
    }
    for (const auto *set : {&state_->velocities, &state_->next_parameters, &state_->next_velocities, &state_->gradients})
        for (const Resident &t : *set) bytes.optimizer += t.host_bytes();
    return bytes;
}

void Model::initialize(uint32_t seed) {
    auto lock = lock_for_writing();
    std::mt19937 rng(seed);
    state_->dropout_seed = seed * 0x9E3779B9u;
    std::vector<float> packed_only;  // the values of a tensor held packed alone, before packing
    for (size_t k = 0; k < state_->parameters.size(); ++k) {
        const ParameterEntry &entry = description_.parameters[k];
        // Drawn in place where the plain tensor is held (no copy of VGG-16's 400 MB fc6 weights).
        Resident &plain = state_->parameters[k];
        if (!plain.host_bytes()) packed_only.resize(element_count(entry.shape));
        float *values = plain.host_bytes() ? plain.overwrite().data() : packed_only.data();
        const size_t count = element_count(entry.shape);
        if (entry.init == ParameterInit::fan_in_uniform) {
            const float bound = 1.0f / std::sqrt(float(std::max(1, entry.fan_in)));
            std::uniform_real_distribution<float> dist(-bound, bound);
            for (size_t i = 0; i < count; ++i) values[i] = dist(rng);
        } else {
            std::fill_n(values, count, entry.init == ParameterInit::ones ? 1.0f : 0.0f);
        }
        store_parameter(k, values);
        HostVector<float> &velocity = state_->velocities[k].overwrite();
        std::fill(velocity.begin(), velocity.end(), 0.0f);
    }
    state_->packed_stale = false;
}

void Model::store_parameter(size_t k, const float *values) {
    Resident &plain = state_->parameters[k], &packed = state_->packed[k];
    if (plain.host_bytes()) {
        HostVector<float> &held = plain.overwrite();
        if (held.data() != values) std::copy_n(values, held.size(), held.begin());  // drawn in place: done
    }
    if (packed.host_bytes()) pack_weight(description_.parameters[k], values, packed.overwrite().data());
}

void Model::refresh_packed() {
    State &state = *state_;
    if (!state.packed_stale.load(std::memory_order_acquire)) return;
    std::lock_guard<std::mutex> packing(state.packing);
    if (!state.packed_stale.load(std::memory_order_relaxed)) return;
    std::lock_guard<std::mutex> copy(state.host_copy);
    for (size_t k = 0; k < state.packed.size(); ++k)
        if (state.packed[k].host_bytes())
            pack_weight(description_.parameters[k], state.parameters[k].read(state.context).data(),
                        state.packed[k].overwrite().data());
    state.packed_stale.store(false, std::memory_order_release);
}

namespace {

Tensor copy_out(ResidentBuffer<float> &tensor, CallContext &context) {
    const HostVector<float> &data = tensor.read(context);
    return {tensor.shape(), std::vector<float>(data.begin(), data.end())};
}

void check_shapes(const ModelDescription &d, const std::vector<Tensor> &values) {
    if (values.size() != d.parameters.size())
        runtime_fail("{}: {} tensors given, the model has {}", d.name, values.size(), d.parameters.size());
    for (size_t k = 0; k < values.size(); ++k)
        if (values[k].shape != d.parameters[k].shape || values[k].data.size() != element_count(values[k].shape))
            runtime_fail("{}: tensor '{}' has shape {} ({} values), expected {}", d.name, d.parameters[k].name,
                         shape_text(values[k].shape), values[k].data.size(), shape_text(d.parameters[k].shape));
}

void copy_in(const ModelDescription &d, std::vector<ResidentBuffer<float>> &tensors, const std::vector<Tensor> &values) {
    check_shapes(d, values);
    for (size_t k = 0; k < tensors.size(); ++k)
        std::copy(values[k].data.begin(), values[k].data.end(), tensors[k].overwrite().begin());
}

}  // namespace

std::vector<Tensor> Model::parameters() const {
    auto lock = lock_for_reading();
    std::lock_guard<std::mutex> copy(state_->host_copy);
    std::vector<Tensor> values;
    for (size_t k = 0; k < state_->parameters.size(); ++k) {
        Resident &plain = state_->parameters[k];
        if (plain.host_bytes() || !state_->packed[k].host_bytes()) {
            values.push_back(copy_out(plain, state_->context));
        } else {  // held packed alone
            values.push_back({plain.shape(), std::vector<float>(element_count(plain.shape()))});
            unpack_weight(description_.parameters[k], state_->packed[k].read(state_->context).data(),
                          values.back().data.data());
        }
    }
    return values;
}

std::vector<Tensor> Model::velocities() const {
    if (train_batch() == 0) runtime_fail("{}: the library has no training step, so no velocities", description_.name);
    auto lock = lock_for_reading();
    std::lock_guard<std::mutex> copy(state_->host_copy);
    std::vector<Tensor> values;
    for (Resident &v : state_->velocities) values.push_back(copy_out(v, state_->context));
    return values;
}

void Model::set_parameters(const std::vector<Tensor> &values) {
    auto lock = lock_for_writing();
    check_shapes(description_, values);
    for (size_t k = 0; k < values.size(); ++k) store_parameter(k, values[k].data.data());
    state_->packed_stale = false;
}

void Model::set_velocities(const std::vector<Tensor> &values) {
    if (train_batch() == 0) runtime_fail("{}: the library has no training step, so no velocities", description_.name);
    auto lock = lock_for_writing();
    copy_in(description_, state_->velocities, values);
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
    set_parameters(loaded);  // only once every tensor loaded
}

void Model::save_weights(const std::string &dir) const {
    const std::vector<Tensor> values = parameters();
    fs::create_directories(dir);
    for (size_t k = 0; k < values.size(); ++k)
        write_npy(dir + "/" + description_.parameters[k].name + ".npy", values[k].shape, values[k].data.data());
}

const PipelineEntry *Model::find(PipelineKind kind, int batch, int layer) const {
    for (const PipelineEntry &e : description_.pipelines)
        if (e.kind == kind && e.batch == batch && e.layer == layer) return &e;
    return nullptr;
}

void Model::invoke(const PipelineEntry &entry, const Call &call, Scratch &scratch, const SgdSettings *sgd) {
    const size_t count = entry.arguments.size();
    std::vector<void *> args(count + 1);
    void *user_context = scratch.context.user_context();
    args[0] = &user_context;
    float scalars[3] = {};
    if (sgd) scalars[0] = sgd->learning_rate, scalars[1] = sgd->momentum, scalars[2] = sgd->weight_decay;
    int32_t dropout_seed = int32_t(state_->dropout_seed);
    const size_t layers = description_.layer_outputs.size();
    State &state = *state_;
    for (size_t k = 0; k < count; ++k) {
        const ArgumentBinding &a = entry.arguments[k];
        const size_t index = size_t(a.index);
        halide_buffer_t *buffer = nullptr;
        switch (a.role) {
        case ArgumentRole::learning_rate:
        case ArgumentRole::momentum:
        case ArgumentRole::weight_decay:
            if (!sgd) runtime_fail("{}: {} needs SGD settings", description_.name, entry.function_name);
            args[k + 1] = &scalars[a.role == ArgumentRole::learning_rate ? 0 : a.role == ArgumentRole::momentum ? 1 : 2];
            continue;
        case ArgumentRole::dropout_seed: args[k + 1] = &dropout_seed; continue;
        case ArgumentRole::parameter: buffer = state.parameters.at(index).bind(); break;
        case ArgumentRole::packed_parameter: buffer = state.packed.at(index).bind(); break;
        case ArgumentRole::velocity: buffer = state.velocities.at(index).bind(); break;
        case ArgumentRole::gradient: buffer = state.gradients.at(index).bind(); break;
        case ArgumentRole::next_parameter: buffer = state.next_parameters.at(index).bind(); break;
        case ArgumentRole::next_velocity: buffer = state.next_velocities.at(index).bind(); break;
        case ArgumentRole::labels: buffer = call.labels; break;
        case ArgumentRole::loss: buffer = call.loss->bind(); break;
        case ArgumentRole::activation:
            buffer = index == 0                    ? call.images
                     : index == layers && call.logits ? call.logits->bind()
                                                      : call.activations->at(index).bind();
            break;
        case ArgumentRole::d_activation: buffer = call.deltas->at(index).bind(); break;
        }
        args[k + 1] = buffer;
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
    refresh_packed();
    ScratchLease scratch(*this);
    int done = 0;
    while (done < count) {
        const int remaining = count - done;
        int batch = batches.front();
        for (int b : batches)
            if (b <= remaining) batch = b;
        const int used = std::min(batch, remaining);
        Halide::Runtime::Buffer<const float> in_place;
        Call call;
        call.batch = batch;
        call.images = input_rows(scratch->images, batch, description_.input_shape, state_->on_device,
                                 images + size_t(done) * sample_size(), used, in_place);
        call.logits = &tensor_for(scratch->logits, batch, output_shape());
        compute_logits(call, *scratch);
        const HostVector<float> &out = call.logits->read(scratch->context);
        std::copy(out.begin(), out.begin() + size_t(used) * classes(), result.begin() + size_t(done) * classes());
        done += used;
    }
    return result;
}

void Model::bind_training_inputs(Call &call, const float *images, const int32_t *labels) {
    const int batch = train_batch();
    if (batch == 0)
        runtime_fail("{}: the library is for inference only: {}", description_.name, description_.inference_only);
    for (int n = 0; n < batch; ++n)
        if (labels[n] < 0 || labels[n] >= classes())
            runtime_fail("{}: label {} of sample {} in the batch is outside 0..{}", description_.name, labels[n], n,
                         classes() - 1);
    Scratch &scratch = *training_scratch_;
    call.batch = batch;
    call.images = input_rows(scratch.images, batch, description_.input_shape, state_->on_device, images, batch,
                             call.images_in_place);
    call.labels = input_rows(scratch.labels, batch, {}, state_->on_device, labels, batch, call.labels_in_place);
    call.logits = &tensor_for(scratch.logits, batch, {classes()});
    call.loss = &scratch.loss;
}

// The step's loss and how many of its logits' arg-maxes equal the labels.
StepResult Model::batch_result(Call &call, Scratch &scratch, const int32_t *labels) {
    StepResult result;
    result.loss = call.loss->read(scratch.context)[0];
    const HostVector<float> &logits = call.logits->read(scratch.context);
    const std::vector<int> predicted = argmax_rows(logits.data(), call.batch, classes());
    for (int n = 0; n < call.batch; ++n) result.correct += predicted[size_t(n)] == labels[n];
    return result;
}

StepResult Model::train_step(const float *images, const int32_t *labels, const SgdSettings &sgd) {
    auto lock = lock_for_writing();
    Scratch &scratch = *training_scratch_;
    Call call;
    bind_training_inputs(call, images, labels);
    if (const PipelineEntry *fused = find(PipelineKind::train_step, call.batch)) {
        invoke(*fused, call, scratch, &sgd);
    } else {
        compute_gradients(call, scratch);
        invoke_update(call, scratch, sgd);
    }
    adopt_next_state();
    return batch_result(call, scratch, labels);
}

bool Model::has_split_step() const {
    const int batch = train_batch();
    return batch > 0 && find(PipelineKind::sgd_update, batch) != nullptr;
}

size_t Model::gradient_count() const {
    size_t count = 0;
    for (const ParameterEntry &p : description_.parameters) count += element_count(p.shape);
    return count;
}

StepResult Model::train_step(const float *images, const int32_t *labels, const SgdSettings &sgd,
                             const GradientExchange &exchange) {
    if (!has_split_step())
        runtime_fail("{}: the library has no split training step (gradients, then the update) for data-parallel "
                     "training: {}",
                     description_.name,
                     train_batch() == 0 ? "it is for inference only: " + description_.inference_only
                                        : std::string("build it without --no-mpi (cnngen_add_model: DATA_PARALLEL) "
                                                      "with a cnngen configured with MPI support, or with "
                                                      "--train-step chained"));
    auto lock = lock_for_writing();
    Scratch &scratch = *training_scratch_;
    Call call;
    bind_training_inputs(call, images, labels);
    compute_gradients(call, scratch);
    StepResult result = batch_result(call, scratch, labels);  // this batch's, until the exchange says otherwise

    std::vector<float> &flat = scratch.flat_gradients;
    flat.clear();
    flat.reserve(gradient_count() + 2);  // room for an exchange to send the loss and count along
    for (Resident &g : state_->gradients) {
        const HostVector<float> &values = g.read(scratch.context);
        flat.insert(flat.end(), values.begin(), values.end());
    }
    exchange(flat, result);
    if (flat.size() != gradient_count())
        runtime_fail("{}: the gradient exchange returned {} values, expected {}", description_.name, flat.size(),
                     gradient_count());
    size_t offset = 0;
    for (Resident &g : state_->gradients) {
        HostVector<float> &values = g.overwrite();
        std::copy_n(flat.begin() + std::ptrdiff_t(offset), values.size(), values.begin());
        offset += values.size();
    }
    invoke_update(call, scratch, sgd);
    adopt_next_state();
    return result;
}

// The gradients pipeline of a split fused step; else the chained kernels: forward through
// every layer keeping each activation, the loss and its gradient, backward from the last
// layer to the first. Either way the gradients end in the state's gradient tensors.
void Model::compute_gradients(Call &call, Scratch &scratch) {
    if (const PipelineEntry *gradients = find(PipelineKind::gradients, call.batch)) {
        invoke(*gradients, call, scratch);
        return;
    }
    const size_t layers = description_.layer_outputs.size();
    if (scratch.activations.empty()) {
        scratch.activations.emplace_back();  // the images, bound from the call
        scratch.deltas.emplace_back();
        for (size_t k = 1; k <= layers; ++k) {
            std::vector<int> shape = description_.layer_outputs[k - 1];
            shape.insert(shape.begin(), call.batch);
            if (k < layers) scratch.activations.emplace_back(shape);
            else scratch.activations.emplace_back();  // the logits, bound from the call
            scratch.deltas.emplace_back(shape);
        }
    }
    call.activations = &scratch.activations;
    call.deltas = &scratch.deltas;
    for (size_t k = 0; k < layers; ++k) {
        const PipelineEntry *forward = find(PipelineKind::layer_forward, call.batch, int(k));
        if (!forward) runtime_fail("{}: no forward kernel for layer {}", description_.name, k);
        invoke(*forward, call, scratch);
    }
    const PipelineEntry *loss = find(PipelineKind::loss, call.batch);
    if (!loss) runtime_fail("{}: no loss kernel", description_.name);
    invoke(*loss, call, scratch);
    for (size_t k = layers; k-- > 0;)
        if (const PipelineEntry *backward = find(PipelineKind::layer_backward, call.batch, int(k)))
            invoke(*backward, call, scratch);  // none for a first layer without parameters
}

// Inference in one pipeline, else in parts (in the description's order, the plan's), the
// activations passed between them held in the scratch from call to call.
void Model::compute_logits(Call &call, Scratch &scratch) {
    if (const PipelineEntry *whole = find(PipelineKind::forward, call.batch)) {
        invoke(*whole, call, scratch);
        return;
    }
    const size_t layers = description_.layer_outputs.size();
    auto [between, fresh] = scratch.between_parts.try_emplace(call.batch);
    std::vector<const PipelineEntry *> parts;
    for (const PipelineEntry &e : description_.pipelines)
        if (e.kind == PipelineKind::forward_part && e.batch == call.batch) parts.push_back(&e);
    if (fresh) {
        std::vector<bool> passed(layers + 1, false);  // the images and logits are the call's
        for (const PipelineEntry *e : parts)
            for (const ArgumentBinding &a : e->arguments)
                if (a.role == ArgumentRole::activation && a.index > 0 && size_t(a.index) < layers)
                    passed[size_t(a.index)] = true;
        between->second.reserve(layers + 1);
        for (size_t k = 0; k <= layers; ++k) {
            std::vector<int> shape;
            if (passed[k]) {
                shape = description_.layer_outputs[k - 1];
                shape.insert(shape.begin(), call.batch);
            }
            between->second.emplace_back(shape, passed[k]);  // shape only, no memory, where not passed
        }
    }
    call.activations = &between->second;
    for (const PipelineEntry *e : parts) invoke(*e, call, scratch);
}

// The next parameters and velocities from the state's gradients.
void Model::invoke_update(Call &call, Scratch &scratch, const SgdSettings &sgd) {
    const PipelineEntry *update = find(PipelineKind::sgd_update, call.batch);
    if (!update) runtime_fail("{}: no SGD update kernel", description_.name);
    invoke(*update, call, scratch, &sgd);
}

// A step's outputs become the state; the old state is the next step's output buffers.
void Model::adopt_next_state() {
    std::swap(state_->parameters, state_->next_parameters);
    std::swap(state_->velocities, state_->next_velocities);
    ++state_->dropout_seed;
    for (const Resident &t : state_->packed)
        if (t.host_bytes()) state_->packed_stale = true;
}

std::vector<int> argmax_rows(const float *values, int rows, int columns) {
    std::vector<int> result(static_cast<size_t>(rows));
    for (size_t r = 0; r < result.size(); ++r) {
        const float *row = values + r * size_t(columns);
        result[r] = int(std::max_element(row, row + columns) - row);
    }
    return result;
}

std::vector<int> argmax_rows(const std::vector<float> &values, int columns) {
    return argmax_rows(values.data(), int(values.size() / size_t(columns)), columns);
}

}  // namespace cnngen
