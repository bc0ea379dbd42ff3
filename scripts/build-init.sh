#!/bin/sh
# Builds tsbox-init, the static binary every container starts as pid 1, for CMakeLists.txt and
# binding.gyp alike: scripts/build-init.sh OUTPUT. The compiler's choice: scripts/static-cc.sh.
set -eu
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/static-cc.sh"
static_build "$out" "$root"/csrc/init/*.c
