// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl's command line: argument parsing, one request per command, output
// and exit codes. main() only forwards here, so the tests run the real CLI
// in-process against a fake daemon.
#pragma once

#include <ostream>

namespace xdpfw::ctl {

// Used when neither --socket nor XDPFW_SOCKET says otherwise.
inline constexpr const char* default_socket_path = "/run/xdpfw/xdpfwd.sock";

// Runs one xdpfwctl invocation. Human output or --json goes to out; errors
// go to err as "xdpfwctl: <code>: <message>". Returns the exit code: 0 done,
// 1 the daemon or a local file reported an error, 2 the daemon could not be
// reached, 64 bad usage. `stats --watch` runs until SIGINT (or --count
// updates) and installs its own SIGINT handler for that time.
// `tap` replaces the process with the helper xdpfwctl-tap (tap_cli.hpp).
int run_xdpfwctl(int argc, char** argv, std::ostream& out, std::ostream& err);

} // namespace xdpfw::ctl
