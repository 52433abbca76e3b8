// SPDX-License-Identifier: GPL-2.0-only
// FlowTable: the ct flow table's life (made, replaced) and its read-outs.
#include "lib/kernel/conntrack.hpp"

#include "lib/base/proc.hpp"
#include "lib/base/unique_fd.hpp"
#include "xdpfw_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

namespace xdpfw {

FlowTable::FlowTable(const XdpfwObject& obj)
    : outer_(bpf_map__fd(obj.skel()->maps.xdpfw_ct)),
      stats_(bpf_map__fd(obj.skel()->maps.xdpfw_ct_stats)),
      info_(bpf_map__fd(obj.skel()->maps.xdpfw_ct_info)),
      max_flows_(obj.options().ct_max_flows)
{
}

int FlowTable::table_fd() const
{
    const uint32_t zero = 0;
    uint32_t id = 0;
    if (bpf_map_lookup_elem(outer_, &zero, &id) || !id)
        return -1;
    return bpf_map_get_fd_by_id(id);
}

uint64_t FlowTable::stat(uint32_t which) const
{
    const int ncpus = libbpf_num_possible_cpus();
    if (ncpus <= 0)
        throw BpfError(-ncpus, "count possible CPUs");
    std::vector<uint64_t> v(static_cast<size_t>(ncpus));
    if (bpf_map_lookup_elem(stats_, &which, v.data()))
        throw BpfError(errno, "read xdpfw_ct_stats");
    uint64_t sum = 0;
    for (uint64_t x : v)
        sum += x;
    return sum;
}

namespace {

xdpfw_ct_info read_info(int fd)
{
    const uint32_t zero = 0;
    xdpfw_ct_info info{};
    if (bpf_map_lookup_elem(fd, &zero, &info))
        throw BpfError(errno, "read xdpfw_ct_info");
    return info;
}

uint64_t estimate_entries(const xdpfw_ct_info& info, uint64_t insertions)
{
    const uint64_t since = insertions - info.insertions_base;
    return since < info.max_flows ? since : info.max_flows;
}

} // namespace

void FlowTable::replace(uint64_t insertions, bool flushed) const
{
    xdpfw_ct_info info = read_info(info_);
    const UniqueFd old(table_fd());
    if (old.get() >= 0) {
        const uint64_t since = insertions - info.insertions_base;
        if (since > info.max_flows)
            info.evictions_before += since - info.max_flows;
    }
    // Preallocated (an LRU hash cannot be BPF_F_NO_PREALLOC): the memory
    // is taken here, once, and the data path never allocates.
    const UniqueFd table(bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xdpfw_flows", sizeof(xdpfw_ct_key),
                                        sizeof(xdpfw_ct_entry), max_flows_, nullptr));
    if (table.get() < 0)
        throw BpfError(errno, "create the flow table (" + std::to_string(max_flows_) + " flows)");
    const uint32_t zero = 0;
    const int fd = table.get();
    if (bpf_map_update_elem(outer_, &zero, &fd, BPF_ANY))
        throw BpfError(errno, "install the flow table");
    info.insertions_base = insertions;
    info.max_flows = max_flows_;
    if (flushed)
        info.flushes++;
    if (bpf_map_update_elem(info_, &zero, &info, BPF_ANY))
        throw BpfError(errno, "write xdpfw_ct_info");
}

bool FlowTable::ensure() const
{
    const UniqueFd fd(table_fd());
    if (fd.get() >= 0) {
        bpf_map_info mi{};
        uint32_t len = sizeof(mi);
        if (bpf_obj_get_info_by_fd(fd.get(), &mi, &len) == 0 && mi.max_entries == max_flows_)
            return false;
    }
    replace(stat(XDPFW_CT_STAT_INSERTIONS), false);
    return true;
}

uint64_t FlowTable::flush() const
{
    const UniqueFd fd(table_fd());
    if (fd.get() < 0)
        return 0;
    const uint64_t insertions = stat(XDPFW_CT_STAT_INSERTIONS);
    const uint64_t dropped = estimate_entries(read_info(info_), insertions);
    replace(insertions, true);
    return dropped;
}

std::vector<CtFlow> FlowTable::list(size_t limit, uint64_t now_ns) const
{
    std::vector<CtFlow> out;
    const UniqueFd fd(table_fd());
    if (fd.get() < 0)
        return out;
    xdpfw_ct_key key{}, next{};
    const xdpfw_ct_key* prev = nullptr;
    while (out.size() < limit && bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
        CtFlow f;
        f.key = next;
        if (bpf_map_lookup_elem(fd.get(), &next, &f.entry) == 0 && f.entry.expires_ns > now_ns)
            out.push_back(f);
        key = next;
        prev = &key;
    }
    return out;
}

CtCounters FlowTable::counters() const
{
    CtCounters c;
    const xdpfw_ct_info info = read_info(info_);
    c.insertions = stat(XDPFW_CT_STAT_INSERTIONS);
    c.lookups = stat(XDPFW_CT_STAT_LOOKUPS);
    c.failed = stat(XDPFW_CT_STAT_FULL);
    c.flushes = info.flushes;
    c.evictions = info.evictions_before;
    const UniqueFd fd(table_fd());
    if (fd.get() < 0)
        return c;
    c.table = true;
    c.max_flows = info.max_flows;
    c.entries = estimate_entries(info, c.insertions);
    const uint64_t since = c.insertions - info.insertions_base;
    if (since > info.max_flows)
        c.evictions += since - info.max_flows;
    c.table_bytes = bpf_map_memlock_bytes(fd.get()).value_or(0);
    return c;
}

} // namespace xdpfw
