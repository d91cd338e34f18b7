#pragma once
// The ONNX form of a planned model, for `MODEL export --onnx`: cnngen build serializes the
// graph (nodes, input, output; opset 13) into the library, and the runtime appends the
// trained weights as initializers. Protobuf merges a message's concatenated encodings, so
// the runtime needs no protobuf library, only the initializers' few fields.
#include "../model/plan.h"

namespace cnngen {

struct OnnxGraph {
    std::string model;    // a serialized ModelProto without initializers; empty when `problem` says why
    std::string problem;  // the layer ONNX cannot express, or empty
};

OnnxGraph onnx_graph_for(const ModelPlan &plan);

}  // namespace cnngen
