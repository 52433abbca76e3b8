#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Profiles xdpfw-bench's live path down to the BPF JIT instruction:
#   sudo bench/profile/live-profile.sh [-b BUILD] [-c CPU] [-s SECONDS] [-o DIR] CASES_REGEX
# runs `xdpfw-bench --cases CASES_REGEX --trials 3 --window 2 --cpu CPU`,
# and once its first new xdpfw_main program is loaded (plus 2 s, so a
# specialised program has been swapped in), writes the JIT image of every
# XDP program loaded since (xdpfw-jit-dump), copies /proc/kallsyms and runs
# `perf record -C CPU` for SECONDS; then prints bench/profile/jit_hist.py's
# tables. Profile one case per run: the programs of later cases are not
# dumped. Needs root, perf (linux-perf) and objdump (binutils).
# docs/BENCHMARKS.md, "Profiling the live path".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../../build
cpu=$(($(nproc) - 1))
seconds=5
out=
while getopts "b:c:s:o:" opt; do
    case $opt in
    b) build=$OPTARG ;;
    c) cpu=$OPTARG ;;
    s) seconds=$OPTARG ;;
    o) out=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-b BUILD] [-c CPU] [-s SECONDS] [-o DIR] CASES_REGEX" >&2; exit 2; }
cases=$1
for tool in perf objdump python3; do
    command -v $tool >/dev/null || { echo "$0: needs $tool (apt-get install linux-perf binutils python3)" >&2; exit 1; }
done
for bin in xdpfw-bench xdpfw-jit-dump; do
    [ -x "$build/bench/$bin" ] || { echo "$0: no $build/bench/$bin (cmake --build $build --target $bin)" >&2; exit 1; }
done
out=${out:-$(mktemp -d /tmp/xdpfw-profile.XXXXXX)}
mkdir -p "$out"

# The highest program id now: what the benchmark loads comes after it.
before=$(bpftool prog show 2>/dev/null | awk -F: '/^[0-9]+:/ {m = $1} END {print m + 0}')
"$build/bench/xdpfw-bench" --cases "$cases" --trials 3 --window 2 --cpu "$cpu" \
    --out "$out/bench" >"$out/bench.log" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT
for _ in $(seq 1 1200); do
    bpftool prog show 2>/dev/null | awk -F: -v b="$before" '$1 > b && /name xdpfw_main/ {f = 1} END {exit !f}' && break
    kill -0 $bench 2>/dev/null || { cat "$out/bench.log" >&2; echo "$0: the benchmark ended before an xdpfw program was loaded" >&2; exit 1; }
    sleep 0.05
done
sleep 2
"$build/bench/xdpfw-jit-dump" --after "$before" --out "$out" >"$out/jit-dump.log"
cp /proc/kallsyms "$out/kallsyms"
perf record -q -C "$cpu" -o "$out/perf.data" -- sleep "$seconds" >"$out/perf.log" 2>&1
wait $bench || { cat "$out/bench.log" >&2; exit 1; }
trap - EXIT
perf script -i "$out/perf.data" -F ip >"$out/ips.txt" 2>/dev/null
grep -E '^\| (xdp|xdpfw)' "$out/bench.log" | grep -v '>=' || true
python3 "$here/jit_hist.py" "$out"
echo "profile in $out"
