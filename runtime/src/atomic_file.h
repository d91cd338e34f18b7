#pragma once
#include <string>

namespace cnngen {

// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over
// `path`: readers see the old file or the whole new one, never a partial write.
void write_file_atomically(const std::string &path, const std::string &bytes);

}  // namespace cnngen
