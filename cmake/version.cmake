# SPDX-License-Identifier: GPL-2.0-only
# The build's identity for --version and `status`: the project version,
# `git describe` of the source tree at configure time ("unknown" outside a
# git checkout, e.g. a release tarball) and the libbpf/libxdp versions
# pkg-config found. Written to generated/xdpfw_build_info.h, which only
# lib/base/version.cpp includes (a new commit needs a re-configure to show).
find_package(Git QUIET)
set(XDPFW_GIT "unknown")
if(GIT_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/.git)
  execute_process(
    COMMAND ${GIT_EXECUTABLE} describe --always --dirty --abbrev=7
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    OUTPUT_VARIABLE git_out
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE git_rc
    ERROR_QUIET)
  if(git_rc EQUAL 0 AND git_out)
    set(XDPFW_GIT "${git_out}")
  endif()
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/xdpfw_build_info.h.in
               ${CMAKE_BINARY_DIR}/generated/xdpfw_build_info.h @ONLY)
