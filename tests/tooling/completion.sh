#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The bash completion of xdpfwctl (dist/bash-completion/xdpfwctl): sourced in
# bash, its function completes a few command lines as an operator types them.
# Set names come from a stand-in xdpfwctl that answers `set list --json`
# like the daemon would; every subcommand of the real --help is offered.
# Usage: completion.sh COMPLETION_SCRIPT XDPFWCTL
set -uo pipefail
script=$1 ctl=$2
failures=0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A stand-in client: `set list --json` answers two sets, anything else fails
# (as when no daemon runs).
cat >"$tmp/fakectl" <<'FAKE'
#!/bin/sh
case "$*" in
*"set list --json"*) echo '{"sets":[{"name":"blocked","size":3},{"name":"office","size":1}]}' ;;
*) exit 2 ;;
esac
FAKE
chmod +x "$tmp/fakectl"
# A daemon on this machine must not answer the `xdpfwctl` lines below.
export XDPFW_SOCKET=$tmp/none.sock

# shellcheck source=/dev/null
source "$script" || { echo "completion: cannot source $script"; exit 1; }
complete -p xdpfwctl >/dev/null || { echo "completion: xdpfwctl has no completion"; exit 1; }

# expect "COMMAND LINE" WORD...: completing the line's last word (empty when
# the line ends in a space) offers exactly WORD... (sorted).
expect()
{
    local line=$1
    shift
    read -r -a COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    _xdpfwctl
    local got want
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | xargs)
    want=$(printf '%s\n' "$@" | sort | xargs)
    if [[ $got != "$want" ]]; then
        echo "FAIL '$line': got [$got], want [$want]"
        failures=$((failures + 1))
    else
        echo "ok   '$line' -> [$got]"
    fi
}

expect "xdpfwctl st" status stats
expect "xdpfwctl rule " add del replace list
expect "xdpfwctl rule replace 3 c" comment= ct=
expect "xdpfwctl rule add proto=udp l" limit=
expect "xdpfwctl rule add d" dport= dst=
expect "xdpfwctl rule add src=10.0.0.0/8 ac" action=
expect "xdpfwctl rule add src=10.0.0.0/8 i" iif= icmp_type= icmp_code=
expect "xdpfwctl set " create add del load list
expect "xdpfwctl stats --w" --watch
expect "xdpfwctl history --l" --limit
expect "xdpfwctl tap -i lo d" dport= dst=
expect "xdpfwctl tap --d" --duration
expect "xdpfwctl --socket /tmp/x.sock rule l" list
expect "$tmp/fakectl set add " blocked office
expect "$tmp/fakectl set list o" office
# No daemon: no set names, and no error.
expect "xdpfwctl set add " 

# Every subcommand xdpfwctl --help lists is offered after `xdpfwctl `.
read -r -a COMP_WORDS <<<"xdpfwctl"
COMP_WORDS+=("")
COMP_CWORD=1
COMPREPLY=()
_xdpfwctl
subcommands=$("$ctl" --help | sed -n '/^Subcommands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
for sub in $subcommands; do
    if ! printf '%s\n' "${COMPREPLY[@]}" | grep -qx "$sub"; then
        echo "FAIL 'xdpfwctl ': subcommand $sub (from --help) not offered"
        failures=$((failures + 1))
    fi
done

if ((failures)); then
    echo "completion: $failures failed"
    exit 1
fi
echo "completion: all passed"
