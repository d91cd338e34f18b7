#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace cnngen {

// A configuration that cannot be generated: the message names layer and parameter.
struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args &&...args) {
    throw ConfigError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace cnngen
