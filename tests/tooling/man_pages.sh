#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The generated man pages render (groff, as man does) and xdpfwctl's names
# every top-level subcommand its --help lists, and the --etcd (fleet)
# commands and options its --help lists after them.
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
help=$("$ctl" --help)
subcommands=$(sed -n '/^Subcommands:/,/^$/p' <<<"$help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[[ -n $subcommands ]] || fail "xdpfwctl --help lists no subcommands"
count=0
for sub in $subcommands; do
  grep -Eq "^ +$sub( |$)" <<<"$rendered" || fail "xdpfwctl.1 does not name subcommand $sub"
  count=$((count + 1))
done
for opt in --socket --timeout --version; do
  grep -q -- "$opt" <<<"$rendered" || fail "xdpfwctl.1 does not name $opt"
done
# The fleet commands (a parser of their own, apps/xdpfwctl/fleet_cli.cpp):
# each "COMMAND [SUBCOMMAND]" and each --etcd... option --help lists.
fleet=$(sed -n '/^Fleet commands:/,/^$/p' <<<"$help" | sed -n 's/^  \([a-z]\+\( [a-z]\+\)\?\) .*/\1/p')
[[ $(wc -l <<<"$fleet") -ge 7 ]] || fail "xdpfwctl --help lists no fleet commands: $fleet"
while read -r cmd; do
  grep -Eq "^ +$cmd( |$)" <<<"$rendered" || fail "xdpfwctl.1 does not name fleet command $cmd"
  count=$((count + 1))
done <<<"$fleet"
fleet_opts=$(sed -n '/^Etcd options:/,/^$/p' <<<"$help" | grep -o -- '--etcd[a-z-]*' | sort -u)
for opt in --etcd --etcd-prefix --etcd-user --etcd-password-file --etcd-ca --etcd-cert --etcd-key; do
  grep -qx -- "$opt" <<<"$fleet_opts" || fail "xdpfwctl --help does not list $opt"
  grep -q -- "$opt " <<<"$rendered" || fail "xdpfwctl.1 does not name $opt"
done
echo "man_pages: 3 pages render; xdpfwctl.1 names all $count subcommands and fleet commands"
