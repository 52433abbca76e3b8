#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Drives the kernel's packet generator (/proc/net/pktgen) on a real NIC with
# the flow options of xdpfw-pktgen. Where the pktgen module is missing (it is
# not built on every kernel), use xdpfw-pktgen instead: exit code 2 says so.
#
# Usage: pktgen.sh --dev IF [--src-mac MAC] [--dst-mac MAC] [--family 4|6]
#          [--src A[-B]] [--dst A[-B]] [--sport P[-Q]] [--dport P[-Q]]
#          [--proto udp] [--vlan VID] [--size BYTES]
#          (--count N | --duration SECONDS) [--rate PPS] [--cpu N]
#          [--threads N] [--random] [--json] [--dry-run]
# --size is the frame size without FCS (pktgen's pkt_size), VLAN tag included.
# --rate is the total over all threads (pgset delay per thread).
# --cpu N uses the pktgen threads kpktgend_N .. kpktgend_{N+threads-1}, which
# the kernel runs on CPUs N ... Ranges rotate sequentially, one step per
# packet, like xdpfw-pktgen; --random picks uniformly in each range instead.
# IPv6 follows pktgen's own rules: one source address, and a destination
# range is random (bits of the first set, bits outside the last clear).
# --dry-run prints the pgset commands ("file: command") without running them.
# PKTGEN_PROC overrides /proc/net/pktgen (tests).
set -euo pipefail

PGDIR=${PKTGEN_PROC:-/proc/net/pktgen}
prog=pktgen.sh

die() { echo "$prog: $*" >&2; exit 1; }

dev='' src_mac='' dst_mac='ff:ff:ff:ff:ff:ff' family='' src='' dst=''
sport='' dport='' proto=udp vlan='' size='' count='' duration='' rate=0
cpu=0 threads=1 random=0 json=0 dry=0

need() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --dev) need "$@"; dev=$2; shift 2 ;;
    --src-mac) need "$@"; src_mac=$2; shift 2 ;;
    --dst-mac) need "$@"; dst_mac=$2; shift 2 ;;
    --family) need "$@"; family=$2; shift 2 ;;
    --src) need "$@"; src=$2; shift 2 ;;
    --dst) need "$@"; dst=$2; shift 2 ;;
    --sport) need "$@"; sport=$2; shift 2 ;;
    --dport) need "$@"; dport=$2; shift 2 ;;
    --proto) need "$@"; proto=$2; shift 2 ;;
    --tcp-flags) die "--tcp-flags: the kernel pktgen sends UDP only; use xdpfw-pktgen" ;;
    --vlan) need "$@"; vlan=$2; shift 2 ;;
    --size) need "$@"; size=$2; shift 2 ;;
    --count) need "$@"; count=$2; shift 2 ;;
    --duration) need "$@"; duration=$2; shift 2 ;;
    --rate) need "$@"; rate=$2; shift 2 ;;
    --cpu) need "$@"; cpu=$2; shift 2 ;;
    --threads) need "$@"; threads=$2; shift 2 ;;
    --random) random=1; shift ;;
    --json) json=1; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (--help lists them)" ;;
  esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
is_ipv4() {
  local IFS=. o
  [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
  for o in $1; do ((10#$o <= 255)) || return 1; done
}
is_ipv6() { [[ $1 == *:* && $1 =~ ^[0-9a-fA-F:.]+$ ]]; }
is_mac() { [[ $1 =~ ^([0-9a-fA-F]{1,2}:){5}[0-9a-fA-F]{1,2}$ ]]; }
ipv4_num() { local IFS=. a b c d; read -r a b c d <<<"$1"; echo $(((10#$a << 24) | (10#$b << 16) | (10#$c << 8) | 10#$d)); }

[[ -n $dev ]] || die "--dev IF is required"
[[ $proto == udp ]] || die "--proto $proto: the kernel pktgen sends UDP only; use xdpfw-pktgen"
[[ -n $count || -n $duration ]] || die "give --count N or --duration SECONDS"
[[ -z $count || -z $duration ]] || die "--count and --duration exclude each other"
if [[ -n $count ]]; then
  if ! { is_uint "$count" && ((count > 0)); }; then die "--count $count: must be a positive integer"; fi
fi
if [[ -n $duration ]]; then
  if ! [[ $duration =~ ^[0-9]+(\.[0-9]+)?$ ]] || [[ $duration =~ ^0+(\.0+)?$ ]]; then
    die "--duration $duration: must be more than 0 seconds"
  fi
fi
is_uint "$rate" || die "--rate $rate: must be packets per second (0 = full speed)"
is_uint "$cpu" || die "--cpu $cpu: not a CPU number"
if ! { is_uint "$threads" && ((threads >= 1)); }; then die "--threads $threads: must be at least 1"; fi
[[ -z $size ]] || is_uint "$size" || die "--size $size: not a byte count"
[[ -z $src_mac ]] || is_mac "$src_mac" || die "--src-mac $src_mac: not a MAC address (aa:bb:cc:dd:ee:ff)"
is_mac "$dst_mac" || die "--dst-mac $dst_mac: not a MAC address (aa:bb:cc:dd:ee:ff)"
if [[ -n $vlan ]]; then
  if ! { is_uint "$vlan" && ((vlan <= 4095)); }; then die "--vlan $vlan: VLAN ids are 0..4095"; fi
fi

# Family: given, or from the addresses, else 4. Defaults are benchmarking
# addresses (RFC 2544 / RFC 5180), as in xdpfw-pktgen.
if [[ -z $family ]]; then
  family=4
  [[ $src == *:* || $dst == *:* ]] && family=6
fi
[[ $family == 4 || $family == 6 ]] || die "--family $family: must be 4 or 6"
if [[ $family == 4 ]]; then
  : "${src:=198.18.0.1}" "${dst:=198.19.0.1}"
else
  : "${src:=2001:2::1}" "${dst:=2001:2::2}"
fi

# range OPTION TEXT -> "first last" (checked for the family, first <= last)
range() {
  local opt=$1 text=$2 a b
  a=${text%%-*}
  b=${text#*-}
  [[ $text == *-* ]] || b=$a
  if [[ $family == 4 ]]; then
    if ! { is_ipv4 "$a" && is_ipv4 "$b"; }; then
      die "$opt $text: not an IPv4 address or A-B range (--family 4)"
    fi
    (($(ipv4_num "$a") <= $(ipv4_num "$b"))) || die "$opt $text: the range ends before it starts"
  else
    if ! { is_ipv6 "$a" && is_ipv6 "$b"; }; then
      die "$opt $text: not an IPv6 address or A-B range (--family 6)"
    fi
  fi
  echo "$a $b"
}
ports() {
  local opt=$1 text=$2 a b
  a=${text%%-*}
  b=${text#*-}
  [[ $text == *-* ]] || b=$a
  if ! { is_uint "$a" && is_uint "$b" && ((10#$a <= 65535 && 10#$b <= 65535)); }; then
    die "$opt $text: not a port or P-Q range (0..65535)"
  fi
  ((a <= b)) || die "$opt $text: the range ends before it starts"
  echo "$a $b"
}

read -r src_min src_max <<<"$(range --src "$src")"
read -r dst_min dst_max <<<"$(range --dst "$dst")"
read -r sport_min sport_max <<<"$(ports --sport "${sport:-1024}")"
read -r dport_min dport_max <<<"$(ports --dport "${dport:-9}")"
if [[ $family == 6 && $src_min != "$src_max" ]]; then
  die "--src $src: the kernel pktgen takes one IPv6 source address; use xdpfw-pktgen for ranges"
fi
# Ethernet + IP + UDP headers, the VLAN tag, and pktgen's own 16-byte header
# in the payload.
min_size=$((14 + (family == 4 ? 20 : 40) + 8 + 16 + (${#vlan} ? 4 : 0)))
# Default: the Ethernet minimum of 60, or the headers when they are longer.
if [[ -z $size ]]; then
  size=$((min_size > 60 ? min_size : 60))
fi
((size >= min_size)) || die "--size $size: a pktgen UDP/IPv$family frame needs at least $min_size bytes"

if ((dry == 0)); then
  if [[ ! -d $PGDIR ]]; then
    echo "$prog: kernel pktgen module not available; use xdpfw-pktgen" \
         "($PGDIR does not exist: modprobe pktgen, where the kernel has it)" >&2
    exit 2
  fi
  [[ -e /sys/class/net/$dev ]] || die "--dev $dev: no such interface"
  for ((t = 0; t < threads; t++)); do
    [[ -e $PGDIR/kpktgend_$((cpu + t)) ]] ||
      die "--cpu $cpu --threads $threads: no pktgen thread kpktgend_$((cpu + t)) (one per online CPU)"
  done
  [[ -n $src_mac ]] || src_mac=$(cat "/sys/class/net/$dev/address")
fi

# pgset FILE COMMAND: one pktgen command; a device or thread file answers
# with a "Result:" line.
pgset() {
  local file=$1
  shift
  if ((dry)); then
    echo "$file: $*"
    return
  fi
  echo "$*" >"$PGDIR/$file"
  if [[ $file != pgctrl ]] && ! grep -q '^Result: OK' "$PGDIR/$file"; then
    die "pgset $file '$*': $(grep '^Result:' "$PGDIR/$file" || echo 'no result')"
  fi
}

per_thread_delay=0
if ((rate > 0)); then
  per_thread_delay=$((1000000000 * threads / rate))
fi

devs=()
for ((t = 0; t < threads; t++)); do
  thr=kpktgend_$((cpu + t))
  d="$dev@$t"
  devs+=("$d")
  pgset "$thr" rem_device_all
  pgset "$thr" "add_device $d"
  n=0
  if [[ -n $count ]]; then
    n=$((count / threads + (t < count % threads ? 1 : 0)))
  fi
  pgset "$d" "count $n"
  pgset "$d" "clone_skb 0"
  pgset "$d" "pkt_size $size"
  pgset "$d" "delay $per_thread_delay"
  pgset "$d" "queue_map_min $t"
  pgset "$d" "queue_map_max $t"
  [[ -z $src_mac ]] || pgset "$d" "src_mac $src_mac"
  pgset "$d" "dst_mac $dst_mac"
  [[ -z $vlan ]] || pgset "$d" "vlan_id $vlan"
  if [[ $family == 4 ]]; then
    pgset "$d" "src_min $src_min"
    pgset "$d" "src_max $src_max"
    pgset "$d" "dst_min $dst_min"
    pgset "$d" "dst_max $dst_max"
  else
    pgset "$d" "flag IPV6"
    pgset "$d" "src6 $src_min"
    pgset "$d" "dst6 $dst_min"
    if [[ $dst_min != "$dst_max" ]]; then
      pgset "$d" "dst6_min $dst_min"
      pgset "$d" "dst6_max $dst_max"
    fi
  fi
  pgset "$d" "udp_src_min $sport_min"
  pgset "$d" "udp_src_max $sport_max"
  pgset "$d" "udp_dst_min $dport_min"
  pgset "$d" "udp_dst_max $dport_max"
  if ((random)); then
    for f in IPSRC_RND IPDST_RND UDPSRC_RND UDPDST_RND; do pgset "$d" "flag $f"; done
  fi
done

if ((dry)); then
  pgset pgctrl start
  [[ -z $duration ]] || echo "(stop after $duration s) pgctrl: stop"
  exit 0
fi

start=$(date +%s.%N)
if [[ -n $duration ]]; then
  # "start" blocks until the threads finish; count 0 runs until "stop".
  pgset pgctrl start &
  runner=$!
  trap 'echo stop >"$PGDIR/pgctrl"; wait "$runner" || true' INT TERM
  sleep "$duration"
  echo stop >"$PGDIR/pgctrl"
  wait "$runner" || true
  trap - INT TERM
else
  trap 'echo stop >"$PGDIR/pgctrl"' INT TERM
  pgset pgctrl start
  trap - INT TERM
fi
end=$(date +%s.%N)

packets=0
for d in "${devs[@]}"; do
  n=$(sed -n 's/.*pkts-sofar: *\([0-9][0-9]*\).*/\1/p' "$PGDIR/$d" | head -n1)
  packets=$((packets + ${n:-0}))
  pgset "kpktgend_$((cpu + ${d##*@}))" rem_device_all
done
seconds=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f", e - s }')
pps=$(awk -v p="$packets" -v s="$seconds" 'BEGIN { printf "%.1f", s > 0 ? p / s : 0 }')
if ((json)); then
  printf '{"packets":%s,"seconds":%s,"pps":%s,"frame_size":%s,"dev":"%s"}\n' \
    "$packets" "$seconds" "$pps" "$size" "$dev"
else
  echo "sent $packets packets in $seconds s: $pps pps ($size-byte frames, $dev, kernel pktgen)"
fi
