#include "aot_fixtures.h"

#include <functional>
#include <stdexcept>

namespace aot {

Buffer to_buffer(const reference::Tensor &t) {
    std::vector<int> sizes(t.shape.rbegin(), t.shape.rend());
    Buffer b(sizes);
    for (size_t k = 0; k < t.size(); ++k) b.data()[k] = float(t.data[k]);
    b.set_host_dirty();
    return b;
}

Buffer output_for(const std::vector<int> &shape) {
    return Buffer(std::vector<int>(shape.rbegin(), shape.rend()));
}

reference::Tensor to_tensor(Buffer &b) {
    b.copy_to_host();
    std::vector<int> shape;
    for (int d = b.dimensions() - 1; d >= 0; --d) shape.push_back(b.dim(d).extent());
    reference::Tensor t(shape);
    for (size_t k = 0; k < t.size(); ++k) t.data[k] = b.data()[k];
    return t;
}

namespace {

Fixture conv(std::vector<int> input_shape, int out, int kh, int kw, reference::Conv2d hyper, unsigned seed) {
    std::mt19937 rng(seed);
    Fixture f;
    f.inputs["input"] = reference::random_tensor(input_shape, rng);
    f.inputs["weight"] = reference::random_tensor({out, input_shape[1] / hyper.groups, kh, kw}, rng);
    f.inputs["bias"] = reference::random_tensor({out}, rng);
    f.expected = reference::conv2d(f.inputs["input"], f.inputs["weight"], f.inputs["bias"], hyper);
    return f;
}

Fixture unary(std::vector<int> shape, unsigned seed, double range,
              const std::function<reference::Tensor(const reference::Tensor &)> &layer) {
    std::mt19937 rng(seed);
    Fixture f;
    f.inputs["input"] = reference::random_tensor(shape, rng, -range, range);
    f.expected = layer(f.inputs["input"]);
    return f;
}

Fixture loss(reference::Loss kind, unsigned seed) {
    std::mt19937 rng(seed);
    Fixture f;
    f.inputs["prediction"] = reference::random_tensor({4, 10}, rng, -3, 3);
    f.inputs["targets"] = reference::random_tensor({4, 10}, rng, -3, 3);
    for (int n = 0; n < 4; ++n) f.labels.push_back(int(rng() % 10));
    f.expected = reference::Tensor(std::vector<int>{});
    f.expected.data = {reference::loss(f.inputs["prediction"], f.labels, f.inputs["targets"], kind, 1.0, 0.7)};
    return f;
}

}  // namespace

Fixture fixture(const std::string &config) {
    if (config == "lenet_conv1") {
        reference::Conv2d hyper;
        hyper.pad_top = hyper.pad_bottom = hyper.pad_left = hyper.pad_right = 2;
        return conv({2, 1, 28, 28}, 6, 5, 5, hyper, 1);
    }
    if (config == "odd_conv") {
        reference::Conv2d hyper{2, 3, 1, 0, 2, 1, 2, 1, 2, false};
        return conv({3, 4, 9, 11}, 6, 3, 2, hyper, 2);
    }
    if (config == "lenet_pool") {
        return unary({2, 6, 28, 28}, 3, 1, [](const reference::Tensor &in) {
            return reference::pool2d(in, {reference::Pool::max, 2, 2, 2, 2});
        });
    }
    if (config == "avg_pool") {
        return unary({2, 3, 7, 9}, 4, 1, [](const reference::Tensor &in) {
            return reference::pool2d(in, {reference::Pool::average, 3, 2, 2, 1, 1, 1, 1, 0, false});
        });
    }
    if (config == "relu") {
        return unary({2, 6, 10, 10}, 5, 1, [](const reference::Tensor &in) {
            return reference::activation(in, reference::Activation::relu, 0);
        });
    }
    if (config == "lrn_inter") {
        return unary({2, 8, 6, 7}, 6, 30, [](const reference::Tensor &in) {
            return reference::lrn(in, {true, 5, 2.0, 1e-4, 0.75});
        });
    }
    if (config == "lrn_intra") {
        return unary({2, 3, 6, 7}, 7, 3, [](const reference::Tensor &in) {
            return reference::lrn(in, {false, 3, 1.0, 0.05, 0.75});
        });
    }
    if (config == "lenet_fc1") {
        std::mt19937 rng(8);
        Fixture f;
        f.inputs["input"] = reference::random_tensor({2, 16, 5, 5}, rng);
        f.inputs["weight"] = reference::random_tensor({120, 400}, rng);
        f.inputs["bias"] = reference::random_tensor({120}, rng);
        f.expected = reference::fully_connected(f.inputs["input"], f.inputs["weight"], f.inputs["bias"]);
        return f;
    }
    if (config == "ce_loss") return loss(reference::Loss::softmax_cross_entropy, 9);
    if (config == "huber_loss") return loss(reference::Loss::huber, 10);
    throw std::invalid_argument("no AOT fixture named " + config);
}

}  // namespace aot
