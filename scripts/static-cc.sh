# Sourced by scripts/build-init.sh and scripts/build-client.sh: static_build OUTPUT ARGS... compiles and
# links ARGS (sources and flags) into a static, stripped OUTPUT. It links musl where musl-gcc exists
# (Debian: musl-tools), else the system C library: glibc's static start-up runs CPUID dozens of times
# (CPU features, cache sizes) and in a VM each one traps to the hypervisor (7 µs on the bench machine),
# about 0.5 ms of CPU per process; musl's runs none. TSBOX_INIT_CC chooses the compiler instead
# (TSBOX_INIT_CC=cc for glibc; cross builds give the target's).
static_cflags="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fno-strict-overflow -Wall -Wextra -Wno-unused-parameter"
# Stripped: symbols are never read where these run (a memfd, a container's pid 1, a runtime's client).
static_ldflags="-static -s -Wl,-z,relro,-z,now -Wl,-z,noexecstack"

static_cc() { # static_cc COMPILER EXTRA_CFLAGS OUTPUT ARGS...
  cc=$1 extra=$2 out=$3
  shift 3
  # shellcheck disable=SC2086 # flag lists split on purpose
  $cc $static_cflags $extra "$@" $static_ldflags -o "$out"
}

static_build() { # static_build OUTPUT ARGS...
  out=$1
  shift
  if [ -n "${TSBOX_INIT_CC:-}" ]; then
    static_cc "$TSBOX_INIT_CC" "" "$out" "$@"
  elif command -v musl-gcc >/dev/null 2>&1; then
    # musl-gcc searches only musl's headers: give it the kernel's (linux/, asm/, asm-generic/).
    kh=$(dirname "$out")/musl-kernel-headers
    arch=$(gcc -print-multiarch 2>/dev/null || true)
    mkdir -p "$kh"
    ln -sfn /usr/include/linux "$kh/linux"
    ln -sfn /usr/include/asm-generic "$kh/asm-generic"
    if [ -n "$arch" ] && [ -d "/usr/include/$arch/asm" ]; then ln -sfn "/usr/include/$arch/asm" "$kh/asm"; else ln -sfn /usr/include/asm "$kh/asm"; fi
    if ! static_cc musl-gcc "-isystem $kh" "$out" "$@"; then
      echo "$(basename "$out"): musl-gcc failed (above), linking glibc statically instead (slower starts in a VM)" >&2
      static_cc "${CC:-cc}" "" "$out" "$@"
    fi
  else
    echo "$(basename "$out"): musl-gcc not found, linking glibc statically (slower starts in a VM; apt-get install musl-tools)" >&2
    static_cc "${CC:-cc}" "" "$out" "$@"
  fi
}
