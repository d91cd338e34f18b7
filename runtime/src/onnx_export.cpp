#include "cnngen/onnx_export.h"

#include "atomic_file.h"
#include "cnngen/error.h"

#include <cstring>

namespace cnngen {

namespace {

// Protobuf's wire format, the few pieces a TensorProto initializer needs. Field numbers from
// onnx.proto: ModelProto.graph 7, GraphProto.initializer 5, TensorProto dims 1, data_type 2,
// name 8, raw_data 9.
void varint(std::string &out, uint64_t value) {
    while (value >= 0x80) {
        out += char((value & 0x7f) | 0x80);
        value >>= 7;
    }
    out += char(value);
}

void tag(std::string &out, int field, int wire_type) { varint(out, uint64_t(field) << 3 | uint64_t(wire_type)); }

void length_delimited(std::string &out, int field, const std::string &bytes) {
    tag(out, field, 2);
    varint(out, bytes.size());
    out += bytes;
}

std::string tensor_proto(const std::string &name, const Tensor &tensor) {
    constexpr int kFloat = 1;  // TensorProto.DataType.FLOAT
    std::string out;
    for (int dim : tensor.shape) {
        tag(out, 1, 0);
        varint(out, uint64_t(dim));
    }
    tag(out, 2, 0);
    varint(out, kFloat);
    length_delimited(out, 8, name);
    std::string raw(tensor.data.size() * sizeof(float), '\0');  // little-endian, as on every target cnngen has
    std::memcpy(raw.data(), tensor.data.data(), raw.size());
    length_delimited(out, 9, raw);
    return out;
}

}  // namespace

void export_onnx(const Model &model, const std::string &path) {
    const ModelDescription &d = model.description();
    if (d.onnx_graph.empty()) runtime_fail("{}: cannot be exported to ONNX: {}", d.name, d.onnx_problem);
    // A ModelProto's encoding followed by another's parses as the two merged: the graph's
    // initializers are appended to the recorded graph.
    std::string initializers;
    const std::vector<Tensor> parameters = model.parameters();
    for (size_t k = 0; k < parameters.size(); ++k)
        length_delimited(initializers, 5, tensor_proto(d.parameters[k].name, parameters[k]));
    std::string bytes = d.onnx_graph;
    length_delimited(bytes, 7, initializers);
    write_file_atomically(path, bytes);
}

}  // namespace cnngen
