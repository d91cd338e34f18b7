#include "onnx_file.h"

#include "../layers/errors.h"

#include <google/protobuf/io/coded_stream.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cnngen {

onnx::ModelProto parse_onnx_model(const std::string &bytes, const std::string &path) {
    google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t *>(bytes.data()), int(bytes.size()));
    stream.SetTotalBytesLimit(INT_MAX);  // VGG-16's weights are over protobuf's default 64 MiB
    onnx::ModelProto model;
    if (bytes.empty()) fail("{}: empty file, expected an ONNX model (a ModelProto protobuf)", path);
    if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage())
        fail("{}: not a valid ONNX model: the protobuf does not parse ({} bytes; truncated or not a ModelProto)", path,
             bytes.size());
    if (!model.has_graph()) fail("{}: the ONNX model has no graph", path);
    return model;
}

onnx::ModelProto read_onnx_model(const std::string &path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) fail("{}: cannot open ONNX model", path);
    std::stringstream bytes;
    bytes << file.rdbuf();
    if (bytes.str().size() >= size_t(INT_MAX)) fail("{}: {} bytes, over protobuf's 2 GiB limit", path, bytes.str().size());
    return parse_onnx_model(bytes.str(), path);
}

const char *onnx_type_name(int data_type) {
    switch (data_type) {
    case onnx::TensorProto::FLOAT: return "FLOAT";
    case onnx::TensorProto::UINT8: return "UINT8";
    case onnx::TensorProto::INT8: return "INT8";
    case onnx::TensorProto::INT32: return "INT32";
    case onnx::TensorProto::INT64: return "INT64";
    case onnx::TensorProto::BOOL: return "BOOL";
    case onnx::TensorProto::FLOAT16: return "FLOAT16";
    case onnx::TensorProto::DOUBLE: return "DOUBLE";
    case onnx::TensorProto::BFLOAT16: return "BFLOAT16";
    case onnx::TensorProto::STRING: return "STRING";
    default: return "another type";
    }
}

namespace {

// The element count its dims promise; fails on negative or huge dims.
size_t promised_count(const onnx::TensorProto &tensor, const std::string &where, Shape *shape) {
    size_t count = 1;
    for (int64_t dim : tensor.dims()) {
        if (dim < 0 || dim > INT_MAX) fail("{}: dimension {} out of range", where, dim);
        count *= size_t(dim);
        if (count > (size_t(1) << 32)) fail("{}: more than 2^32 elements", where);
        if (shape) shape->push_back(int(dim));
    }
    return count;
}

void require_type(const onnx::TensorProto &tensor, int type, const std::string &where) {
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
        fail("{}: data stored outside the model file (external data); save the model with its weights inside", where);
    if (tensor.data_type() != type)
        fail("{}: element type {}, expected {}", where, onnx_type_name(tensor.data_type()), onnx_type_name(type));
}

template <typename T, typename Field>
std::vector<T> values_of(const onnx::TensorProto &tensor, const Field &field, size_t count, const std::string &where) {
    std::vector<T> values;
    if (tensor.has_raw_data()) {
        if (tensor.raw_data().size() != count * sizeof(T))
            fail("{}: raw_data holds {} bytes, expected {} for {} elements", where, tensor.raw_data().size(),
                 count * sizeof(T), count);
        values.resize(count);
        std::memcpy(values.data(), tensor.raw_data().data(), count * sizeof(T));  // little-endian, as ONNX stores it
    } else {
        if (size_t(field.size()) != count)
            fail("{}: holds {} values, expected {} from its dims", where, field.size(), count);
        values.assign(field.begin(), field.end());
    }
    return values;
}

}  // namespace

FloatTensor float_tensor(const onnx::TensorProto &tensor, const std::string &where) {
    require_type(tensor, onnx::TensorProto::FLOAT, where);
    FloatTensor out;
    const size_t count = promised_count(tensor, where, &out.shape);
    out.values = values_of<float>(tensor, tensor.float_data(), count, where);
    return out;
}

std::vector<int64_t> int64_tensor(const onnx::TensorProto &tensor, const std::string &where) {
    require_type(tensor, onnx::TensorProto::INT64, where);
    return values_of<int64_t>(tensor, tensor.int64_data(), promised_count(tensor, where, nullptr), where);
}

bool bool_scalar(const onnx::TensorProto &tensor, const std::string &where) {
    require_type(tensor, onnx::TensorProto::BOOL, where);
    if (promised_count(tensor, where, nullptr) != 1) fail("{}: expected one value", where);
    if (tensor.has_raw_data()) {
        if (tensor.raw_data().size() != 1) fail("{}: raw_data holds {} bytes, expected 1", where, tensor.raw_data().size());
        return tensor.raw_data()[0] != 0;
    }
    if (tensor.int32_data_size() != 1) fail("{}: holds {} values, expected 1", where, tensor.int32_data_size());
    return tensor.int32_data(0) != 0;
}

}  // namespace cnngen
