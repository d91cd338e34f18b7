#include "shape_rules.h"

#include "errors.h"

#include <algorithm>

namespace cnngen {

PaddingMode padding_mode_from_name(const std::string &layer, const std::string &name) {
    if (name == "valid") return PaddingMode::valid;
    if (name == "same" || name == "same_upper") return PaddingMode::same;
    if (name == "same_lower") return PaddingMode::same_lower;
    if (name == "full") return PaddingMode::full;
    fail("{}: padding mode '{}' unknown, expected one of valid, same, same_lower, full", layer, name);
}

const char *padding_mode_name(PaddingMode mode) {
    switch (mode) {
    case PaddingMode::explicit_pads: return "explicit";
    case PaddingMode::valid: return "valid";
    case PaddingMode::same: return "same";
    case PaddingMode::same_lower: return "same_lower";
    case PaddingMode::full: return "full";
    }
    return "?";
}

Window1d resolve_padding(const std::string &layer, const char *axis, int input, const Window1d &w) {
    Window1d resolved = w;
    resolved.padding_mode = PaddingMode::explicit_pads;
    if (w.padding_mode == PaddingMode::explicit_pads) return resolved;
    if ((long long)w.dilation * (w.kernel - 1) > (1 << 24) || w.stride > (1 << 24) || input > (1 << 24))
        fail("{}: kernel {} spans {} x {} elements, too large to pad", layer, axis, w.kernel, w.dilation);
    const int span = w.dilation * (w.kernel - 1);
    switch (w.padding_mode) {
    case PaddingMode::explicit_pads: break;
    case PaddingMode::valid: resolved.pad_before = resolved.pad_after = 0; break;
    case PaddingMode::same:
    case PaddingMode::same_lower: {
        if (w.stride < 1) fail("{}: stride {} is {}, expected at least 1", layer, axis, w.stride);
        const int output = (input + w.stride - 1) / w.stride;
        const int total = std::max((output - 1) * w.stride + span + 1 - input, 0);
        const int smaller = total / 2;
        resolved.pad_before = w.padding_mode == PaddingMode::same ? smaller : total - smaller;
        resolved.pad_after = total - resolved.pad_before;
        break;
    }
    case PaddingMode::full:
        if (w.stride != 1) fail("{}: padding 'full' along {} is defined for stride 1 only, got stride {}", layer, axis, w.stride);
        resolved.pad_before = resolved.pad_after = span;
        break;
    }
    return resolved;
}

int window_output_size(const std::string &layer, const char *axis, int input, const Window1d &window) {
    if (input < 1) fail("{}: input {} is {}, expected at least 1", layer, axis, input);
    if (window.kernel < 1) fail("{}: kernel {} is {}, expected at least 1", layer, axis, window.kernel);
    if (window.stride < 1) fail("{}: stride {} is {}, expected at least 1", layer, axis, window.stride);
    if (window.dilation < 1) fail("{}: dilation {} is {}, expected at least 1", layer, axis, window.dilation);
    // Spans and padded sizes over 2^24 are errors, so the int arithmetic below cannot overflow.
    constexpr long long kLargest = 1 << 24;
    if ((long long)window.dilation * (window.kernel - 1) + 1 > kLargest)
        fail("{}: kernel {} spans {} x {} elements, more than {}", layer, axis, window.kernel, window.dilation, kLargest);
    const Window1d w = resolve_padding(layer, axis, input, window);
    if (w.pad_before < 0 || w.pad_after < 0)
        fail("{}: padding {} is {}/{}, expected non-negative", layer, axis, w.pad_before, w.pad_after);
    if ((long long)input + w.pad_before + w.pad_after > kLargest)
        fail("{}: input {} with its padding is {} elements, more than {}", layer, axis,
             (long long)input + w.pad_before + w.pad_after, kLargest);
    const int padded = input + w.pad_before + w.pad_after;
    const int span = w.dilation * (w.kernel - 1) + 1;
    if (span > padded)
        fail("{}: kernel {} spans {} (kernel {}, dilation {}), larger than padded input {} (input {}, padding {}+{})",
             layer, axis, span, w.kernel, w.dilation, padded, input, w.pad_before, w.pad_after);
    if (!w.ceil_mode) return (padded - span) / w.stride + 1;
    int output = (padded - span + w.stride - 1) / w.stride + 1;
    if ((output - 1) * w.stride >= input + w.pad_before) --output;
    return output;
}

int first_window_in_padding(int input, int output, const Window1d &w) {
    for (int o = 0; o < output; ++o) {
        // Taps at start + k * dilation: the first at or after 0 must come before the end.
        const long long start = (long long)o * w.stride - w.pad_before;
        const long long first = start >= 0 ? 0 : (-start + w.dilation - 1) / w.dilation;
        if (first >= w.kernel || start + first * w.dilation >= input) return o;
    }
    return -1;
}

}  // namespace cnngen
