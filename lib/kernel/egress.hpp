// SPDX-License-Identifier: GPL-2.0-only
// The connection tracker's tc egress program (bpf/lib/ct.h, xdpfw_ct_egress)
// on an interface's clsact egress hook: the host's own packets leave through
// the stack, which XDP never sees, and open or advance their flows there.
// The program does nothing while the live policy has no ct= rule.
#pragma once

#include "lib/kernel/loader.hpp"

namespace xdpfw {

// Attaches (or replaces ours with) obj's egress program on ifindex in the
// calling thread's network namespace; adds the clsact qdisc when missing.
// Throws BpfError.
void attach_egress(const XdpfwObject& obj, int ifindex);

// Removes our egress filter from ifindex (none there: nothing to do). The
// clsact qdisc stays: other filters may share it. Throws BpfError.
void detach_egress(int ifindex);

// The id of the program our egress filter on ifindex runs, 0 when none.
uint32_t egress_prog_id(int ifindex);

} // namespace xdpfw
