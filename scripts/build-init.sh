#!/bin/sh
# Builds tsbox-init, the static binary every container starts as pid 1, for CMakeLists.txt and
# binding.gyp alike: scripts/build-init.sh OUTPUT.
# It links musl where musl-gcc exists (Debian: musl-tools), else the system C library. glibc's static
# start-up runs CPUID dozens of times (CPU features, cache sizes) and in a VM each one traps to the
# hypervisor (7 µs on the bench machine): about 0.5 ms of CPU per container. musl's start-up runs none.
# TSBOX_INIT_CC chooses the compiler instead (TSBOX_INIT_CC=cc for glibc).
set -eu
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
cflags="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fno-strict-overflow -Wall -Wextra -Wno-unused-parameter"
# Stripped: the addon copies the binary into a memfd once per process, and symbols are never read there.
ldflags="-static -s -Wl,-z,relro,-z,now -Wl,-z,noexecstack"
fallback=${CC:-cc}

build() { # build COMPILER EXTRA_CFLAGS
  # shellcheck disable=SC2086 # flag lists split on purpose
  $1 $cflags $2 "$root"/csrc/init/*.c $ldflags -o "$out"
}

if [ -n "${TSBOX_INIT_CC:-}" ]; then
  build "$TSBOX_INIT_CC" ""
elif command -v musl-gcc >/dev/null 2>&1; then
  # musl-gcc searches only musl's headers: give it the kernel's (linux/, asm/, asm-generic/).
  kh=$(dirname "$out")/musl-kernel-headers
  arch=$(gcc -print-multiarch 2>/dev/null || true)
  mkdir -p "$kh"
  ln -sfn /usr/include/linux "$kh/linux"
  ln -sfn /usr/include/asm-generic "$kh/asm-generic"
  if [ -n "$arch" ] && [ -d "/usr/include/$arch/asm" ]; then ln -sfn "/usr/include/$arch/asm" "$kh/asm"; else ln -sfn /usr/include/asm "$kh/asm"; fi
  if ! build musl-gcc "-isystem $kh"; then
    echo "build-init: musl-gcc failed (above), linking glibc statically instead (slower container starts in a VM)" >&2
    build "$fallback" ""
  fi
else
  echo "build-init: musl-gcc not found, linking glibc statically (slower container starts in a VM; apt-get install musl-tools)" >&2
  build "$fallback" ""
fi
