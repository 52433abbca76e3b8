// SPDX-License-Identifier: GPL-2.0-only
// `xdpfwctl tap`: its command line, shared by xdpfwctl (which parses it and
// runs the helper) and the helper xdpfwctl-tap (which captures). xdpfwctl
// itself stays a socket client without the BPF libraries (tests/CMakeLists.txt,
// xdpfwctl_links_no_dataplane); the helper opens the packet socket and loads
// the socket filter, as root, like tcpdump (docs/TAP.md).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace xdpfw::ctl {

inline constexpr const char* tap_helper_name = "xdpfwctl-tap";

struct TapArgs {
    std::string file;  // -w
    std::string iface; // -i
    uint64_t count = 0;
    double duration = 0;
    std::vector<std::string> words; // match words (docs/RULES.md)
};

// tap's options and match words on app (the `tap` subcommand, or the
// helper's top level).
void add_tap_options(CLI::App& app, TapArgs& a);

// The helper's arguments (after its name) that give back a.
std::vector<std::string> tap_helper_args(const TapArgs& a);

// Runs the helper found next to this program with a, in place of this
// process. Returns only when that failed: the exit code, the reason on err.
int exec_tap_helper(const TapArgs& a, std::ostream& err);

} // namespace xdpfw::ctl
