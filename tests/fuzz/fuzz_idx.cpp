// libFuzzer target: arbitrary bytes as IDX image and label files (raw or gzip).
#include <cnngen/error.h>
#include <cnngen/idx.h>

#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string path = fuzz_file(data, size, "idx");
    try {
        cnngen::read_idx_images(path);
    } catch (const cnngen::RuntimeError &) {
    }
    try {
        cnngen::read_idx_labels(path);
    } catch (const cnngen::RuntimeError &) {
    }
    return 0;
}
