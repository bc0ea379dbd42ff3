#!/usr/bin/env bash
# Builds libseccomp with musl (static, position-independent) for the musl prebuilt addon:
# scripts/libseccomp-musl.sh PREFIX leaves PREFIX/lib/libseccomp.a and PREFIX/include (seccomp.h and
# links to the kernel's headers, which musl-gcc does not search). Nothing is installed system-wide.
# The source is Debian's own package (the version, patches and signatures of the libseccomp-dev the glibc
# builds link), fetched with apt-get source through a private apt state made from this machine's own
# sources: deb-src entries need not be configured. Needs musl-gcc, gperf, dpkg-source (dpkg-dev).
set -euo pipefail
prefix=$(realpath -m "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
deps=$root/build/deps
version=$(dpkg-query -W -f='${Version}' "libseccomp-dev:$(dpkg --print-architecture)" 2>/dev/null || true)
[ -n "$version" ] || { echo "libseccomp-musl: libseccomp-dev is not installed (scripts/setup.sh)" >&2; exit 1; }
stamp=$prefix/.version
if [ -f "$prefix/lib/libseccomp.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then exit 0; fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
quiet() { "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "libseccomp-musl: failed: $*" >&2; return 1; }; }
for tool in musl-gcc gperf dpkg-source; do
  command -v "$tool" >/dev/null || { echo "libseccomp-musl: $tool not found (scripts/setup.sh installs it)" >&2; exit 1; }
done

# The source package, once per version.
src=$deps/libseccomp-src/$version
if [ ! -f "$src/.fetched" ]; then
  apt=$deps/apt
  rm -rf "$apt" "$src"
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$src"
  # Each binary source of this machine (one-line or deb822 format), as a source-package one.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^deb \(.*\)/deb-src \1/p' "$f"
  done > "$apt/sources.list.d/src.list"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" > "$apt/sources.list.d/$(basename "$f")"
  done
  opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
  quiet apt-get "${opts[@]}" update
  # apt checks the .dsc against the signed index, dpkg-source the tarballs against the .dsc.
  (cd "$src" && quiet apt-get "${opts[@]}" source --download-only "libseccomp=$version")
  (cd "$src" && quiet dpkg-source -x "$(ls libseccomp_*.dsc)" tree)
  touch "$src/.fetched"
fi

# Build out of the source tree, so a failed build leaves the fetched tree as it was.
work=$deps/libseccomp-musl-build
rm -rf "$work" "$prefix"
cp -a "$src/tree" "$work"
mkdir -p "$prefix/include"
# musl-gcc searches only musl's headers: give it the kernel's (linux/, asm/, asm-generic/).
arch=$(gcc -print-multiarch)
ln -sfn /usr/include/linux "$prefix/include/linux"
ln -sfn /usr/include/asm-generic "$prefix/include/asm-generic"
ln -sfn "/usr/include/$arch/asm" "$prefix/include/asm"
(
  cd "$work"
  quiet env CC=musl-gcc CFLAGS="-O2 -fPIC -fstack-protector-strong -isystem $prefix/include" \
    ./configure --host="${arch%%-*}-linux-musl" --prefix="$prefix" --enable-static --disable-shared
  quiet make -j"$(nproc)" -C src install-libLTLIBRARIES
  quiet make -C include install
)
rm -rf "$work" "$prefix/lib/libseccomp.la" "$prefix/lib/pkgconfig"
echo "$version" > "$stamp"
echo "libseccomp-musl: built libseccomp $version with musl in $prefix"
