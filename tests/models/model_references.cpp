#include "model_references.h"

#include <random>

namespace cnngen_test {

namespace {

reference::Tensor relu(const reference::Tensor &t) { return reference::activation(t, reference::Activation::relu, 0); }

}  // namespace

reference::Tensor from_npy(const cnngen::NpyArray &a) {
    reference::Tensor t(a.shape);
    for (size_t k = 0; k < t.size(); ++k) t.data[k] = a.data[k];
    return t;
}

Params params_of(const cnngen::Model &model) {
    Params p;
    const std::vector<cnngen::Tensor> values = model.parameters();
    for (size_t k = 0; k < values.size(); ++k) {
        const auto &t = values[k];
        p[model.description().parameters[k].name] = from_npy({t.shape, t.data});
    }
    return p;
}

double finite_difference(Params &params, const std::string &name, size_t at,
                         const std::function<double(Params &)> &loss, double h) {
    double &value = params[name].data[at];
    const double original = value;
    value = original + h;
    const double plus = loss(params);
    value = original - h;
    const double minus = loss(params);
    value = original;
    return (plus - minus) / (2 * h);
}

namespace {

// LeNet-5 up to fc1's ReLU, and from fc2 on: lenet5-dropout.toml puts its dropout between.
reference::Tensor lenet5_through_fc1(const reference::Tensor &x, Params &p) {
    reference::Conv2d pad2;
    pad2.pad_top = pad2.pad_bottom = pad2.pad_left = pad2.pad_right = 2;
    const reference::Pool2d pool{reference::Pool::max, 2, 2, 2, 2};
    auto h = reference::pool2d(relu(reference::conv2d(x, p["conv1.weight"], p["conv1.bias"], pad2)), pool);
    h = reference::pool2d(relu(reference::conv2d(h, p["conv2.weight"], p["conv2.bias"], {})), pool);
    return relu(reference::fully_connected(h, p["fc1.weight"], p["fc1.bias"]));
}

reference::Tensor lenet5_from_fc2(const reference::Tensor &h, Params &p) {
    return reference::fully_connected(relu(reference::fully_connected(h, p["fc2.weight"], p["fc2.bias"])),
                                      p["fc3.weight"], p["fc3.bias"]);
}

}  // namespace

reference::Tensor lenet5_reference(const reference::Tensor &x, Params &p) {
    return lenet5_from_fc2(lenet5_through_fc1(x, p), p);
}

reference::Tensor lenet5_dropout_first_step_reference(const reference::Tensor &x, Params &p) {
    return lenet5_from_fc2(reference::dropout_training(lenet5_through_fc1(x, p), kFirstDropoutSeed, 0.5), p);
}

reference::Tensor lenet5_classic_reference(const reference::Tensor &x, Params &p) {
    reference::Conv2d pad2;
    pad2.pad_top = pad2.pad_bottom = pad2.pad_left = pad2.pad_right = 2;
    const reference::Pool2d pool{reference::Pool::average, 2, 2, 2, 2};
    auto squash = [](const reference::Tensor &t) { return reference::activation(t, reference::Activation::tanh, 0); };
    auto h = reference::pool2d(squash(reference::conv2d(x, p["conv1.weight"], p["conv1.bias"], pad2)), pool);
    h = reference::pool2d(squash(reference::conv2d(h, p["conv2.weight"], p["conv2.bias"], {})), pool);
    h = squash(reference::fully_connected(h, p["fc1.weight"], p["fc1.bias"]));
    h = squash(reference::fully_connected(h, p["fc2.weight"], p["fc2.bias"]));
    return reference::fully_connected(h, p["fc3.weight"], p["fc3.bias"]);
}

reference::Tensor alexnet_small_reference(const reference::Tensor &x, Params &p) {
    reference::Conv2d conv1;
    conv1.stride_h = conv1.stride_w = 2;
    conv1.pad_top = conv1.pad_bottom = conv1.pad_left = conv1.pad_right = 2;
    reference::Conv2d pad1;
    pad1.pad_top = pad1.pad_bottom = pad1.pad_left = pad1.pad_right = 1;
    reference::Conv2d grouped = pad1;
    grouped.groups = 2;
    const reference::Pool2d pool{reference::Pool::max, 3, 3, 2, 2};
    const reference::Lrn lrn{true, 5, 2.0, 1e-4, 0.75};
    auto h = reference::pool2d(reference::lrn(relu(reference::conv2d(x, p["conv1.weight"], p["conv1.bias"], conv1)), lrn), pool);
    h = reference::pool2d(reference::lrn(relu(reference::conv2d(h, p["conv2.weight"], p["conv2.bias"], pad1)), lrn), pool);
    h = relu(reference::conv2d(h, p["conv3.weight"], p["conv3.bias"], grouped));
    h = relu(reference::fully_connected(h, p["fc1.weight"], p["fc1.bias"]));
    return reference::fully_connected(h, p["fc2.weight"], p["fc2.bias"]);
}

std::vector<float> random_floats(size_t count, uint32_t seed, float low, float high) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> values(count);
    for (float &v : values) v = dist(rng);
    return values;
}

reference::Tensor logits_tensor(const std::vector<float> &logits, int batch, int classes) {
    reference::Tensor t({batch, classes});
    for (size_t k = 0; k < t.size(); ++k) t.data[k] = logits[k];
    return t;
}

}  // namespace cnngen_test
