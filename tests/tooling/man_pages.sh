#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The generated man pages render (groff, as man does) and xdpfwctl's names
# every top-level subcommand its --help lists.
# Usage: man_pages.sh MAN_DIR XDPFWCTL
set -euo pipefail
man_dir=$1 ctl=$2
fail() { echo "man_pages: $*" >&2; exit 1; }

for page in xdpfwd.8 xdpfwctl.1 xdpfw-apply.8; do
  [[ -s $man_dir/$page ]] || fail "$man_dir/$page missing or empty"
  # groff's warnings (-ww) on stderr become failures: a page man would show badly.
  text=$(groff -man -Tutf8 -ww -z "$man_dir/$page" 2>&1) || fail "$page: groff failed"
  [[ -z $text ]] || fail "$page: groff warns: $text"
  rendered=$(groff -man -Tutf8 "$man_dir/$page" 2>/dev/null | sed 's/.\x08//g')
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS "SEE ALSO"; do
    grep -q "^$section" <<<"$rendered" || fail "$page has no $section section"
  done
  name=${page%.*}
  grep -q "$name [0-9]" <<<"$rendered" || fail "$page does not show $name's version"
done

rendered=$(groff -man -Tutf8 "$man_dir/xdpfwctl.1" 2>/dev/null | sed 's/.\x08//g')
subcommands=$("$ctl" --help | sed -n '/^Subcommands:/,$p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[[ -n $subcommands ]] || fail "xdpfwctl --help lists no subcommands"
count=0
for sub in $subcommands; do
  grep -Eq "^ +$sub( |$)" <<<"$rendered" || fail "xdpfwctl.1 does not name subcommand $sub"
  count=$((count + 1))
done
for opt in --socket --timeout --version; do
  grep -q -- "$opt" <<<"$rendered" || fail "xdpfwctl.1 does not name $opt"
done
echo "man_pages: 3 pages render; xdpfwctl.1 names all $count subcommands"
