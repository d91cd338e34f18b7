#include "toolchain.h"

#include "../layers/errors.h"

#include <cstdlib>
#include <filesystem>

#ifndef CNNGEN_EXTRA_CXXFLAGS
#define CNNGEN_EXTRA_CXXFLAGS ""
#endif
#ifndef CNNGEN_MPI_LIBRARY  // cnngen built without MPI
#define CNNGEN_MPI_LIBRARY ""
#define CNNGEN_MPI_LINK ""
#endif

namespace fs = std::filesystem;
using namespace Halide;

namespace cnngen {

std::string environment_or(const char *name, const std::string &fallback) {
    const char *value = std::getenv(name);
    return value && *value ? value : fallback;
}

namespace {

bool same_machine(const Target &a, const Target &b) {
    return a.arch == b.arch && a.bits == b.bits && a.os == b.os;
}

// Debian's cross toolchains (g++-aarch64-linux-gnu, ...) are named after these triples.
std::string gnu_triple(const Target &target) {
    if (target.os == Target::Linux) {
        if (target.arch == Target::ARM) return target.bits == 64 ? "aarch64-linux-gnu" : "arm-linux-gnueabihf";
        if (target.arch == Target::RISCV && target.bits == 64) return "riscv64-linux-gnu";
        if (target.arch == Target::X86 && target.bits == 32) return "i686-linux-gnu";
        if (target.arch == Target::POWERPC && target.bits == 64) return "powerpc64le-linux-gnu";
    }
    fail("cnngen build: no cross toolchain known for target {}; cross builds support arm-64-linux, arm-32-linux, "
         "riscv-64-linux, x86-32-linux and powerpc-64-linux",
         target.to_string());
}

// An installed cnngen finds its runtime beside itself (PREFIX/bin/cnngen -> PREFIX/lib),
// cross runtimes in PREFIX/lib/<triple>; a build-tree cnngen uses the paths it was built with.
std::string installed_prefix() {
    std::error_code error;
    const fs::path prefix = fs::read_symlink("/proc/self/exe", error).parent_path().parent_path();
    if (!error && fs::exists(prefix / "lib" / "libcnngen_runtime.a") && fs::exists(prefix / "include" / "cnngen"))
        return prefix.string();
    return "";
}

}  // namespace

std::vector<Target> parse_targets(const std::string &text) {
    std::vector<Target> targets;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const std::string name = text.substr(start, comma - start);
        if (!Target::validate_target_string(name))
            fail("cnngen build: target '{}' is not a Halide target (e.g. host, x86-64-linux-avx2, arm-64-linux, "
                 "host-cuda-cuda_capability_80)",
                 name);
        targets.emplace_back(name);
        if (!same_machine(targets.front(), targets.back()))
            fail("cnngen build: multi-target '{}' mixes machines: {} and {} differ in architecture, bits or OS", text,
                 targets.front().to_string(), targets.back().to_string());
        start = comma + 1;
    }
    return targets;
}

Toolchain toolchain_for(const Target &target) {
    const std::string prefix = installed_prefix();
    Toolchain tools;
    tools.runtime_include = environment_or("CNNGEN_RUNTIME_INCLUDE_DIR",
                                           prefix.empty() ? CNNGEN_RUNTIME_INCLUDE_DIR : prefix + "/include");
    if (same_machine(target, get_host_target())) {
        tools.cxx = environment_or("CXX", CNNGEN_CXX);
        tools.cxx_flags = environment_or("CNNGEN_CXXFLAGS", CNNGEN_EXTRA_CXXFLAGS);
        tools.ar = environment_or("AR", "ar");
        tools.runtime_library = prefix.empty() ? CNNGEN_RUNTIME_LIBRARY : prefix + "/lib/libcnngen_runtime.a";
        if (*CNNGEN_MPI_LIBRARY) {
            tools.mpi_library = environment_or("CNNGEN_MPI_LIBRARY",
                                               prefix.empty() ? CNNGEN_MPI_LIBRARY : prefix + "/lib/libcnngen_mpi.a");
            tools.mpi_link = CNNGEN_MPI_LINK;
        }
    } else {
        tools.triple = gnu_triple(target);
        tools.cxx = environment_or("CNNGEN_CROSS_CXX", tools.triple + "-g++");
        tools.cxx_flags = environment_or("CNNGEN_CROSS_CXXFLAGS", "");
        tools.ar = environment_or("CNNGEN_CROSS_AR", tools.triple + "-ar");
        tools.runtime_library = (prefix.empty() ? std::string(CNNGEN_CROSS_RUNTIME_DIR) : prefix + "/lib") + "/" +
                                tools.triple + "/libcnngen_runtime.a";
    }
    tools.runtime_library = environment_or("CNNGEN_RUNTIME_LIBRARY", tools.runtime_library);
    if (fs::exists(tools.runtime_library)) return tools;
    if (tools.triple.empty())
        fail("cnngen build: the cnngen runtime library {} does not exist; set CNNGEN_RUNTIME_LIBRARY",
             tools.runtime_library);
    fail("cnngen build: no cnngen runtime for {} at {}; configure cnngen with -DCNNGEN_CROSS_RUNTIMES={} (it needs "
         "{}-g++ and that architecture's libfmt-dev and zlib1g-dev) or set CNNGEN_RUNTIME_LIBRARY",
         target.to_string(), tools.runtime_library, tools.triple, tools.triple);
}

}  // namespace cnngen
