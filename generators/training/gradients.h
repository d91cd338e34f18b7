#pragma once
// Backward passes come from Halide's reverse-mode autodiff (propagate_adjoints) on the
// forward algorithms, so every layer's gradient follows from the one definition.
#include <Halide.h>

#include <vector>

namespace cnngen {

// d scalar / d f for each f in `wrt`; each result has f's dimensions and is named
// "<f.name()>_grad". Throws ConfigError naming the Func that has no gradient.
std::vector<Halide::Func> gradients(const Halide::Func &scalar, const std::vector<Halide::Func> &wrt);

}  // namespace cnngen
