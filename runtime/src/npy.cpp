#include "cnngen/npy.h"

#include "atomic_file.h"
#include "cnngen/error.h"

#include <fmt/ranges.h>

#include <cstring>
#include <fstream>
#include <regex>

namespace cnngen {

NpyArray read_npy(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) runtime_fail("{}: cannot open", path);
    char magic[8];
    if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
        runtime_fail("{}: not a .npy file (bad magic)", path);
    const int major = static_cast<unsigned char>(magic[6]);
    uint32_t header_length = 0;
    if (major == 1) {
        unsigned char len[2];
        if (!in.read(reinterpret_cast<char *>(len), 2)) runtime_fail("{}: truncated .npy header", path);
        header_length = len[0] | (len[1] << 8);
    } else if (major == 2 || major == 3) {
        unsigned char len[4];
        if (!in.read(reinterpret_cast<char *>(len), 4)) runtime_fail("{}: truncated .npy header", path);
        header_length = len[0] | (len[1] << 8) | (len[2] << 16) | (uint32_t(len[3]) << 24);
    } else {
        runtime_fail("{}: .npy format version {} unsupported, expected 1, 2 or 3", path, major);
    }
    if (header_length > 1 << 20) runtime_fail("{}: .npy header of {} bytes is implausible", path, header_length);
    std::string header(header_length, '\0');
    if (!in.read(header.data(), header_length)) runtime_fail("{}: truncated .npy header", path);

    std::smatch m;
    if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")))
        runtime_fail("{}: .npy header has no 'descr'", path);
    const std::string descr = m[1];
    if (descr != "<f4" && descr != "=f4")
        runtime_fail("{}: dtype '{}', expected float32 little-endian ('<f4')", path, descr);
    if (!std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)")))
        runtime_fail("{}: .npy header has no 'fortran_order'", path);
    if (m[1] == "True") runtime_fail("{}: Fortran order, expected C order (use np.ascontiguousarray)", path);
    if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
        runtime_fail("{}: .npy header has no 'shape'", path);

    NpyArray array;
    const std::string dims = m[1];
    size_t count = 1;
    const std::regex number("\\d+");
    for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
        // More than 10 digits is over any int: said before stoll would throw out_of_range.
        if (it->length() > 10 || std::stoll(it->str()) > (1LL << 31) - 1)
            runtime_fail("{}: dimension {} too large", path, it->str().substr(0, 24));
        const long long extent = std::stoll(it->str());
        array.shape.push_back(int(extent));
        count *= size_t(extent);
        if (count > (size_t(1) << 34)) runtime_fail("{}: {} elements is more than this runtime accepts", path, count);
    }
    // Check the size against the file before allocating what the header claims.
    const std::streamoff data_start = in.tellg();
    in.seekg(0, std::ios::end);
    const std::streamoff available = in.tellg() - data_start;
    in.seekg(data_start);
    if (available < std::streamoff(count * sizeof(float)))
        runtime_fail("{}: data truncated, expected {} float32 values for shape ({}), file holds {} bytes", path, count,
                     fmt::join(array.shape, ", "), available);
    array.data.resize(count);
    if (!in.read(reinterpret_cast<char *>(array.data.data()), std::streamsize(count * sizeof(float))))
        runtime_fail("{}: data truncated, expected {} float32 values for shape ({})", path, count,
                     fmt::join(array.shape, ", "));
    if (in.peek() != EOF) runtime_fail("{}: trailing bytes after {} float32 values", path, count);
    return array;
}

void write_npy(const std::string &path, const std::vector<int> &shape, const float *data) {
    std::string dims;
    size_t count = 1;
    for (int extent : shape) {
        dims += std::to_string(extent) + ", ";
        count *= size_t(extent);
    }
    if (shape.size() > 1) dims.erase(dims.size() - 2);  // (6, 1, 5, 5) but (10,)
    else if (shape.size() == 1) dims.erase(dims.size() - 1);
    std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
    // Magic (6) + version (2) + length (2) + header + newline, padded to 64 bytes.
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += char(1);
    bytes += char(0);
    bytes += char(header.size() & 0xff);
    bytes += char(header.size() >> 8);
    bytes += header;
    bytes.append(reinterpret_cast<const char *>(data), count * sizeof(float));
    write_file_atomically(path, bytes);
}

}  // namespace cnngen
