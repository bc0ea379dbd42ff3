# Cross build for linux-arm64 with Debian's gcc-aarch64-linux-gnu (scripts/prebuild.sh): libraries
# (libseccomp.a) from the arm64 multiarch directory (dpkg --add-architecture arm64; libseccomp-dev:arm64).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
