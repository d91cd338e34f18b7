#pragma once
// Which device a generated library's kernels run on, asked of the Halide runtime linked into it.
#include <string>

namespace cnngen {

class CallContext;

// The GPU API a Halide target names ("cuda", "opencl", ...); empty for CPU targets.
std::string device_api(const std::string &target);
// The name of the device Halide's runtime uses for `api`, opening it if no call has yet;
// the reason when there is none.
std::string device_name(const std::string &api, CallContext &context);

}  // namespace cnngen
