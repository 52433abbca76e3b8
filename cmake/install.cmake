# SPDX-License-Identifier: GPL-2.0-only
# `cmake --install` and `cpack -G DEB` (README.md, "Install"): programs, the
# systemd unit, the example configuration, man pages, bash completion, docs.
# Included after the programs and man pages exist as targets.
include(GNUInstallDirs)

# The daemon and standalone mode need root (CAP_BPF, CAP_NET_ADMIN): sbin.
# xdpfwctl only talks to the control socket (a member of the socket's group
# may): bin.
install(TARGETS xdpfwd xdpfw-apply RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
# xdpfwctl-tap beside it: `xdpfwctl tap` runs it from its own directory.
install(TARGETS xdpfwctl xdpfwctl-tap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The configuration lives in /etc/xdpfw whatever the prefix: the unit and
# docs/DAEMON.md name that path. The deb marks it a conffile.
set(XDPFW_CONFDIR /etc/xdpfw CACHE PATH "where xdpfwd.yaml is installed")
install(FILES ${PROJECT_SOURCE_DIR}/configs/xdpfwd.yaml DESTINATION ${XDPFW_CONFDIR})
install(FILES ${PROJECT_SOURCE_DIR}/configs/xdpfwd.yaml ${PROJECT_SOURCE_DIR}/configs/lab.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md")

# The unit names the daemon's path: written at install time with the prefix
# then in force (cpack installs with prefix /usr into DESTDIR), so both
# `cmake --install` (default /usr/local) and the deb start the binary they
# installed. lib/systemd/system under /usr and /usr/local is on systemd's
# unit search path.
install(CODE "
  set(unit_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  file(READ \"${PROJECT_SOURCE_DIR}/configs/xdpfwd.service\" unit)
  string(REPLACE \"/usr/local/sbin/xdpfwd\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/xdpfwd\"
         unit \"\${unit}\")
  file(MAKE_DIRECTORY \"\${unit_dir}\")
  file(WRITE \"\${unit_dir}/xdpfwd.service\" \"\${unit}\")
  message(STATUS \"Installing: \${unit_dir}/xdpfwd.service\")
")

install(FILES ${PROJECT_SOURCE_DIR}/dist/bash-completion/xdpfwctl
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
