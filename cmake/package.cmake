# SPDX-License-Identifier: GPL-2.0-only
# `cpack -G DEB` in the build tree: xdpfw_VERSION_ARCH.deb from what
# cmake/install.cmake installs (README.md, "Install"). dpkg-shlibdeps
# derives Depends from the binaries (libbpf1, libxdp1, libhyperscan5, ...).
set(CPACK_PACKAGE_NAME xdpfw)
set(CPACK_PACKAGE_VENDOR "xdpfw")
set(CPACK_PACKAGE_CONTACT "xdpfw maintainers <xdpfw@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "XDP firewall: daemon, control client and standalone mode")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
       "xdpfw filters packets in the kernel's XDP hook, with a rule language, sets,\n"
       "payload inspection through AF_XDP and a control daemon that keeps the\n"
       "policy across restarts.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # xdpfw_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The binaries without their debug information (a RelWithDebInfo build's
# would make the package ten times larger).
set(CPACK_STRIP_FILES ON)
# Not a library dependency of the binaries, but what the unit runs before
# the daemon (mount) and what an operator inspects the program with.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "bpftool")
# The configuration is the operator's: an upgrade keeps their edits.
file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles "${XDPFW_CONFDIR}/xdpfwd.yaml\n")
# postinst: the socket's group, daemon-reload (dist/deb/).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/deb/conffiles
    ${PROJECT_SOURCE_DIR}/dist/deb/postinst ${PROJECT_SOURCE_DIR}/dist/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
