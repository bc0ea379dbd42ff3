#!/usr/bin/env bash
# Builds the addons the package ships, from one Debian x64 machine (scripts/setup.sh installs the tools):
#   prebuilds/linux-x64/node.napi.glibc.node    glibc 2.28 or newer: the native build (build/Release)
#   prebuilds/linux-x64/node.napi.musl.node     musl (Alpine): musl-gcc, libseccomp built with musl
#   prebuilds/linux-arm64/node.napi.glibc.node  glibc 2.28 or newer: gcc-aarch64-linux-gnu, libseccomp-dev:arm64
#   prebuilds/linux-<arch>/tsbox-runtime        the runtime's client executable (static: musl on x64, glibc on arm64)
# Each embeds a tsbox-init for its own architecture. Builds are incremental (a build directory each under
# build/), so a second run only checks. Each result is checked before it is copied: no glibc symbol
# version newer than 2.28, and the musl one needs no glibc at all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
max_glibc=2.28

if [ "$(uname -m)" != x86_64 ]; then
  echo "prebuild: builds from linux x64 (this is $(uname -m)); a source build (npm run build:native) serves this machine" >&2
  exit 1
fi
cmakejs=(node "$root/node_modules/cmake-js/bin/cmake-js" compile --release --log-level warn)

# Each GLIBC-versioned symbol of an ELF file (objdump -T) as "VERSION SYMBOL".
glibc_symbols() { # glibc_symbols OBJDUMP FILE
  "$1" -T "$2" | awk 'match($0, /GLIBC_[0-9.]+/) { print substr($0, RSTART + 6, RLENGTH - 6), $NF }' | sort -uV
}
newer() { [ "$(printf '%s\n%s\n' "$1" "$max_glibc" | sort -V | tail -n 1)" != "$max_glibc" ]; }
# Every version the file requires (objdump -p, "Version References"): also those no symbol names, such
# as GLIBC_ABI_DT_RELR, which a newer linker adds for packed relocations.
version_refs() { # version_refs OBJDUMP FILE
  "$1" -p "$2" | awk '/^Version References:/ { f = 1; next } f && $1 ~ /^0x/ && NF == 4 { print $4 }' | sort -u
}

# Strips BUILT into prebuilds/DEST, replacing DEST only when that changes it.
ship() { # ship STRIP BUILT DEST
  local dest=prebuilds/$3
  mkdir -p "$(dirname "$dest")"
  "$1" --strip-unneeded -o "$dest.tmp" "$2"
  if cmp -s "$dest.tmp" "$dest"; then rm "$dest.tmp"; else mv "$dest.tmp" "$dest" && echo "prebuild: $dest"; fi
}

check_glibc() { # check_glibc OBJDUMP FILE
  local bad
  bad=$(glibc_symbols "$1" "$2" | while read -r ver sym; do if newer "$ver"; then echo "  $sym@GLIBC_$ver"; fi; done
        version_refs "$1" "$2" | while read -r ref; do
          case $ref in GLIBC_[0-9]*) if newer "${ref#GLIBC_}"; then echo "  (version) $ref"; fi ;; *) echo "  (version) $ref" ;; esac
        done)
  if [ -n "$bad" ]; then
    printf 'prebuild: %s needs symbols newer than GLIBC_%s (pin them in csrc/addon/glibc_compat.h or replace them in glibc_compat.c):\n%s\n' "$2" "$max_glibc" "$bad" >&2
    exit 1
  fi
  [ -n "$(glibc_symbols "$1" "$2")" ] || { echo "prebuild: $2 has no GLIBC symbols: not a glibc build?" >&2; exit 1; }
}

# The client executable runs wherever the package does: no dynamic loader, no shared library.
static_only() { # static_only FILE
  if readelf -l "$1" | grep -q INTERP || readelf -d "$1" 2>/dev/null | grep -q NEEDED; then
    echo "prebuild: $1 is not a static executable" >&2
    exit 1
  fi
}

# linux-x64, glibc: the native build itself (npm run compile made it; this is a no-op then).
"${cmakejs[@]}"
check_glibc objdump build/Release/tsbox.node
ship strip build/Release/tsbox.node linux-x64/node.napi.glibc.node
static_only build/Release/tsbox-runtime
ship strip build/Release/tsbox-runtime linux-x64/tsbox-runtime

# linux-x64, musl.
bash scripts/libseccomp-musl.sh build/deps/libseccomp-musl-x64
"${cmakejs[@]}" --out build/prebuild-linux-x64-musl --cc musl-gcc \
  --CDTSBOX_SECCOMP_PREFIX="$root/build/deps/libseccomp-musl-x64"
musl=build/prebuild-linux-x64-musl/Release/tsbox.node
if readelf -d "$musl" | grep NEEDED | grep -v -E '\[(libc\.so|libc\.musl-x86_64\.so\.1)\]' >&2 || objdump -T "$musl" | grep -q GLIBC_; then
  echo "prebuild: $musl needs more than musl's libc (above)" >&2
  exit 1
fi
ship strip "$musl" linux-x64/node.napi.musl.node

# linux-arm64, glibc: cross-built; tsbox-init with static glibc (CMakeLists.txt: no musl cross compiler).
"${cmakejs[@]}" --out build/prebuild-linux-arm64-glibc --CDCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-linux-gnu.cmake"
arm64=build/prebuild-linux-arm64-glibc/Release/tsbox.node
check_glibc aarch64-linux-gnu-objdump "$arm64"
ship aarch64-linux-gnu-strip "$arm64" linux-arm64/node.napi.glibc.node
static_only build/prebuild-linux-arm64-glibc/Release/tsbox-runtime
ship aarch64-linux-gnu-strip build/prebuild-linux-arm64-glibc/Release/tsbox-runtime linux-arm64/tsbox-runtime
