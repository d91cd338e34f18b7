#include "shape_rules.h"

#include "errors.h"

namespace cnngen {

int window_output_size(const std::string &layer, const char *axis, int input, const Window1d &w) {
    if (input < 1) fail("{}: input {} is {}, expected at least 1", layer, axis, input);
    if (w.kernel < 1) fail("{}: kernel {} is {}, expected at least 1", layer, axis, w.kernel);
    if (w.stride < 1) fail("{}: stride {} is {}, expected at least 1", layer, axis, w.stride);
    if (w.dilation < 1) fail("{}: dilation {} is {}, expected at least 1", layer, axis, w.dilation);
    if (w.pad_before < 0 || w.pad_after < 0)
        fail("{}: padding {} is {}/{}, expected non-negative", layer, axis, w.pad_before, w.pad_after);
    const int padded = input + w.pad_before + w.pad_after;
    const int span = w.dilation * (w.kernel - 1) + 1;
    if (span > padded)
        fail("{}: kernel {} spans {} (kernel {}, dilation {}), larger than padded input {} (input {}, padding {}+{})",
             layer, axis, span, w.kernel, w.dilation, padded, input, w.pad_before, w.pad_after);
    return (padded - span) / w.stride + 1;
}

PaddingMode padding_mode_from_name(const std::string &layer, const std::string &name) {
    if (name == "valid") return PaddingMode::valid;
    if (name == "same") return PaddingMode::same;
    if (name == "full") return PaddingMode::full;
    fail("{}: padding mode '{}' unknown, expected one of valid, same, full", layer, name);
}

Window1d padding_for_mode(PaddingMode mode, int kernel, int dilation) {
    const int span = dilation * (kernel - 1);
    Window1d w;
    w.kernel = kernel;
    w.dilation = dilation;
    switch (mode) {
    case PaddingMode::valid: break;
    case PaddingMode::same:
        w.pad_before = span / 2;
        w.pad_after = span - span / 2;
        break;
    case PaddingMode::full:
        w.pad_before = span;
        w.pad_after = span;
        break;
    }
    return w;
}

}  // namespace cnngen
