#pragma once
// A model with its current weights as an ONNX file, for any ONNX runtime.
#include "model.h"

namespace cnngen {

// Writes the graph cnngen build recorded (opset 13) with the model's parameters as
// initializers named by their state_dict keys, via a temporary file renamed into place.
// Throws RuntimeError when the model has a layer ONNX cannot express, naming it.
void export_onnx(const Model &model, const std::string &path);

}  // namespace cnngen
