#include "atomic_file.h"

#include "cnngen/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cnngen {

void write_file_atomically(const std::string &path, const std::string &bytes) {
    const std::string temporary = path + ".tmp-" + std::to_string(getpid());
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) runtime_fail("{}: cannot create: {}", temporary, std::strerror(errno));
    size_t written = 0;
    while (written < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
        if (n < 0) {
            const int error = errno;
            ::close(fd);
            ::unlink(temporary.c_str());
            runtime_fail("{}: write failed: {}", temporary, std::strerror(error));
        }
        written += size_t(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(temporary.c_str());
        runtime_fail("{}: cannot flush: {}", temporary, std::strerror(errno));
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        ::unlink(temporary.c_str());
        runtime_fail("{}: cannot rename into place: {}", path, std::strerror(errno));
    }
}

}  // namespace cnngen
