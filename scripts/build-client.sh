#!/bin/sh
# Builds the tsbox-runtime client executable (csrc/client/), static like tsbox-init and for the same
# reasons (scripts/build-init.sh: musl where musl-gcc exists, whose start-up runs no CPUID), for
# CMakeLists.txt and binding.gyp alike: scripts/build-client.sh OUTPUT TSBOX_INIT.
# It embeds the tsbox-init binary TSBOX_INIT (csrc/addon/init_blob.S) and clones with the addon's own
# code (csrc/common/spawn_core.c). TSBOX_INIT_CC chooses the compiler, as for tsbox-init.
set -eu
out=$1
init=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
cflags="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fno-strict-overflow -Wall -Wextra -Wno-unused-parameter"
ldflags="-static -s -Wl,-z,relro,-z,now -Wl,-z,noexecstack"
fallback=${CC:-cc}

build() { # build COMPILER EXTRA_CFLAGS
  # shellcheck disable=SC2086 # flag lists split on purpose
  $1 $cflags $2 -DTSBOX_INIT_PATH="$init" "$root"/csrc/client/*.c "$root"/csrc/common/*.c "$root"/csrc/init/errname.c \
    "$root"/csrc/addon/init_blob.S $ldflags -o "$out"
}

if [ -n "${TSBOX_INIT_CC:-}" ]; then
  build "$TSBOX_INIT_CC" ""
elif command -v musl-gcc >/dev/null 2>&1; then
  # musl-gcc searches only musl's headers: give it the kernel's (as build-init.sh does).
  kh=$(dirname "$out")/musl-kernel-headers
  arch=$(gcc -print-multiarch 2>/dev/null || true)
  mkdir -p "$kh"
  ln -sfn /usr/include/linux "$kh/linux"
  ln -sfn /usr/include/asm-generic "$kh/asm-generic"
  if [ -n "$arch" ] && [ -d "/usr/include/$arch/asm" ]; then ln -sfn "/usr/include/$arch/asm" "$kh/asm"; else ln -sfn /usr/include/asm "$kh/asm"; fi
  if ! build musl-gcc "-isystem $kh"; then
    echo "build-client: musl-gcc failed (above), linking glibc statically instead" >&2
    build "$fallback" ""
  fi
else
  echo "build-client: musl-gcc not found, linking glibc statically (apt-get install musl-tools)" >&2
  build "$fallback" ""
fi
