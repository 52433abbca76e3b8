// SPDX-License-Identifier: GPL-2.0-only
// Moves the (single-threaded) test process into a network namespace of its
// own, with a veth pair named eth0/eth1: BPF tests can name interfaces and
// fill devmaps without touching the machine's real ones. The namespace dies
// with the process, so nothing is left behind even on a crash.
#pragma once

namespace xdpfw::test {

// Idempotent; throws std::system_error if unshare or ip fails.
void enter_private_netns();

} // namespace xdpfw::test
