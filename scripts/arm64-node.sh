#!/usr/bin/env bash
# Debian's arm64 Node (bookworm's nodejs: Node 18, Node-API 8 and up) in a private root, run under
# qemu-user-static to test the linux-arm64 prebuild (test/prebuilds.test.ts):
#   qemu-aarch64-static -L /opt/tsbox-arm64-node /opt/tsbox-arm64-node/usr/bin/node
# apt cannot install nodejs:arm64 beside this machine's amd64 nodejs (one package name), so its packages
# and their libraries are downloaded with apt-get download and unpacked here (dpkg -x); nothing in them
# is configured or run on the host. Idempotent: redone only when Debian's nodejs version changes.
set -euo pipefail
dest=${TSBOX_ARM64_NODE:-/opt/tsbox-arm64-node}
# nodejs's Depends and libnode108's, for arm64; the node-* ones are JavaScript Debian's Node loads from
# /usr/share/nodejs instead of bundling (it aborts at start without cjs-module-lexer).
arm64=(nodejs libnode108 libc6 libgcc-s1 libstdc++6 libuv1 libicu72 libssl3 libc-ares2 libnghttp2-14 libbrotli1 zlib1g)
all=(node-cjs-module-lexer node-acorn node-undici node-busboy node-xtend)

version=$(apt-cache policy nodejs:arm64 | awk '$1 == "Candidate:" { print $2 }')
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  echo "arm64-node: no nodejs:arm64 in apt's lists (dpkg --add-architecture arm64 && apt-get update)" >&2
  exit 1
fi
if [ "$(cat "$dest/.version" 2>/dev/null)" = "$version" ] && [ -x "$dest/usr/bin/node" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "arm64-node: need root to write $dest" >&2; exit 1; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$dest.new"' EXIT
mkdir "$tmp/debs"
if ! (cd "$tmp/debs" && apt-get download -qq -o APT::Sandbox::User=root "${arm64[@]/%/:arm64}" "${all[@]}") 2>"$tmp/log"; then
  cat "$tmp/log" >&2
  echo "arm64-node: apt-get download failed (above)" >&2
  exit 1
fi
rm -rf "$dest.new"
mkdir -p "$dest.new"
for deb in "$tmp"/debs/*.deb; do dpkg -x "$deb" "$dest.new"; done
echo "$version" > "$dest.new/.version"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "arm64-node: Debian's arm64 nodejs $version in $dest"
