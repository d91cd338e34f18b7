# Toolchain for building the cnngen runtime with Debian's cross compilers:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cross-toolchain.cmake -DCNNGEN_CROSS_TRIPLE=aarch64-linux-gnu
# Libraries and CMake packages come from the multiarch directories (libfmt-dev:arm64, ...).
if(NOT CNNGEN_CROSS_TRIPLE)
  message(FATAL_ERROR "cross-toolchain.cmake: set CNNGEN_CROSS_TRIPLE (e.g. aarch64-linux-gnu)")
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES CNNGEN_CROSS_TRIPLE)  # compiler checks see it too
string(REGEX MATCH "^[^-]+" processor "${CNNGEN_CROSS_TRIPLE}")
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${processor})
set(CMAKE_C_COMPILER ${CNNGEN_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${CNNGEN_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${CNNGEN_CROSS_TRIPLE})
