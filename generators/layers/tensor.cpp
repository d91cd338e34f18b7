#include "tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cnngen {

long long element_count(const Shape &shape) {
    long long count = 1;
    for (int extent : shape) count *= extent;
    return count;
}

std::string shape_string(const Shape &shape) {
    return fmt::format("{}", fmt::join(shape, "x"));
}

}  // namespace cnngen
