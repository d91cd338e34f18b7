#pragma once
// Reading ONNX protobufs (Debian's libonnx-dev classes) with errors that name the file and tensor.
#include "../layers/tensor.h"

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace cnngen {

// The model in `bytes`; `path` names it in errors (truncated or not a ModelProto).
onnx::ModelProto parse_onnx_model(const std::string &bytes, const std::string &path);
onnx::ModelProto read_onnx_model(const std::string &path);

struct FloatTensor {
    Shape shape;
    std::vector<float> values;
};

// A FLOAT tensor's values (raw_data or float_data). `where` names it in errors: a tensor of
// another type, external data, or a size that does not match its dims.
FloatTensor float_tensor(const onnx::TensorProto &tensor, const std::string &where);
// An INT64 tensor's values (Reshape's shape, Pad's pads).
std::vector<int64_t> int64_tensor(const onnx::TensorProto &tensor, const std::string &where);
// A BOOL tensor's single value (Dropout's training_mode).
bool bool_scalar(const onnx::TensorProto &tensor, const std::string &where);

const char *onnx_type_name(int data_type);

}  // namespace cnngen
