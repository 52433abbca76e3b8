#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The appliance's main job on its embedded default: installs dependencies,
# builds, creates a veth lab in two network namespaces, puts xdpfw with
# configs/lab.yaml in front of the server, sends real ICMP/UDP/TCP over IPv4
# and IPv6 from the client, and prints what arrived and the per-rule counters.
# Needs root. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target xdpfw-apply

LAB=xdpfwdemo
POLICY=${1:-configs/lab.yaml}
work=$(mktemp -d)
apply_pid=
cleanup() {
  [[ -n $apply_pid ]] && kill "$apply_pid" 2>/dev/null && wait "$apply_pid" 2>/dev/null
  scripts/lab.sh down "$LAB"
  rm -rf "$work"
}
trap cleanup EXIT
scripts/lab.sh up "$LAB"
SRV=(nsenter --net=/var/run/netns/$LAB-srv)
CLI=(nsenter --net=/var/run/netns/$LAB-cli)
T=scripts/lab_traffic.py

"${SRV[@]}" build/controlplane/xdpfw-apply --interface "${LAB}s" --rules "$POLICY" \
  --instance demo --interval 0 >"$work/counters" 2>"$work/log" &
apply_pid=$!
for _ in $(seq 100); do
  grep -q "attached" "$work/log" && break
  kill -0 "$apply_pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
  sleep 0.1
done
sed 's/^/  xdpfw-apply: /' "$work/log"

echo
echo "== traffic from the client namespace to the server (10.77.0.2, fd77::2) =="
line() { printf '  %-52s %s\n' "$1" "$2"; }
replies() { "${CLI[@]}" ping "$@" 2>/dev/null | sed -n 's/.* \([0-9]*\) received.*/\1/p'; }
line "ping 10.77.0.2 x5" "$(replies -c5 -i0.2 -W1 10.77.0.2)/5 replies"
line "ping fd77::2 x5" "$(replies -6 -c5 -i0.2 -W1 fd77::2)/5 replies"
line "ping 10.77.0.2 x3 from 10.77.0.66 (blocklist)" "$(replies -c3 -i0.2 -W1 -I 10.77.0.66 10.77.0.2)/3 replies"
line "ping fd77::2 x3 from fd78::66 (blocklist)" "$(replies -6 -c3 -i0.2 -W1 -I fd78::66 fd77::2)/3 replies"

udp() { # addr port count
  "${SRV[@]}" python3 $T udp-sink "$1" "$2" 1.5 >"$work/sink" &
  local sink=$!
  sleep 0.3
  "${CLI[@]}" python3 $T udp-send "$1" "$2" "$3"
  wait $sink
  line "UDP to [$1]:$2 x$3" "$(cat "$work/sink") received"
}
udp 10.77.0.2 7000 20
udp 10.77.0.2 9000 20
udp fd77::2 7000 20
udp fd77::2 9050 20

tcp() { # addr port
  "${SRV[@]}" python3 $T tcp-listen "$1" "$2" 2.5 &
  local l=$!
  sleep 0.3
  line "TCP connect to [$1]:$2" "$("${CLI[@]}" python3 $T tcp-probe "$1" "$2" 1.5)"
  wait $l
}
tcp 10.77.0.2 8080
tcp 10.77.0.2 22
tcp fd77::2 22

echo
echo "== xdpfw counters (per rule, in evaluation order; per verdict reason) =="
kill -INT "$apply_pid"
wait "$apply_pid" || true
apply_pid=
sed 's/^/  /' "$work/counters"
