#pragma once
// The readers take paths: each input is written to one per-process scratch file.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

inline std::string fuzz_file(const uint8_t *data, size_t size, const char *kind) {
    const std::string path = "/tmp/cnngen-fuzz-" + std::string(kind) + "-" + std::to_string(getpid());
    FILE *f = std::fopen(path.c_str(), "wb");
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}
