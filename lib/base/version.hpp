// SPDX-License-Identifier: GPL-2.0-only
// The build's identity (cmake/version.cmake): what --version and `status` print.
#pragma once

#include <string>
#include <string_view>

namespace xdpfw::build {

// The CMake project version, e.g. "0.1.0".
std::string_view version();
// `git describe --always --dirty` at configure time, e.g. "1a2b3c4" or
// "v0.1.0-3-g1a2b3c4-dirty"; "unknown" when built outside a git checkout.
std::string_view git();
// The libbpf and libxdp versions the build was configured against.
std::string_view libbpf_version();
std::string_view libxdp_version();

// "PROGRAM VERSION (git GIT[, DETAILS])": the first line of --version, the
// form help2man reads ("name version").
std::string version_line(std::string_view program, std::string_view details = {});

} // namespace xdpfw::build
