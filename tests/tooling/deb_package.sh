#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `cpack -G DEB` makes xdpfw_VERSION_ARCH.deb from the built tree (nothing
# is rebuilt: cpack only runs the install rules), its control file lists the
# shared libraries' packages, and the programs extracted from it run. The
# real install is `apt-get install ./xdpfw_*.deb` (README.md, "Install");
# this test does not change the machine: it extracts with `dpkg-deb -x`.
# Usage: deb_package.sh BUILD_DIR VERSION
set -euo pipefail
build=$1 version=$2
fail() { echo "deb_package: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || {
  cat "$tmp/cpack.log"
  fail "cpack failed"
}
arch=$(dpkg --print-architecture)
deb=$tmp/out/xdpfw_${version}_${arch}.deb
[[ -f $deb ]] || { ls "$tmp/out"; fail "no $deb"; }

info=$(dpkg-deb -I "$deb")
echo "$info"
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
for lib in libbpf1 libxdp1 libhyperscan5 libyaml-cpp0.7 libspdlog1 libfmt9 libc6 libstdc++6; do
  grep -q "\b$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done

root=$tmp/root
dpkg-deb -x "$deb" "$root"
contents=$(dpkg-deb -c "$deb")
for path in ./usr/sbin/xdpfwd ./usr/sbin/xdpfw-apply ./usr/bin/xdpfwctl ./usr/bin/xdpfwctl-tap \
            ./usr/lib/systemd/system/xdpfwd.service ./etc/xdpfw/xdpfwd.yaml \
            ./usr/share/man/man8/xdpfwd.8 ./usr/share/man/man1/xdpfwctl.1 \
            ./usr/share/bash-completion/completions/xdpfwctl \
            ./usr/share/doc/xdpfw/examples/xdpfwd.yaml ./usr/share/doc/xdpfw/DAEMON.md; do
  grep -q " $path\$" <<<"$contents" || fail "package lacks $path"
done
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/xdpfw/xdpfwd.yaml "$tmp/control/conffiles" || fail "xdpfwd.yaml is not a conffile"
[[ -x $tmp/control/postinst ]] && grep -q 'groupadd --system xdpfw' "$tmp/control/postinst" \
  || fail "postinst does not create the socket's group"
sh -n "$tmp/control/postinst" && sh -n "$tmp/control/postrm" || fail "maintainer script syntax"
# The unit starts the packaged daemon, not /usr/local's.
grep -q '^ExecStart=/usr/sbin/xdpfwd ' "$root/usr/lib/systemd/system/xdpfwd.service" \
  || fail "unit: $(grep ExecStart "$root/usr/lib/systemd/system/xdpfwd.service")"

d=$("$root/usr/sbin/xdpfwd" --version)
c=$("$root/usr/bin/xdpfwctl" --version)
a=$("$root/usr/sbin/xdpfw-apply" --version)
echo "$d"; echo "$c"; echo "$a"
[[ $d == "xdpfwd $version (git "*", BPF object "*", built with libbpf "*")" ]] || fail "xdpfwd --version: $d"
[[ $c == "xdpfwctl $version (git "*")" ]] || fail "xdpfwctl --version: $c"
[[ $a == "xdpfw-apply $version (git "*")" ]] || fail "xdpfw-apply --version: $a"
echo "deb_package: $(basename "$deb") ok"
