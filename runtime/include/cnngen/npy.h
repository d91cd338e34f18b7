#pragma once
// NumPy .npy files: float32, little-endian, C order, as np.save writes them.
#include <string>
#include <vector>

namespace cnngen {

struct NpyArray {
    std::vector<int> shape;
    std::vector<float> data;
};

// Throws RuntimeError naming the file and what is wrong (magic, version, dtype, order, size).
NpyArray read_npy(const std::string &path);
// Writes via a temporary file renamed into place.
void write_npy(const std::string &path, const std::vector<int> &shape, const float *data);

}  // namespace cnngen
