# The cnngen runtime built for other machines, so `cnngen build --target arm-64-linux`
# can link executables for them. Defaults to every Debian cross toolchain found together
# with that architecture's libfmt-dev (aarch64 only for now); empty turns it off.
include(ExternalProject)
set(default_triples "")
find_program(CNNGEN_AARCH64_GXX aarch64-linux-gnu-g++)
if(CNNGEN_AARCH64_GXX AND EXISTS /usr/lib/aarch64-linux-gnu/cmake/fmt/fmt-config.cmake)
  set(default_triples aarch64-linux-gnu)
endif()
set(CNNGEN_CROSS_RUNTIMES "${default_triples}" CACHE STRING "GNU triples to build the cnngen runtime for")
set(CNNGEN_CROSS_RUNTIME_DIR ${PROJECT_BINARY_DIR}/cross-runtimes)
get_target_property(halide_include Halide::Runtime INTERFACE_INCLUDE_DIRECTORIES)
set(CNNGEN_CROSS_RUNTIME_TARGETS "")
foreach(triple IN LISTS CNNGEN_CROSS_RUNTIMES)
  set(binary_dir ${CNNGEN_CROSS_RUNTIME_DIR}/${triple})
  ExternalProject_Add(cnngen_runtime_${triple}
    SOURCE_DIR ${PROJECT_SOURCE_DIR}/runtime
    BINARY_DIR ${binary_dir}
    CMAKE_ARGS -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/runtime/cmake/cross-toolchain.cmake
               -DCNNGEN_CROSS_TRIPLE=${triple} -DCMAKE_BUILD_TYPE=Release
               -DCNNGEN_HALIDE_INCLUDE_DIR=${halide_include}
    BUILD_ALWAYS ON  # cheap when nothing changed; sees edits to the runtime sources
    INSTALL_COMMAND ""
    BUILD_BYPRODUCTS ${binary_dir}/libcnngen_runtime.a)
  list(APPEND CNNGEN_CROSS_RUNTIME_TARGETS cnngen_runtime_${triple})
endforeach()
