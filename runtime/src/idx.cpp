#include "cnngen/idx.h"

#include "cnngen/error.h"

#include <zlib.h>

#include <filesystem>
#include <memory>

namespace cnngen {

namespace {

constexpr uint32_t kLabelMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr uint32_t kImageMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr long long kMaxElements = 1LL << 32;

// gzread reads gzip and plain files alike.
struct GzFile {
    explicit GzFile(const std::string &path) : path(path), file(gzopen(path.c_str(), "rb")) {
        if (!file) runtime_fail("{}: cannot open", path);
    }
    ~GzFile() { gzclose(file); }
    void read(void *data, size_t size, const char *what) {
        size_t done = 0;
        while (done < size) {
            const unsigned chunk = unsigned(std::min<size_t>(size - done, 1u << 30));
            const int n = gzread(file, static_cast<char *>(data) + done, chunk);
            if (n < 0) runtime_fail("{}: corrupt data while reading {}", path, what);
            if (n == 0) runtime_fail("{}: truncated: {} needs {} bytes, file ends after {}", path, what, size, done);
            done += size_t(n);
        }
    }
    // Reads `size` bytes growing the buffer as data arrives, so a header that claims more
    // than the file holds fails as truncated instead of allocating the claimed size.
    std::vector<unsigned char> read_bytes(size_t size, const char *what) {
        std::vector<unsigned char> bytes;
        constexpr size_t kChunk = 1 << 20;
        while (bytes.size() < size) {
            const size_t done = bytes.size(), chunk = std::min(kChunk, size - done);
            bytes.resize(done + chunk);
            const int n = gzread(file, bytes.data() + done, unsigned(chunk));
            if (n < 0) runtime_fail("{}: corrupt data while reading {}", path, what);
            if (size_t(n) < chunk)
                runtime_fail("{}: truncated: {} needs {} bytes, file ends after {}", path, what, size, done + size_t(n));
        }
        return bytes;
    }
    uint32_t big_endian(const char *what) {
        unsigned char b[4];
        read(b, 4, what);
        return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
    }
    void expect_end() {
        char extra;
        if (gzread(file, &extra, 1) > 0) runtime_fail("{}: trailing bytes after the declared data", path);
    }
    std::string path;
    gzFile file;
};

void check_magic(GzFile &f, uint32_t expected, const char *kind) {
    const uint32_t magic = f.big_endian("the magic number");
    if (magic != expected)
        runtime_fail("{}: bad magic 0x{:08x}, expected 0x{:08x} for an IDX {} file", f.path, magic, expected, kind);
}

}  // namespace

IdxImages read_idx_images(const std::string &path) {
    GzFile f(path);
    check_magic(f, kImageMagic, "image");
    IdxImages images;
    const uint32_t count = f.big_endian("the image count"), rows = f.big_endian("the row count"),
                   cols = f.big_endian("the column count");
    if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
        runtime_fail("{}: image size {}x{} is implausible", path, rows, cols);
    if ((long long)count * rows * cols > kMaxElements)
        runtime_fail("{}: {} images of {}x{} is more than this reader accepts", path, count, rows, cols);
    images.count = int(count);
    images.rows = int(rows);
    images.cols = int(cols);
    const std::vector<unsigned char> bytes = f.read_bytes(size_t(count) * rows * cols, "the pixels");
    f.expect_end();
    images.pixels.resize(bytes.size());
    for (size_t k = 0; k < bytes.size(); ++k) images.pixels[k] = float(bytes[k]) / 255.0f;
    return images;
}

std::vector<int32_t> read_idx_labels(const std::string &path) {
    GzFile f(path);
    check_magic(f, kLabelMagic, "label");
    const uint32_t count = f.big_endian("the label count");
    const std::vector<unsigned char> bytes = f.read_bytes(count, "the labels");
    f.expect_end();
    return std::vector<int32_t>(bytes.begin(), bytes.end());
}

std::string find_idx_file(const std::string &dir, const std::string &name) {
    const std::string plain = dir + "/" + name;
    if (std::filesystem::exists(plain)) return plain;
    if (std::filesystem::exists(plain + ".gz")) return plain + ".gz";
    runtime_fail("{}: neither {} nor {}.gz exists", dir, name, name);
}

}  // namespace cnngen
