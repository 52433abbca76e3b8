#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Where a live profile's samples fall, down to the BPF JIT instruction.

Reads what bench/profile/live-profile.sh leaves in DIR: ips.txt (one sampled
instruction address per line, `perf script -F ip`), kallsyms (a copy of
/proc/kallsyms taken while the programs were loaded) and the prog-ID.bin /
prog-ID.funcs pairs of xdpfw-jit-dump. Prints the share of samples per
symbol, then for each JIT function with at least --min percent its hottest
offsets with the disassembled instructions before them (a sample names the
instruction after the one that stalled, so a hot offset right after a load
is that load's miss). Disassembly: objdump -b binary (binutils).
"""
import argparse
import bisect
import collections
import glob
import os
import re
import subprocess
import sys


def load_symbols(path):
    syms = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                syms.append((int(parts[0], 16), parts[2]))
    syms.sort()
    return syms


def load_funcs(directory):
    """kernel address -> (bin file, image offset, length, symbol)."""
    funcs = {}
    for path in glob.glob(os.path.join(directory, "prog-*.funcs")):
        binary = path[: -len(".funcs")] + ".bin"
        with open(path) as f:
            for line in f:
                image, ksym, length, name = line.split()
                funcs[name] = (binary, int(image, 16), int(length), int(ksym, 16))
    return funcs


def disassemble(binary, start, length, arch):
    """offset within the function -> instruction text."""
    out = subprocess.run(
        ["objdump", "-D", "-b", "binary", "-m", arch,
         f"--start-address={start}", f"--stop-address={start + length}", binary],
        check=True, capture_output=True, text=True).stdout
    insns = {}
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s*(.*)", line)
        if m and m.group(3):
            insns[int(m.group(1), 16) - start] = m.group(3).strip()
    return insns


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--top", type=int, default=25, help="symbols listed")
    ap.add_argument("--min", type=float, default=3.0,
                    help="annotate JIT functions with at least this percent of the samples")
    ap.add_argument("--hot", type=int, default=8, help="hot offsets shown per function")
    ap.add_argument("--arch", default="i386:x86-64", help="objdump -m machine")
    a = ap.parse_args()

    syms = load_symbols(os.path.join(a.dir, "kallsyms"))
    addrs = [s[0] for s in syms]
    funcs = load_funcs(a.dir)
    per_sym = collections.Counter()
    per_off = collections.defaultdict(collections.Counter)
    total = 0
    with open(os.path.join(a.dir, "ips.txt")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            ip = int(line, 16)
            total += 1
            i = bisect.bisect_right(addrs, ip) - 1
            if i < 0:
                per_sym["?"] += 1
                continue
            base, name = syms[i]
            per_sym[name] += 1
            if name in funcs:
                per_off[name][ip - base] += 1
    if not total:
        sys.exit("no samples in ips.txt")
    print(f"{total} samples\n\n| share | symbol |\n|---:|---|")
    for name, n in per_sym.most_common(a.top):
        print(f"| {100 * n / total:.1f}% | {name} |")
    for name, n in per_sym.most_common():
        if name not in funcs or 100 * n / total < a.min:
            continue
        binary, image, length, _ = funcs[name]
        insns = disassemble(binary, image, length, a.arch)
        offsets = sorted(insns)
        print(f"\n{name}: {100 * n / total:.1f}% of all samples, {length} bytes")
        for off, k in per_off[name].most_common(a.hot):
            print(f"  +{off:#06x} {100 * k / total:5.2f}%")
            j = bisect.bisect_left(offsets, off)
            for o in offsets[max(0, j - 3): j + 1]:
                mark = ">" if o == off else " "
                print(f"      {mark} {o:#06x}  {insns[o]}")


if __name__ == "__main__":
    main()
