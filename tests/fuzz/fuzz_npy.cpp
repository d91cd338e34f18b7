// libFuzzer target: arbitrary bytes as a .npy file must give an array or a RuntimeError.
#include <cnngen/error.h>
#include <cnngen/npy.h>

#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string path = fuzz_file(data, size, "npy");
    try {
        cnngen::read_npy(path);
    } catch (const cnngen::RuntimeError &) {
    }
    return 0;
}
