// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl with --etcd (docs/FLEET.md): pushes to a fleet's policy in etcd
// instead of one daemon's socket, and shows the fleet's nodes.
#pragma once

#include <ostream>
#include <string>

namespace xdpfw::ctl {

// True when argv asks for the fleet (an --etcd option anywhere).
bool wants_fleet(int argc, char** argv);

// `xdpfwctl --etcd URL[,URL] --etcd-prefix P load FILE`, `fleet status
// [--json]`. Exit codes as run_xdpfwctl: 0 done, 1 the policy or etcd
// refused, 2 etcd could not be reached, 64 bad usage.
int run_fleet_ctl(int argc, char** argv, std::ostream& out, std::ostream& err);

// The fleet commands and their options, for the end of `xdpfwctl --help`
// (and so its man page): generated from the parser run_fleet_ctl uses.
std::string fleet_help();

} // namespace xdpfw::ctl
