#!/usr/bin/env bash
# After the test suite: nothing of tsbox may be left on the host (mounts, cgroups, veths, bridge, rules).
set -u
fail=0
left() { echo "check-clean: left behind: $*" >&2; fail=1; }
# tsbox's own, and the default bridge of a client the tests drive (podman's CNI network, which also
# takes tsbox's 10.88.0.0/16): every client run of the tests asks for no network or its own.
links=$(ls /sys/class/net | grep -E '^tsb|^cni-podman' || true)
[ -z "$links" ] || left "network interfaces $links"
# The reference dockerd's veth pairs stranded on the host (both ends here, their bridge gone).
stranded=$(ip -o link show type veth 2>/dev/null | sed -nE 's/^[0-9]+: (veth[0-9a-f]{7})@veth[0-9a-f]{7}:.*/\1/p' | tr '\n' ' ')
[ -z "$stranded" ] || left "veth pairs $stranded"
# The system's programs: under npm, PATH starts with node_modules/.bin, whose `nft` is another program.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
if command -v nft >/dev/null && nft list tables 2>/dev/null | grep -q 'tsbox'; then left "nft table tsbox"; fi
if command -v iptables >/dev/null && iptables -t nat -S 2>/dev/null | grep -q -- '--comment "tsbox '; then left "iptables rules"; fi
if command -v iptables >/dev/null && iptables -S 2>/dev/null | grep -q -- 'TSBOX-ISOLATION'; then left "iptables isolation chains"; fi
if command -v iptables >/dev/null && iptables -S 2>/dev/null | grep -q -- '-N CNI-'; then left "a client's CNI firewall chains"; fi
mounts=$(awk '$5 ~ /tsbox/ {print $5}' /proc/self/mountinfo)
[ -z "$mounts" ] || left "mounts $mounts"
cg=$(find /sys/fs/cgroup -maxdepth 3 -type d \( -name 'tsbox-test-*' -o -name 'tsbox-bench' \) 2>/dev/null)
[ -z "$cg" ] || left "cgroups $cg"
# Zombies are not ours to reap (their parent is the host's init); live processes are.
procs=$(ps -eo pid=,stat=,args= | awk '$2 !~ /^Z/ && /[t]sbox-init|[_]monitor |[_]proxy |[s]lirp4netns.*--api-socket=slirp.sock/ {print $1}')
[ -z "$procs" ] || left "processes $(ps -o pid=,args= -p "$(echo $procs | tr ' ' ,)")"
# A runtime server ends on its own once idle (TSBOX_RUNTIME_IDLE_MS, 3 s by default): that is waited out,
# and one still there after 6 s, or a socket or lock file of one gone, is left behind.
servers() { ps -eo pid=,args= | awk '/[d]ist\/tsbox-runtime.cjs --serve / {print $1}'; }
for _ in $(seq 60); do [ -z "$(servers)" ] && break; sleep 0.1; done
s=$(servers)
[ -z "$s" ] || left "runtime servers $(ps -o pid=,args= -p "$(echo $s | tr ' ' ,)")"
files=$(ls -A /run/tsbox/.runtime 2>/dev/null | tr '\n' ' ')
[ -z "$files" ] || left "runtime server files in /run/tsbox/.runtime: $files"
# The host's own device nodes, as a hostile or careless container setup could change them.
for n in null zero full random urandom tty; do
  m=$(stat -c '%F %a' "/dev/$n" 2>/dev/null)
  [ "$m" = "character special file 666" ] || left "/dev/$n changed: $m"
done
[ $fail -eq 0 ] && echo "check-clean: nothing left behind"
exit $fail
