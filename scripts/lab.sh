#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The veth lab: two network namespaces joined by a veth pair.
#   <prefix>-cli  (veth <prefix>c)  10.77.0.1/24 10.77.0.66/24 fd77::1/64 fd78::66/128
#   <prefix>-srv  (veth <prefix>s)  10.77.0.2/24 fd77::2/64   <- xdpfw attaches here
# The client's "bad" IPv6 address lives in its own prefix (routed through the
# client): on the shared /64 the kernel may send neighbor solicitations from
# it, and a policy that blocks it would then break IPv6 for the whole host.
# Usage: lab.sh up PREFIX | lab.sh down PREFIX. Touches nothing outside them.
set -euo pipefail

cmd=${1:?usage: lab.sh up|down PREFIX}
p=${2:?usage: lab.sh up|down PREFIX}

down() {
  ip netns del "$p-cli" 2>/dev/null || true
  ip netns del "$p-srv" 2>/dev/null || true
}

up() {
  down
  ip netns add "$p-cli"
  ip netns add "$p-srv"
  ip link add "${p}c" netns "$p-cli" type veth peer name "${p}s" netns "$p-srv"
  nsc() { ip -n "$p-cli" "$@"; }
  nss() { ip -n "$p-srv" "$@"; }
  nsc link set lo up
  nss link set lo up
  nsc addr add 10.77.0.1/24 dev "${p}c"
  nsc addr add 10.77.0.66/24 dev "${p}c"
  nsc -6 addr add fd77::1/64 dev "${p}c" nodad
  nsc -6 addr add fd78::66/128 dev "${p}c" nodad
  nss addr add 10.77.0.2/24 dev "${p}s"
  nss -6 addr add fd77::2/64 dev "${p}s" nodad
  nsc link set "${p}c" up
  nss link set "${p}s" up
  nss -6 route add fd78::/64 via fd77::1 dev "${p}s"
}

case $cmd in
  up) up ;;
  down) down ;;
  *) echo "lab.sh: unknown command $cmd (up|down)" >&2; exit 2 ;;
esac
