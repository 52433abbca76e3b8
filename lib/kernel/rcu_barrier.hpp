// SPDX-License-Identifier: GPL-2.0-only
// Waits, from user space, until every XDP program run that had started has
// finished: the barrier a commit needs before it reuses a generation's tables.
#pragma once

#include "lib/base/unique_fd.hpp"

namespace xdpfw {

// The kernel waits for an RCU grace period (synchronize_rcu() in
// maybe_wait_bpf_programs(), kernel/bpf/syscall.c) before an update of an
// ARRAY_OF_MAPS or HASH_OF_MAPS element returns. XDP programs run inside RCU
// read-side sections, so when wait() returns, no program run that began
// before the call is still running. The maps are private to this object (the
// XDP program never reads them): the barrier costs packets nothing, unlike
// per-packet in-flight counters. A grace period takes ~20 us on an idle
// machine here and tens of ms under load, so callers keep it off the commit's
// critical path (PolicyMaps waits in the background after a switch).
class RcuBarrier {
public:
    RcuBarrier(); // throws BpfError if the kernel refuses the maps
    void wait() const;

private:
    UniqueFd inner_, outer_;
};

} // namespace xdpfw
