#pragma once
// IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.
#include <cstdint>
#include <string>
#include <vector>

namespace cnngen {

struct IdxImages {
    int count = 0, rows = 0, cols = 0;
    std::vector<float> pixels;  // count x rows x cols, scaled to [0, 1]
};

IdxImages read_idx_images(const std::string &path);
std::vector<int32_t> read_idx_labels(const std::string &path);

// DIR/NAME or DIR/NAME.gz, whichever exists; throws naming both when neither does.
std::string find_idx_file(const std::string &dir, const std::string &name);

}  // namespace cnngen
