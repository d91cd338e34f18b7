#pragma once
// `cnngen import`: an ONNX graph of the layers cnngen has (chains and branches that join by Add,
// Sum or Concat), as a model spec (TOML a person could have written) and its weights under
// their state_dict names.
#include "../model/spec.h"
#include "onnx_file.h"

#include <map>

namespace cnngen {

struct ImportedModel {
    ModelSpec spec;         // parsed back from spec_text
    std::string spec_text;  // what `cnngen import` writes as NAME.toml
    std::map<std::string, FloatTensor> weights;  // conv1.weight -> tensor, in the spec's PyTorch shapes
};

// `name`: the spec's name (a C identifier); empty takes the file's stem. Throws ConfigError
// naming the file, the node (its name and op type) and the input it came from.
ImportedModel import_onnx(const onnx::ModelProto &model, const std::string &path, const std::string &name);
ImportedModel import_onnx_file(const std::string &path, const std::string &name);

// DIR/NAME.toml and DIR/weights/*.npy, written to a sibling directory renamed into place.
void write_imported_model(const ImportedModel &model, const std::string &dir);

}  // namespace cnngen
