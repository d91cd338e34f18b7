#pragma once
// A model spec as TOML text, written the way models/README.md documents it: defaults left
// out, padding as a mode or the shortest list. parse_model_spec(model_spec_text(s)) gives s back.
#include "spec.h"

namespace cnngen {

// `header` comment lines (without '#') go on top.
std::string model_spec_text(const ModelSpec &spec, const std::vector<std::string> &header = {});

}  // namespace cnngen
