// Plain loops for the layers graph networks add: clip and hardswish, add, concat, global
// average pooling, batch normalization and dropout while training. Written from the
// definitions, not the Halide algorithms.
#include "reference.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace reference {

Tensor clip(const Tensor &input, double low, double high) {
    Tensor out(input.shape);
    for (size_t k = 0; k < input.size(); ++k) out.data[k] = std::min(std::max(input.data[k], low), high);
    return out;
}

Tensor hardswish(const Tensor &input) {
    Tensor out(input.shape);
    for (size_t k = 0; k < input.size(); ++k) {
        const double v = input.data[k];
        out.data[k] = v * std::min(std::max(v + 3, 0.0), 6.0) / 6;
    }
    return out;
}

Tensor add(const std::vector<Tensor> &inputs) {
    Tensor out(inputs.at(0).shape);
    for (const Tensor &t : inputs) {
        if (t.shape != out.shape) throw std::invalid_argument("reference::add: shapes differ");
        for (size_t k = 0; k < t.size(); ++k) out.data[k] += t.data[k];
    }
    return out;
}

Tensor concat(const std::vector<Tensor> &inputs) {
    std::vector<int> shape = inputs.at(0).shape;
    shape[1] = 0;
    for (const Tensor &t : inputs) shape[1] += t.shape[1];
    Tensor out(shape);
    // Per sample, each input's block of channels (C x inner values) follows the last one's.
    size_t inner = 1;
    for (size_t d = 2; d < shape.size(); ++d) inner *= size_t(shape[d]);
    size_t at = 0;
    for (int n = 0; n < shape[0]; ++n)
        for (const Tensor &t : inputs) {
            const size_t block = size_t(t.shape[1]) * inner;
            for (size_t k = 0; k < block; ++k) out.data[at++] = t.data[size_t(n) * block + k];
        }
    return out;
}

Tensor global_avg_pool(const Tensor &input) {
    const int N = input.shape[0], C = input.shape[1], H = input.shape[2], W = input.shape[3];
    Tensor out({N, C, 1, 1});
    for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c) {
            double total = 0;
            for (int h = 0; h < H; ++h)
                for (int w = 0; w < W; ++w) total += input.at4(n, c, h, w);
            out.at4(n, c, 0, 0) = total / (H * W);
        }
    return out;
}

Tensor batch_norm(const Tensor &input, const Tensor &weight, const Tensor &bias, const Tensor &mean,
                  const Tensor &variance, double epsilon) {
    Tensor out(input.shape);
    const int C = input.shape[1];
    size_t inner = 1;
    for (size_t d = 2; d < input.shape.size(); ++d) inner *= size_t(input.shape[d]);
    for (size_t k = 0; k < input.size(); ++k) {
        const int c = int((k / inner) % size_t(C));
        out.data[k] = (input.data[k] - mean.data[c]) / std::sqrt(variance.data[c] + epsilon) * weight.data[c] + bias.data[c];
    }
    return out;
}

Tensor batch_norm_training(const Tensor &input, const Tensor &weight, const Tensor &bias, double epsilon, Tensor *mean,
                           Tensor *variance) {
    const int C = input.shape[1];
    size_t inner = 1;
    for (size_t d = 2; d < input.shape.size(); ++d) inner *= size_t(input.shape[d]);
    const double count = double(input.size()) / C;
    std::vector<double> sum(size_t(C), 0.0), squares(size_t(C), 0.0);
    for (size_t k = 0; k < input.size(); ++k) sum[(k / inner) % size_t(C)] += input.data[k];
    Tensor m({C}), v({C});
    for (int c = 0; c < C; ++c) m.data[size_t(c)] = sum[size_t(c)] / count;
    for (size_t k = 0; k < input.size(); ++k) {
        const size_t c = (k / inner) % size_t(C);
        squares[c] += (input.data[k] - m.data[c]) * (input.data[k] - m.data[c]);
    }
    for (int c = 0; c < C; ++c) v.data[size_t(c)] = squares[size_t(c)] / count;
    if (mean) *mean = m;
    if (variance) *variance = v;
    return batch_norm(input, weight, bias, m, v, epsilon);
}

namespace {

// Whether dropout keeps the element at `coordinates` (innermost first) under `seed`.
bool dropout_keeps(uint32_t seed, const std::vector<int> &coordinates, double p) {
    uint32_t h = seed * 0x9E3779B9u;
    for (int coordinate : coordinates) {
        h = (h ^ uint32_t(coordinate)) * 0x85EBCA6Bu;
        h ^= h >> 15;
    }
    h ^= h >> 16;
    h *= 0xC2B2AE35u;
    h ^= h >> 13;
    return double(h >> 8) / 16777216.0 >= p;
}

}  // namespace

Tensor dropout_training(const Tensor &input, uint32_t seed, double p) {
    Tensor out(input.shape);
    const int rank = int(input.shape.size());
    std::vector<int> index(size_t(rank), 0);  // PyTorch order, last fastest
    for (size_t k = 0; k < input.size(); ++k) {
        const std::vector<int> innermost_first(index.rbegin(), index.rend());
        out.data[k] = dropout_keeps(seed, innermost_first, p) ? input.data[k] / (1 - p) : 0.0;
        for (int d = rank - 1; d >= 0 && ++index[size_t(d)] == input.shape[size_t(d)]; --d) index[size_t(d)] = 0;
    }
    return out;
}

}  // namespace reference
