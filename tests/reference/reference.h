#pragma once
// Plain-loop references for every layer, written from the notes without Halide,
// accumulating in double. Tensors are dense, C order, PyTorch layouts.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace reference {

struct Tensor {
    std::vector<int> shape;
    std::vector<double> data;

    Tensor() = default;
    explicit Tensor(std::vector<int> s);
    size_t size() const { return data.size(); }
    double &at4(int n, int c, int h, int w);
    double at4(int n, int c, int h, int w) const;
    double &at2(int n, int f) { return data[size_t(n) * shape[1] + f]; }
    double at2(int n, int f) const { return data[size_t(n) * shape[1] + f]; }
};

Tensor random_tensor(std::vector<int> shape, std::mt19937 &rng, double low = -1, double high = 1);
Tensor tensor_from(std::vector<int> shape, std::vector<double> values);
// Largest |a - b| divided by max(1, largest |b|): the relative bound the tests state.
double relative_error(const Tensor &a, const Tensor &b);

struct Conv2d {
    int stride_h = 1, stride_w = 1;
    int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    int dilation_h = 1, dilation_w = 1;
    int groups = 1;
    bool flip_kernel = false;
};
// input NCHW, weight OIHW; bias may be empty.
Tensor conv2d(const Tensor &input, const Tensor &weight, const Tensor &bias, const Conv2d &p);

enum class Pool { max, average, p_norm };
struct Pool2d {
    Pool kind = Pool::max;
    int kernel_h = 2, kernel_w = 2, stride_h = 2, stride_w = 2;
    int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    bool count_include_pad = true;
    double p = 2.0;
    int dilation_h = 1, dilation_w = 1;  // max pooling
    bool ceil_mode = false;
};
Tensor pool2d(const Tensor &input, const Pool2d &p);

enum class Activation { relu, leaky_relu, sigmoid, tanh, elu, softmax };
Tensor activation(const Tensor &input, Activation kind, double alpha);

// min(max(v, low), high); hardswish v * min(max(v + 3, 0), 6) / 6 (PyTorch's Hardswish).
Tensor clip(const Tensor &input, double low, double high);
Tensor hardswish(const Tensor &input);

// The joins of graph networks: the element-wise sum of equal shapes; inputs side by side
// along dimension 1 (channels or features).
Tensor add(const std::vector<Tensor> &inputs);
Tensor concat(const std::vector<Tensor> &inputs);
// The mean over each (n, c)'s H x W, as (N, C, 1, 1).
Tensor global_avg_pool(const Tensor &input);
// Inference batch normalization per channel (dimension 1): (v - mean) / sqrt(var + eps) * w + b.
Tensor batch_norm(const Tensor &input, const Tensor &weight, const Tensor &bias, const Tensor &mean,
                  const Tensor &variance, double epsilon);
// Training batch normalization: each channel's own mean and biased variance over every other
// dimension; `mean` and `variance` receive them when given.
Tensor batch_norm_training(const Tensor &input, const Tensor &weight, const Tensor &bias, double epsilon,
                           Tensor *mean = nullptr, Tensor *variance = nullptr);

// Dropout while training: each element zeroed or scaled by 1 / (1 - p) as a 32-bit hash of the
// seed and the element's coordinates, innermost first ((w, h, c, n) or (f, n)), decides (the
// hash cnngen::dropout_scale documents, written again here from that description).
Tensor dropout_training(const Tensor &input, uint32_t seed, double p);

struct Lrn {
    bool inter_channel = true;
    int n = 5;
    double kappa = 2, gamma = 1e-4, beta = 0.75;
    // ONNX's LRN window: n wide, floor((n-1)/2) before the centre and ceil((n-1)/2) after;
    // otherwise the notes' n/2 on both sides.
    bool onnx_window = false;
};
Tensor lrn(const Tensor &input, const Lrn &p);

// weight [out, in]; input flattened per sample in C order.
Tensor fully_connected(const Tensor &input, const Tensor &weight, const Tensor &bias);

enum class Loss { softmax_cross_entropy, mean_squared_error, hinge, huber };
// labels used by cross-entropy and hinge, targets by MSE and Huber.
double loss(const Tensor &prediction, const std::vector<int> &labels, const Tensor &targets, Loss kind,
            double margin, double delta);

}  // namespace reference
