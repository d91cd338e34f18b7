#pragma once
#include "tensor.h"

namespace cnngen {

enum class LrnKind { inter_channel, intra_channel };
LrnKind lrn_kind_from_name(const std::string &layer, const std::string &name);

// The notes' (000) local response normalization:
//   out = in / (kappa + gamma * sum of in^2 over the window)^beta
// inter-channel: channels k - n/2 .. k + n/2 (integer division), clipped to [0, C);
// intra-channel: an (2*(n/2)+1)^2 spatial window in the same channel, clipped to the image.
// Caffe and PyTorch (LocalResponseNorm(size, alpha, beta, k)) scale by alpha/size, so
// for odd n: gamma = alpha / n, kappa = k. Their window for even n is n wide, the notes' n+1.
// Where the window lies: `centered` is the notes' (n/2 on each side: n + 1 wide for even n);
// `onnx` is ONNX's LRN `size` window, c - floor((n-1)/2) .. c + ceil((n-1)/2), n wide. The
// two agree for odd n.
enum class LrnWindow { centered, onnx };

struct LrnParams {
    LrnKind kind = LrnKind::inter_channel;
    int n = 5;
    float kappa = 2.0f;
    float gamma = 1e-4f;
    float beta = 0.75f;
    LrnWindow window = LrnWindow::centered;
};

// The window's reach before and after the centre (channels, or rows and columns).
int lrn_window_before(const LrnParams &p);
int lrn_window_after(const LrnParams &p);

Layer lrn(const std::string &name, const Tensor &input, const LrnParams &params);
// The input's shape, once the input and parameters are checked (4-D, n >= 1, kappa > 0).
Shape lrn_output_shape(const std::string &name, const Shape &input, const LrnParams &params);

}  // namespace cnngen
