#include "reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace reference {

Tensor::Tensor(std::vector<int> s) : shape(std::move(s)) {
    size_t count = 1;
    for (int e : shape) count *= size_t(e);
    data.assign(count, 0.0);
}

double &Tensor::at4(int n, int c, int h, int w) {
    return data[((size_t(n) * shape[1] + c) * shape[2] + h) * shape[3] + w];
}
double Tensor::at4(int n, int c, int h, int w) const {
    return data[((size_t(n) * shape[1] + c) * shape[2] + h) * shape[3] + w];
}

Tensor random_tensor(std::vector<int> shape, std::mt19937 &rng, double low, double high) {
    Tensor t(std::move(shape));
    std::uniform_real_distribution<double> dist(low, high);
    // Round to float so reference and Halide start from identical values.
    for (double &v : t.data) v = double(float(dist(rng)));
    return t;
}

Tensor tensor_from(std::vector<int> shape, std::vector<double> values) {
    Tensor t(std::move(shape));
    if (values.size() != t.size()) throw std::invalid_argument("tensor_from: value count does not match shape");
    t.data = std::move(values);
    return t;
}

double relative_error(const Tensor &a, const Tensor &b) {
    if (a.shape != b.shape) return INFINITY;
    double worst = 0, scale = 1;
    for (size_t k = 0; k < a.size(); ++k) {
        if (std::isnan(a.data[k]) != std::isnan(b.data[k])) return INFINITY;
        worst = std::max(worst, std::abs(a.data[k] - b.data[k]));
        scale = std::max(scale, std::abs(b.data[k]));
    }
    return worst / scale;
}

namespace {
double input_or_zero(const Tensor &t, int n, int c, int h, int w) {
    if (h < 0 || w < 0 || h >= t.shape[2] || w >= t.shape[3]) return 0.0;
    return t.at4(n, c, h, w);
}
}  // namespace

Tensor conv2d(const Tensor &input, const Tensor &weight, const Tensor &bias, const Conv2d &p) {
    const int N = input.shape[0], C = input.shape[1], H = input.shape[2], W = input.shape[3];
    const int O = weight.shape[0], CG = weight.shape[1], KH = weight.shape[2], KW = weight.shape[3];
    const int OH = (H + p.pad_top + p.pad_bottom - p.dilation_h * (KH - 1) - 1) / p.stride_h + 1;
    const int OW = (W + p.pad_left + p.pad_right - p.dilation_w * (KW - 1) - 1) / p.stride_w + 1;
    const int OG = O / p.groups;
    (void)C;
    Tensor out({N, O, OH, OW});
    for (int n = 0; n < N; ++n)
        for (int o = 0; o < O; ++o)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    double acc = bias.size() ? bias.data[o] : 0.0;
                    const int g = o / OG;
                    for (int ci = 0; ci < CG; ++ci)
                        for (int kh = 0; kh < KH; ++kh)
                            for (int kw = 0; kw < KW; ++kw) {
                                const int h = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                                const int w = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                                const int wh = p.flip_kernel ? KH - 1 - kh : kh;
                                const int ww = p.flip_kernel ? KW - 1 - kw : kw;
                                acc += weight.at4(o, ci, wh, ww) * input_or_zero(input, n, g * CG + ci, h, w);
                            }
                    out.at4(n, o, oh, ow) = acc;
                }
    return out;
}

namespace {

// Output positions along one axis, as PyTorch's pooling and ONNX compute them: ceil_mode
// rounds up, but a last window must start inside the input or its leading padding.
int pooled_size(int in, int kernel, int stride, int pad_before, int pad_after, int dilation, bool ceil_mode) {
    const int reach = in + pad_before + pad_after - dilation * (kernel - 1) - 1;
    if (!ceil_mode) return reach / stride + 1;
    int out = int(std::ceil(double(reach) / stride)) + 1;
    if ((out - 1) * stride >= in + pad_before) --out;
    return out;
}

}  // namespace

Tensor pool2d(const Tensor &input, const Pool2d &p) {
    const int N = input.shape[0], C = input.shape[1], H = input.shape[2], W = input.shape[3];
    const int OH = pooled_size(H, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h, p.ceil_mode);
    const int OW = pooled_size(W, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w, p.ceil_mode);
    Tensor out({N, C, OH, OW});
    for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c)
            for (int oh = 0; oh < OH; ++oh)
                for (int ow = 0; ow < OW; ++ow) {
                    double best = -std::numeric_limits<double>::infinity(), total = 0;
                    int inside = 0, in_padded = 0;
                    for (int kh = 0; kh < p.kernel_h; ++kh)
                        for (int kw = 0; kw < p.kernel_w; ++kw) {
                            const int h = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                            const int w = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                            // A ceil_mode window may reach past the padding; those taps count nowhere.
                            if (h < H + p.pad_bottom && w < W + p.pad_right) ++in_padded;
                            if (h < 0 || w < 0 || h >= H || w >= W) continue;
                            const double v = input.at4(n, c, h, w);
                            ++inside;
                            best = std::max(best, v);
                            total += p.kind == Pool::p_norm ? std::pow(std::abs(v), p.p) : v;
                        }
                    double result = best;
                    if (p.kind == Pool::average) result = total / (p.count_include_pad ? in_padded : inside);
                    if (p.kind == Pool::p_norm) result = std::pow(total / (p.kernel_h * p.kernel_w), 1.0 / p.p);
                    out.at4(n, c, oh, ow) = result;
                }
    return out;
}

Tensor activation(const Tensor &input, Activation kind, double alpha) {
    Tensor out(input.shape);
    if (kind == Activation::softmax) {
        // Over dimension 1; `inner` elements separate consecutive classes.
        const int N = input.shape[0], K = input.shape[1];
        size_t inner = input.size() / (size_t(N) * K);
        for (int n = 0; n < N; ++n)
            for (size_t s = 0; s < inner; ++s) {
                auto index = [&](int k) { return (size_t(n) * K + k) * inner + s; };
                double top = -std::numeric_limits<double>::infinity(), total = 0;
                for (int k = 0; k < K; ++k) top = std::max(top, input.data[index(k)]);
                for (int k = 0; k < K; ++k) total += std::exp(input.data[index(k)] - top);
                for (int k = 0; k < K; ++k) out.data[index(k)] = std::exp(input.data[index(k)] - top) / total;
            }
        return out;
    }
    for (size_t k = 0; k < input.size(); ++k) {
        const double v = input.data[k];
        switch (kind) {
        case Activation::relu: out.data[k] = v > 0 ? v : 0; break;
        case Activation::leaky_relu: out.data[k] = v > 0 ? v : alpha * v; break;
        case Activation::sigmoid: out.data[k] = 1 / (1 + std::exp(-v)); break;
        case Activation::tanh: out.data[k] = std::tanh(v); break;
        case Activation::elu: out.data[k] = v > 0 ? v : alpha * (std::exp(v) - 1); break;
        case Activation::softmax: break;
        }
    }
    return out;
}

Tensor lrn(const Tensor &input, const Lrn &p) {
    const int N = input.shape[0], C = input.shape[1], H = input.shape[2], W = input.shape[3];
    const int before = p.onnx_window ? (p.n - 1) / 2 : p.n / 2, after = p.n / 2;
    Tensor out(input.shape);
    for (int n = 0; n < N; ++n)
        for (int c = 0; c < C; ++c)
            for (int h = 0; h < H; ++h)
                for (int w = 0; w < W; ++w) {
                    double total = 0;
                    if (p.inter_channel) {
                        for (int m = std::max(0, c - before); m <= std::min(C - 1, c + after); ++m)
                            total += input.at4(n, m, h, w) * input.at4(n, m, h, w);
                    } else {
                        for (int y = std::max(0, h - before); y <= std::min(H - 1, h + after); ++y)
                            for (int x = std::max(0, w - before); x <= std::min(W - 1, w + after); ++x)
                                total += input.at4(n, c, y, x) * input.at4(n, c, y, x);
                    }
                    out.at4(n, c, h, w) = input.at4(n, c, h, w) / std::pow(p.kappa + p.gamma * total, p.beta);
                }
    return out;
}

Tensor fully_connected(const Tensor &input, const Tensor &weight, const Tensor &bias) {
    const int N = input.shape[0], O = weight.shape[0], K = weight.shape[1];
    Tensor out({N, O});
    for (int n = 0; n < N; ++n)
        for (int o = 0; o < O; ++o) {
            double acc = bias.size() ? bias.data[o] : 0.0;
            for (int k = 0; k < K; ++k) acc += weight.data[size_t(o) * K + k] * input.data[size_t(n) * K + k];
            out.at2(n, o) = acc;
        }
    return out;
}

double loss(const Tensor &x, const std::vector<int> &labels, const Tensor &t, Loss kind, double margin, double delta) {
    const int N = x.shape[0], F = x.shape[1];
    double total = 0;
    for (int n = 0; n < N; ++n) {
        double sample = 0;
        switch (kind) {
        case Loss::softmax_cross_entropy: {
            double top = -std::numeric_limits<double>::infinity(), sum = 0;
            for (int f = 0; f < F; ++f) top = std::max(top, x.at2(n, f));
            for (int f = 0; f < F; ++f) sum += std::exp(x.at2(n, f) - top);
            sample = std::log(sum) + top - x.at2(n, labels[n]);
            break;
        }
        case Loss::hinge:
            for (int f = 0; f < F; ++f)
                if (f != labels[n]) sample += std::max(0.0, margin - x.at2(n, labels[n]) + x.at2(n, f));
            sample /= F;
            break;
        case Loss::mean_squared_error:
            for (int f = 0; f < F; ++f) sample += (x.at2(n, f) - t.at2(n, f)) * (x.at2(n, f) - t.at2(n, f));
            sample /= F;
            break;
        case Loss::huber:
            for (int f = 0; f < F; ++f) {
                const double d = std::abs(x.at2(n, f) - t.at2(n, f));
                sample += d < delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
            }
            sample /= F;
            break;
        }
        total += sample;
    }
    return total / N;
}

}  // namespace reference
