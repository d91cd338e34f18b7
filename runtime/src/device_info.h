#pragma once
// Which device a generated library's kernels run on, asked of the Halide runtime linked into it.
#include "cnngen/model.h"

#include <string>

namespace cnngen {

class CallContext;

// The GPU API a Halide target names ("cuda", "opencl", ...); empty for CPU targets.
std::string device_api(const std::string &target);
// The device Halide's runtime uses for `api` (opened if no call has yet): its name, or why
// there is none.
DeviceInfo device_info(const std::string &api, CallContext &context);

}  // namespace cnngen
