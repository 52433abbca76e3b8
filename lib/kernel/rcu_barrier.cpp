// SPDX-License-Identifier: GPL-2.0-only
// RcuBarrier: an ARRAY_OF_MAPS whose only element is rewritten to wait.
#include "lib/kernel/rcu_barrier.hpp"

#include "lib/kernel/loader.hpp"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstdint>

namespace xdpfw {

RcuBarrier::RcuBarrier()
{
    inner_ = UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "xdpfw_rcu_in", 4, 4, 1, nullptr));
    if (inner_.get() < 0)
        throw BpfError(errno, "create the RCU barrier's inner map");
    LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = static_cast<uint32_t>(inner_.get()));
    outer_ = UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "xdpfw_rcu", 4, 4, 1, &opts));
    if (outer_.get() < 0)
        throw BpfError(errno, "create the RCU barrier's map of maps");
}

void RcuBarrier::wait() const
{
    uint32_t key = 0, fd = static_cast<uint32_t>(inner_.get());
    if (bpf_map_update_elem(outer_.get(), &key, &fd, BPF_ANY))
        throw BpfError(errno, "wait for an RCU grace period (map-in-map update)");
}

} // namespace xdpfw
