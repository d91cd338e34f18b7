#pragma once
// The one place output sizes are computed; generators, runtime and tests all use it.
#include <string>

namespace cnngen {

// How a window's padding is chosen. `explicit_pads` uses pad_before/pad_after as given; the
// rest are resolved against the input's extent (resolve_padding) before a layer is built:
// valid: none; same: output ceil(input / stride), the odd pad after (ONNX's SAME_UPPER,
// TensorFlow's "SAME"); same_lower: the same with the odd pad before (ONNX's SAME_LOWER);
// full: every partial overlap (the notes' mode, stride 1).
enum class PaddingMode { explicit_pads, valid, same, same_lower, full };
PaddingMode padding_mode_from_name(const std::string &layer, const std::string &name);
const char *padding_mode_name(PaddingMode mode);

struct Window1d {
    int kernel = 1;
    int stride = 1;
    int pad_before = 0;
    int pad_after = 0;
    int dilation = 1;
    // Pooling: round the output size up, so a last partial window counts (ceil_mode in
    // PyTorch and ONNX). As PyTorch, a last window starting past the input and its leading
    // padding is dropped.
    bool ceil_mode = false;
    PaddingMode padding_mode = PaddingMode::explicit_pads;
};

// The window with its padding mode turned into explicit pads for an axis of `input` elements.
// Throws ConfigError naming `layer` and `axis` for `full` at stride > 1.
Window1d resolve_padding(const std::string &layer, const char *axis, int input, const Window1d &w);

// floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1, as PyTorch computes it (ceil
// with ceil_mode); the padding mode is resolved first. Throws ConfigError naming `layer` and
// `axis` when the window does not fit.
int window_output_size(const std::string &layer, const char *axis, int input, const Window1d &w);

// Whether every window along the axis has a tap inside the input (not only in the padding).
// Returns the first window lying wholly in the padding, or -1.
int first_window_in_padding(int input, int output, const Window1d &w);

}  // namespace cnngen
