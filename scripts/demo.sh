#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The appliance's main job on its embedded default: installs dependencies,
# builds, creates a veth lab in two network namespaces, starts xdpfwd with
# configs/lab.yaml in front of the server, sends real ICMP/UDP/TCP over IPv4
# and IPv6 from the client, changes the policy live with xdpfwctl, and shows
# what arrived, the counters and the commit history. Needs root. Leaves
# nothing behind (xdpfwctl detach removes the program and its pins).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target xdpfwd xdpfwctl

LAB=xdpfwdemo
POLICY=${1:-configs/lab.yaml}
work=$(mktemp -d)
daemon_pid=
SRV=(nsenter --net=/var/run/netns/$LAB-srv)
CLI=(nsenter --net=/var/run/netns/$LAB-cli)
T=scripts/lab_traffic.py
ctl() { build/bin/xdpfwctl --socket "$work/xdpfwd.sock" "$@"; }

cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    ctl detach >/dev/null 2>&1 || kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  scripts/lab.sh down "$LAB"
  rm -rf "$work"
}
trap cleanup EXIT
scripts/lab.sh up "$LAB"

"${SRV[@]}" build/bin/xdpfwd --instance demo --interface "${LAB}s" \
  --rules "$POLICY" --socket "$work/xdpfwd.sock" --state-dir "$work/state" \
  2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 100); do
  ctl status >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.1
done
echo "== xdpfwctl status =="
ctl status | sed 's/^/  /'

line() { printf '  %-52s %s\n' "$1" "$2"; }
replies() { "${CLI[@]}" ping "$@" 2>/dev/null | sed -n 's/.* \([0-9]*\) received.*/\1/p'; }
udp() { # addr port count
  "${SRV[@]}" python3 $T udp-sink "$1" "$2" 1.5 >"$work/sink" &
  local sink=$!
  sleep 0.3
  "${CLI[@]}" python3 $T udp-send "$1" "$2" "$3"
  wait $sink
  line "UDP to [$1]:$2 x$3" "$(cat "$work/sink") received"
}
tcp() { # addr port
  "${SRV[@]}" python3 $T tcp-listen "$1" "$2" 2.5 &
  local l=$!
  sleep 0.3
  line "TCP connect to [$1]:$2" "$("${CLI[@]}" python3 $T tcp-probe "$1" "$2" 1.5)"
  wait $l
}

echo
echo "== traffic from the client namespace to the server (10.77.0.2, fd77::2) =="
line "ping 10.77.0.2 x5" "$(replies -c5 -i0.2 -W1 10.77.0.2)/5 replies"
line "ping fd77::2 x5" "$(replies -6 -c5 -i0.2 -W1 fd77::2)/5 replies"
line "ping 10.77.0.2 x3 from 10.77.0.66 (blocklist)" "$(replies -c3 -i0.2 -W1 -I 10.77.0.66 10.77.0.2)/3 replies"
line "ping fd77::2 x3 from fd78::66 (blocklist)" "$(replies -6 -c3 -i0.2 -W1 -I fd78::66 fd77::2)/3 replies"
udp 10.77.0.2 7000 20
udp 10.77.0.2 9000 20
udp fd77::2 7000 20
udp fd77::2 9050 20
tcp 10.77.0.2 8080
tcp 10.77.0.2 22
tcp fd77::2 22

echo
echo "== a live change: xdpfwctl rule add priority=5 proto=udp dport=7000 src=10.77.0.0/24 action=drop =="
id=$(ctl rule add priority=5 proto=udp dport=7000 src=10.77.0.0/24 action=drop)
line "new rule id" "$id"
udp 10.77.0.2 7000 20
udp fd77::2 7000 20
ctl rule del "$id" >/dev/null
line "xdpfwctl rule del $id" "done"
udp 10.77.0.2 7000 20

echo
echo "== xdpfwctl stats (per rule in evaluation order; per verdict reason) =="
ctl stats | sed 's/^/  /'
echo
echo "== xdpfwctl history =="
ctl history | sed 's/^/  /'
echo
echo "== xdpfwctl detach =="
ctl detach | sed 's/^/  /'
wait "$daemon_pid" || true
daemon_pid=
