#!/usr/bin/env bash
# Installs what tsbox needs to build and test on a fresh Debian machine, then builds it.
# Idempotent: apt runs only for packages that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake make gcc g++ libc6-dev libseccomp-dev   # native build (addon, libseccomp)
  musl-tools                                    # tsbox-init linked with musl (scripts/build-init.sh)
  gperf dpkg-dev                                # libseccomp built with musl (scripts/libseccomp-musl.sh)
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross   # the linux-arm64 prebuild (scripts/prebuild.sh)
  libseccomp-dev:arm64                          #   (multiarch, added below)
  qemu-user-static                              # its test: Debian's arm64 Node under emulation
  busybox-static                                # test rootfs
  docker-registry apache2-utils openssl skopeo umoci zstd attr  # image tests: real registry, htpasswd, tokens
  iproute2 nftables iptables                    # networking
  procps util-linux bsdutils uidmap             # ps, nsenter/unshare/mount, script, newuidmap/newgidmap (rootless)
  slirp4netns                                   # rootless user-mode networking
  containerd podman conmon docker.io buildah    # interop tests: real clients of the runtime
  docker-compose                                #   compose against the Engine API server
  golang-go                                     # Go's own output as the reference (time formats)
  runc crun bubblewrap                          # benchmark peers
)
# The arm64 libseccomp.a comes from Debian's arm64 packages, installed beside the amd64 ones.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to add the arm64 architecture (dpkg --add-architecture arm64)" >&2; exit 1; fi
  dpkg --add-architecture arm64
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# docker-registry's package starts a system service on :5000; tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
# docker.io's package starts dockerd (and its socket) too: the Docker tests start a private one.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true; fi
# A cgroup v1 hierarchy the kernel keeps with nothing mounting it (one unmounted after use lives on
# until reboot) still appears in every /proc/PID/cgroup; containerd then cannot load any container's
# cgroup. Mount each such hierarchy where systemd mounts them on a v1 or hybrid host.
if [ "$(id -u)" -eq 0 ] && [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ]; then
  while IFS=: read -r hid ctrls _; do
    [ "$hid" != 0 ] && [ -n "$ctrls" ] || continue
    first=${ctrls%%,*}
    awk -v c="$first" '$(NF-2) == "cgroup" { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) f = 1 } END { exit !f }' /proc/self/mountinfo && continue
    name=${ctrls#name=}
    opts=$ctrls; [ "$name" = "$ctrls" ] || opts="none,$ctrls"
    mkdir -p "/sys/fs/cgroup/$name"
    mount -t cgroup -o "$opts" cgroup "/sys/fs/cgroup/$name"
    echo "setup: mounted the cgroup v1 hierarchy $ctrls at /sys/fs/cgroup/$name"
  done < /proc/self/cgroup
  # A controller left on cgroup2 (a fresh VM of this kind has hugetlb there) gets a v1 hierarchy of its
  # own, as systemd lays out a hybrid host: crun, the tests' reference, refuses a hybrid host whose
  # cgroup2 mount holds controllers. tsbox runs either way.
  unified=/sys/fs/cgroup/unified/cgroup.controllers
  if [ -f "$unified" ]; then
    for c in $(cat "$unified"); do
      [ -e "/sys/fs/cgroup/$c" ] && continue
      mkdir "/sys/fs/cgroup/$c"
      if mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"; then
        echo "setup: mounted the cgroup v1 hierarchy $c at /sys/fs/cgroup/$c (cgroup2 held it)"
      else
        rmdir "/sys/fs/cgroup/$c"
      fi
    done
  fi
fi

bash scripts/arm64-node.sh

npm ci --no-audit --no-fund
npm run compile
