#include "tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cnngen {

Halide::Func zeros(const std::string &name, int rank) {
    Halide::Func f(name);
    std::vector<Halide::Var> args;
    for (int k = 0; k < rank; ++k) args.emplace_back();
    f(args) = 0.0f;
    return f;
}

long long element_count(const Shape &shape) {
    long long count = 1;
    for (int extent : shape) count *= extent;
    return count;
}

std::string shape_string(const Shape &shape) {
    return fmt::format("{}", fmt::join(shape, "x"));
}

}  // namespace cnngen
