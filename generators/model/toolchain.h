#pragma once
// What `cnngen build` compiles and links with: the Halide targets it generates for and
// the C++ compiler and cnngen runtime for the machine those targets describe.
#include <Halide.h>

#include <string>
#include <vector>

namespace cnngen {

// "host", "arm-64-linux" or a comma-separated multi-target list, best first:
// "x86-64-linux-avx512_skylake,x86-64-linux-avx2-fma,x86-64-linux-sse41". The last one is
// the fallback; all must share architecture, bit width and OS.
std::vector<Halide::Target> parse_targets(const std::string &text);

struct Toolchain {
    std::string triple;           // GNU triple; empty when building for this host
    std::string cxx;              // compiler for the generated C++ and the executable
    std::string cxx_flags;        // extra flags: the host's sanitizers, say; none for cross builds
    std::string ar;
    std::string runtime_library;  // libcnngen_runtime.a built for the target machine
    std::string runtime_include;  // cnngen runtime headers (architecture-independent)
    // Data-parallel executables: libcnngen_mpi.a and the linker arguments of MPI's C library;
    // empty when cnngen was built without MPI, and for cross builds.
    std::string mpi_library;
    std::string mpi_link;
};

// The environment variable's value, or `fallback` when it is unset or empty.
std::string environment_or(const char *name, const std::string &fallback);

// Environment overrides: CXX, CNNGEN_CXXFLAGS and AR for the host; CNNGEN_CROSS_CXX,
// CNNGEN_CROSS_CXXFLAGS and CNNGEN_CROSS_AR for cross builds; CNNGEN_RUNTIME_LIBRARY and
// CNNGEN_RUNTIME_INCLUDE_DIR for both.
Toolchain toolchain_for(const Halide::Target &target);

}  // namespace cnngen
