#!/bin/sh
# Builds the tsbox-runtime client executable (csrc/client/), static like tsbox-init and for the same
# reasons (scripts/static-cc.sh), for CMakeLists.txt and binding.gyp alike:
# scripts/build-client.sh OUTPUT TSBOX_INIT. It embeds the tsbox-init binary TSBOX_INIT
# (csrc/addon/init_blob.S) and clones with the addon's own code (csrc/common/spawn_core.c).
set -eu
out=$1
init=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/static-cc.sh"
static_build "$out" -DTSBOX_INIT_PATH="$init" "$root"/csrc/client/*.c "$root"/csrc/common/*.c "$root"/csrc/init/errname.c "$root"/csrc/addon/init_blob.S
