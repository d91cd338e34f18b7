#pragma once
#include <fmt/format.h>

#include <stdexcept>

namespace cnngen {

// Bad input at run time (files, tensors, command-line values) or a failed kernel;
// the message names the file, tensor or function and what was expected.
struct RuntimeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void runtime_fail(fmt::format_string<Args...> format, Args &&...args) {
    throw RuntimeError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace cnngen
