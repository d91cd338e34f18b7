#pragma once
// The one place output sizes are computed; generators, runtime and tests all use it.
#include <string>

namespace cnngen {

struct Window1d {
    int kernel = 1;
    int stride = 1;
    int pad_before = 0;
    int pad_after = 0;
    int dilation = 1;
};

// floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1, as PyTorch computes it.
// Throws ConfigError naming `layer` and `axis` when the window does not fit.
int window_output_size(const std::string &layer, const char *axis, int input, const Window1d &w);

// The notes' output modes for stride-1 convolutions (001): valid (no padding),
// same (output size = input size), full (every partial overlap).
enum class PaddingMode { valid, same, full };
PaddingMode padding_mode_from_name(const std::string &layer, const std::string &name);
// Padding before/after for one axis; `same` with an even kernel puts the extra row after.
Window1d padding_for_mode(PaddingMode mode, int kernel, int dilation);

}  // namespace cnngen
