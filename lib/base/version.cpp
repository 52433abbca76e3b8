// SPDX-License-Identifier: GPL-2.0-only
// The build's identity, from the header cmake/version.cmake generates.
#include "lib/base/version.hpp"

#include "xdpfw_build_info.h"

namespace xdpfw::build {

std::string_view version()
{
    return XDPFW_VERSION;
}

std::string_view git()
{
    return XDPFW_GIT;
}

std::string_view libbpf_version()
{
    return XDPFW_LIBBPF_VERSION;
}

std::string_view libxdp_version()
{
    return XDPFW_LIBXDP_VERSION;
}

std::string version_line(std::string_view program, std::string_view details)
{
    std::string line(program);
    line += ' ';
    line += version();
    line += " (git ";
    line += git();
    if (!details.empty()) {
        line += ", ";
        line += details;
    }
    line += ')';
    return line;
}

} // namespace xdpfw::build
