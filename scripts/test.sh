#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Installs missing dependencies, builds xdpfw and runs every test tier (unit,
# bpf, integration, bench), one ctest per GoogleTest case. The bpf,
# integration and bench tiers need root (BPF, network namespaces); the unit
# tier runs as a normal user. Extra arguments go to ctest, e.g.
# `scripts/test.sh -L unit` or `scripts/test.sh -R 'Classifier\.'`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# Which tiers the arguments select: only `-L unit` needs no root.
unit_only=false
[[ " $* " =~ [[:space:]]-L[[:space:]]*unit[[:space:]] ]] && unit_only=true
if [[ $(id -u) -ne 0 && $unit_only == false ]]; then
  echo "test.sh: not root: the bpf, integration and bench tiers need root" \
       "(CAP_BPF, CAP_NET_ADMIN); their cases are skipped or fail. Run as root," \
       "or only the unit tier: scripts/test.sh -L unit"
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure --timeout 1800 "$@"
