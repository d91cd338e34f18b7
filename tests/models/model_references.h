#pragma once
// Whole models as chains of the plain-loop references, for generated model libraries.
#include "reference/reference.h"

#include <cnngen/model.h>
#include <cnngen/npy.h>

#include <functional>
#include <map>
#include <string>

namespace cnngen_test {

using Params = std::map<std::string, reference::Tensor>;

reference::Tensor from_npy(const cnngen::NpyArray &a);
// The model's current parameters, by state_dict name, in double precision.
Params params_of(const cnngen::Model &model);
// `count` floats uniform in [low, high), the same for the same seed.
std::vector<float> random_floats(size_t count, uint32_t seed, float low = -1.0f, float high = 1.0f);
// Logits (N, classes) as a reference tensor.
reference::Tensor logits_tensor(const std::vector<float> &logits, int batch, int classes);

// Central difference of `loss` with respect to params[name].data[at] (restored afterwards).
double finite_difference(Params &params, const std::string &name, size_t at,
                         const std::function<double(Params &)> &loss, double h = 1e-6);

reference::Tensor lenet5_reference(const reference::Tensor &x, Params &p);
reference::Tensor lenet5_classic_reference(const reference::Tensor &x, Params &p);
// tests/models/lenet5-dropout.toml in its first training step after initialize(1): the mask
// from the seed that step takes (cnngen::Model: initialize's seed times 0x9E3779B9).
constexpr uint32_t kFirstDropoutSeed = 1u * 0x9E3779B9u;
reference::Tensor lenet5_dropout_first_step_reference(const reference::Tensor &x, Params &p);
reference::Tensor alexnet_small_reference(const reference::Tensor &x, Params &p);

}  // namespace cnngen_test
