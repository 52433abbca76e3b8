#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# `cpack -G DEB` makes xdpfw_VERSION_ARCH.deb from the built tree (nothing
# is rebuilt: cpack only runs the install rules); its control file lists the
# shared libraries' packages; then the real install, as README.md ("Install")
# says: `apt-get install ./xdpfw_*.deb` into this machine, `--version` of the
# programs in /usr, the unit, man pages and completion where systemd, man and
# bash look, and `apt-get remove --purge` whatever happened (trap).
# Usage: deb_package.sh BUILD_DIR VERSION
# Exit 77 (ctest: skipped, with the reason printed) only where installing is
# impossible: not root, or no apt-get/dpkg. Everything else fails.
set -euo pipefail
build=$1 version=$2
fail() { echo "deb_package: FAIL: $*" >&2; exit 1; }
skip() { echo "deb_package: SKIPPED: cannot install the package here: $*" >&2; exit 77; }
tmp=$(mktemp -d)
installed_by_us=0
cleanup() {
  local rc=$?
  if ((installed_by_us)); then
    echo "deb_package: removing the package (apt-get remove --purge)"
    apt_get remove --purge -y xdpfw >"$tmp/remove.log" 2>&1 || {
      cat "$tmp/remove.log"
      echo "deb_package: FAIL: apt-get remove --purge xdpfw failed" >&2
      rc=1
    }
    if dpkg-query -W -f='${db:Status-Status}' xdpfw 2>/dev/null | grep -qv '^not-installed$'; then
      echo "deb_package: FAIL: xdpfw still known to dpkg after the purge" >&2
      rc=1
    fi
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT

# dpkg's lock may be held for a while by another apt run (unattended
# upgrades, a second test run): apt waits up to 120 s for it, and a run that
# still fails on a lock is retried.
apt_get() {
  local try rc
  for try in 1 2 3; do
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q "$@" || rc=$?
    ((rc != 0)) || return 0
    # Only a lock is worth another try; anything else is the answer.
    if ! grep -qs 'Could not get lock\|is locked by another process\|Unable to acquire the dpkg' \
         "$tmp"/*.log 2>/dev/null; then
      return "$rc"
    fi
    echo "deb_package: dpkg is locked, retrying ($try)" >&2
    sleep 5
  done
  return 1
}

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
for lib in libbpf1 libxdp1 libhyperscan5 libyaml-cpp0.7 libspdlog1 libfmt9 libpcap0.8 libc6 \
           libstdc++6; do
  grep -q "\b$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
# Every package Depends names must be one apt knows (a name dpkg-shlibdeps
# made up, or a -dev package, would make `apt-get install` fail elsewhere).
for pkg in $(tr ',|' '\n\n' <<<"$depends" | sed 's/(.*//; s/ //g' | grep -v '^$'); do
  [[ $pkg != *-dev ]] || fail "Depends names a development package: $pkg"
  apt-cache show "$pkg" >/dev/null 2>&1 || dpkg -s "$pkg" >/dev/null 2>&1 \
    || fail "Depends names $pkg, which neither apt nor dpkg knows"
done

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

# The install. Root and apt are what it takes; say which is missing.
[[ $(id -u) == 0 ]] || skip "not root (uid $(id -u)); apt-get install needs root"
command -v apt-get >/dev/null || skip "no apt-get on this machine"
command -v dpkg-query >/dev/null || skip "no dpkg on this machine"
# One install at a time on this machine (two test runs would remove each
# other's package).
exec 9>/run/lock/xdpfw-deb-package-test.lock
flock -w 300 9 || fail "another deb_package run held /run/lock/xdpfw-deb-package-test.lock for 300 s"

# A package already installed (a run killed before its trap, or an earlier
# install) is replaced by this one: --reinstall for the same version,
# --allow-downgrades for a newer one; the trap removes it at the end either way.
before=$(dpkg-query -W -f='${db:Status-Status} ${Version}' xdpfw 2>/dev/null || true)
if [[ $before == installed* ]]; then
  echo "deb_package: xdpfw ${before#installed } is installed already: replaced by this build's package"
fi
installed_by_us=1
apt_get install -y --reinstall --allow-downgrades "$deb" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log"
  fail "apt-get install $(basename "$deb") failed (its output above)"
}
grep -E '^(Setting up|Unpacking|Preparing) ' "$tmp/install.log" || true
[[ $(dpkg-query -W -f='${db:Status-Status} ${Version}' xdpfw) == "installed $version" ]] \
  || fail "after apt-get install: $(dpkg-query -W -f='${db:Status-Status} ${Version}' xdpfw)"

# The programs in /usr (not a /usr/local copy from `cmake --install`).
d=$(/usr/sbin/xdpfwd --version) || fail "/usr/sbin/xdpfwd --version failed"
c=$(/usr/bin/xdpfwctl --version) || fail "/usr/bin/xdpfwctl --version failed"
a=$(/usr/sbin/xdpfw-apply --version) || fail "/usr/sbin/xdpfw-apply --version failed"
t=$(/usr/bin/xdpfwctl-tap --version) || fail "/usr/bin/xdpfwctl-tap --version failed"
echo "$d"; echo "$c"; echo "$a"; echo "$t"
[[ $d == "xdpfwd $version (git "*", BPF object "*", built with libbpf "*")" ]] || fail "xdpfwd --version: $d"
[[ $c == "xdpfwctl $version (git "*")" ]] || fail "xdpfwctl --version: $c"
[[ $a == "xdpfw-apply $version (git "*")" ]] || fail "xdpfw-apply --version: $a"
[[ $t == "xdpfwctl-tap $version (git "*")" ]] || fail "xdpfwctl-tap --version: $t"
# Every shared library resolved (the Depends brought them).
for bin in /usr/sbin/xdpfwd /usr/bin/xdpfwctl /usr/sbin/xdpfw-apply /usr/bin/xdpfwctl-tap; do
  ! ldd "$bin" | grep -q 'not found' || fail "$bin: $(ldd "$bin" | grep 'not found')"
done

# Where systemd, man and bash-completion look.
unit=/usr/lib/systemd/system/xdpfwd.service
[[ -f $unit ]] || fail "no $unit"
grep -q '^ExecStart=/usr/sbin/xdpfwd ' "$unit" || fail "unit: $(grep ExecStart "$unit")"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1 \
    || { cat "$tmp/verify.log"; fail "systemd-analyze verify $unit"; }
fi
for page in /usr/share/man/man8/xdpfwd.8 /usr/share/man/man1/xdpfwctl.1 \
            /usr/share/man/man8/xdpfw-apply.8; do
  [[ -f $page || -f $page.gz ]] || fail "no man page $page"
done
if command -v man >/dev/null; then
  [[ $(man -w xdpfwd) == /usr/share/man/man8/xdpfwd.8* ]] || fail "man -w xdpfwd: $(man -w xdpfwd)"
  [[ $(man -w 1 xdpfwctl) == /usr/share/man/man1/xdpfwctl.1* ]] \
    || fail "man -w xdpfwctl: $(man -w 1 xdpfwctl)"
fi
comp=/usr/share/bash-completion/completions/xdpfwctl
[[ -f $comp ]] || fail "no $comp"
bash -n "$comp" || fail "$comp: syntax"
[[ -f /etc/xdpfw/xdpfwd.yaml ]] || fail "no /etc/xdpfw/xdpfwd.yaml"
getent group xdpfw >/dev/null || fail "postinst did not create the group xdpfw"
dpkg -V xdpfw || fail "dpkg -V xdpfw: installed files differ from the package's"
echo "deb_package: $(basename "$deb") installed, ran and checked"
