#include "jit_harness.h"

#include <schedules/schedule.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

using namespace Halide;

namespace testing_support {

Buffer<float> to_halide(const reference::Tensor &t) {
    std::vector<int> sizes(t.shape.rbegin(), t.shape.rend());
    Buffer<float> b(sizes);
    float *dst = b.data();
    for (size_t k = 0; k < t.size(); ++k) dst[k] = float(t.data[k]);
    return b;
}

reference::Tensor from_halide(const Buffer<float> &b) {
    std::vector<int> shape;
    for (int d = b.dimensions() - 1; d >= 0; --d) shape.push_back(b.dim(d).extent());
    reference::Tensor t(shape);
    // Element by element through the strides: Buffer::copy's pointer walk trips UBSan's
    // pointer-overflow check on some realized buffers.
    const int rank = b.dimensions();
    std::vector<int> at(size_t(rank), 0);
    for (size_t k = 0; k < t.size(); ++k) {
        int64_t offset = 0;
        for (int d = 0; d < rank; ++d) offset += int64_t(at[size_t(d)]) * b.dim(d).stride();
        t.data[k] = b.data()[offset];
        for (int d = 0; d < rank && ++at[size_t(d)] == b.dim(d).extent(); ++d) at[size_t(d)] = 0;
    }
    return t;
}

cnngen::ParamSource Params::source() {
    return [this](const std::string &name, const cnngen::Shape &shape) {
        auto it = tensors.find(name);
        if (it == tensors.end()) throw std::invalid_argument("test parameter missing: " + name);
        if (it->second.shape != shape) throw std::invalid_argument("test parameter shape mismatch: " + name);
        Buffer<float> &buffer = buffers[name];
        if (!buffer.defined()) buffer = to_halide(it->second);
        std::string func_name = name;
        std::replace(func_name.begin(), func_name.end(), '.', '_');
        Func f(func_name);
        f(_) = buffer(_);
        return f;
    };
}

namespace {

reference::Tensor realize_scheduled(const cnngen::Layer &layer, const std::string &schedule) {
    const Target target = get_jit_target_from_environment();
    std::vector<int> sizes(layer.output.shape.rbegin(), layer.output.shape.rend());
    Func out = layer.output.func;
    Pipeline pipeline(out);
    if (cnngen::is_autoscheduler(schedule)) {
        Region estimates;
        for (int extent : sizes) estimates.push_back({0, extent});
        out.set_estimates(estimates);
        cnngen::autoschedule(pipeline, schedule, target);
    } else {
        cnngen::schedule_layers(schedule, {layer}, target);
    }
    Buffer<float> result = pipeline.realize(sizes, target);
    return from_halide(result);
}

}  // namespace

reference::Tensor run_layer(const Builder &build, const reference::Tensor &input, Params &params,
                            const std::string &schedule) {
    Buffer<float> input_buffer = to_halide(input);
    Func input_func("input");
    input_func(_) = input_buffer(_);
    return realize_scheduled(build({input_func, input.shape}, params.source()), schedule);
}

reference::Tensor run_join(const JoinBuilder &build, const std::vector<reference::Tensor> &inputs,
                           const std::string &schedule) {
    std::vector<cnngen::Tensor> tensors;
    for (size_t k = 0; k < inputs.size(); ++k) {
        Buffer<float> buffer = to_halide(inputs[k]);
        Func f("input" + std::to_string(k));
        f(_) = buffer(_);
        tensors.push_back({f, inputs[k].shape});
    }
    return realize_scheduled(build(tensors), schedule);
}

}  // namespace testing_support
