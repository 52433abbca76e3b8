#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs every Debian package xdpfw needs to build, test and benchmark.
# Idempotent and non-interactive, on Debian 12. Root is needed only to
# install what is missing (apt-get) and to mount bpffs: a normal user with
# everything installed passes, one with packages missing is told which.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config git
  clang llvm lld libelf-dev zlib1g-dev linux-libc-dev
  libbpf-dev libxdp-dev bpftool
  # man pages (cmake/man.cmake) and their rendering test; dpkg-dev: the .deb
  help2man groff-base dpkg-dev
  # C++ libraries
  libboost-dev libboost-system-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhyperscan-dev
  # the tap (lib/tap): pcap files through libpcap; its test decodes them with tshark
  libpcap-dev tshark
  # fleet mode: the etcd client's TLS and digests (OpenSSL), and the real etcd
  # the fleet tests and benchmark start on loopback (docs/FLEET.md)
  libssl-dev etcd-server etcd-client
  # the TLS tests make a throwaway CA and certificates (testing/test_pki.cpp)
  openssl
  # lab, baselines and tests
  iproute2 iputils-ping netcat-openbsd nftables iptables ipset xdp-tools
  python3 python3-scapy tcpdump procps util-linux gnuplot-nox
  # metrics test: the real Prometheus server and promtool. Its postinst asks
  # invoke-rc.d to start the service: under systemd that is prometheus.service
  # on :9090 (the tests use their own ports in their own namespaces); in a
  # container without systemd invoke-rc.d finds no runlevel (or policy-rc.d
  # says 101) and starts nothing, and the install still succeeds.
  prometheus
  # `xdpfwctl capture` tests read its pcapng back (packet comments, 5-tuple)
  tshark
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: missing packages: ${missing[*]}" >&2
    echo "setup.sh: installing them needs root: run scripts/setup.sh as root (or sudo)" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The BPF filesystem holds xdpfw's pins; the root-only tiers and the lab need
# it, and only root can mount it (a normal user runs the unit tier without).
if ! mountpoint -q /sys/fs/bpf; then
  if [[ $(id -u) -eq 0 ]]; then
    mount -t bpf bpf /sys/fs/bpf
  else
    echo "setup.sh: /sys/fs/bpf is not mounted; the bpf, integration and bench tiers need root, which mounts it"
  fi
fi
echo "setup.sh: dependencies ready"
