#pragma once
// The layouts inference reads convolution weights in (ParameterEntry::packed_block and
// winograd_tile), made from PyTorch's OIHW once per change of the weights, never per call.
#include "cnngen/model_description.h"

#include <vector>

namespace cnngen {

// The packed tensor's shape; empty for a tensor read as it is.
std::vector<int> packed_shape(const ParameterEntry &p);
// OIHW `plain` into `packed` (of packed_shape).
void pack_weight(const ParameterEntry &p, const float *plain, float *packed);
// Whether unpack_weight can recover the plain tensor (Winograd's transform cannot be undone).
bool can_unpack(const ParameterEntry &p);
// `packed` back into OIHW `plain`; for blocked layouts only (can_unpack).
void unpack_weight(const ParameterEntry &p, const float *packed, float *plain);

}  // namespace cnngen
