#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
# Checks that every project #include points down the layer order
# (docs/ARCHITECTURE.md, "Layers"): exits 1 naming file:line and the edge of
# each include that points up or sideways, 0 when there is none.
#
#   scripts/check_layers.py [ROOT]     ROOT: the source tree (default: this repo)
import os
import re
import sys

# Lowest first. Folders on one line are siblings: each may include the lines
# above it, its own folder, but not its sibling. lib/tables and lib/protocol
# are listed before they exist so that their place is fixed.
ORDER = [
    ["lib/abi"],
    ["lib/base"],
    ["lib/model"],
    ["lib/lang", "lib/reference"],
    ["lib/tables"],
    ["lib/compiler"],
    ["lib/kernel", "lib/inspect"],
    ["lib/xsk", "lib/tap"],
    ["lib/protocol"],
    ["lib/store"],
    ["lib/control"],
    ["lib/metrics", "lib/fleet"],
    ["apps"],  # each program is its own folder: apps/<name>
]
RANK = {folder: rank for rank, line in enumerate(ORDER) for folder in line}
TOP = len(ORDER)

# Test and benchmark code may use every library and program; what it may
# include besides (lib/ and apps/ include none of these).
EXTRA = {
    "testing": {"testing"},
    "bench": {"testing", "bench"},
    "tests": {"testing", "bench", "tests"},
}
SCANNED = ("lib", "apps", "testing", "bench", "tests")
SOURCE = re.compile(r"\.(c|cc|cpp|h|hpp)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"((?:lib|apps|testing|tests|bench)/[^"]*)"')


def unit(path):
    """The folder an include or a source file belongs to: lib/<x>, apps/<x>,
    or the top folder (testing, bench, tests)."""
    parts = path.split("/")
    if parts[0] in ("lib", "apps") and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0]


def rank(u):
    if u.startswith("apps/"):
        return RANK["apps"]
    return RANK.get(u)


def problem(src, dst):
    """Why src may not include dst, or None when it may."""
    if src == dst:
        return None
    top_src, top_dst = src.split("/")[0], dst.split("/")[0]
    if top_src in EXTRA:
        if top_dst in ("lib", "apps") or top_dst in EXTRA[top_src]:
            return None
        return f"{top_src}/ may not include {top_dst}/"
    if top_dst in EXTRA:
        return f"{top_src}/ may not include {top_dst}/ (test and benchmark code)"
    rs, rd = rank(src), rank(dst)
    if rs is None:
        return f"{src} is not in the layer order (scripts/check_layers.py, ORDER)"
    if rd is None:
        return f"{dst} is not in the layer order (scripts/check_layers.py, ORDER)"
    if rd > rs:
        return f"{dst} is a higher layer than {src}"
    if rd == rs:
        return f"{src} and {dst} are siblings of one layer"
    return None


def check(root):
    errors = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if not SOURCE.search(name):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                src = unit(rel)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        dst = unit(m.group(1))
                        why = problem(src, dst)
                        if why:
                            errors.append(f"{rel}:{lineno}: {src} -> {dst}: {why}")
    return errors


def main(argv):
    if len(argv) > 2:
        print("usage: check_layers.py [ROOT]", file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(__file__), "..")
    if not os.path.isdir(os.path.join(root, "lib")):
        print(f"check_layers.py: {root} has no lib/ folder", file=sys.stderr)
        return 2
    errors = check(root)
    for e in errors:
        print(e)
    if errors:
        print(f"check_layers.py: {len(errors)} include(s) against the layer order "
              "(docs/ARCHITECTURE.md, \"Layers\")", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
