#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs every Debian package xdpfw needs to build, test and benchmark.
# Idempotent and non-interactive; run as root on Debian 12.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config git
  clang llvm lld libelf-dev zlib1g-dev linux-libc-dev
  libbpf-dev libxdp-dev bpftool
  # C++ libraries
  libboost-dev libboost-system-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhyperscan-dev
  # lab, baselines and tests
  iproute2 iputils-ping netcat-openbsd nftables iptables xdp-tools
  python3 python3-scapy tcpdump procps util-linux gnuplot-nox
)

if [[ $(id -u) -ne 0 ]]; then
  echo "setup.sh: must run as root (apt-get, bpffs)" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The BPF filesystem holds xdpfw's pins; the tests and the lab need it.
if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
echo "setup.sh: dependencies ready"
