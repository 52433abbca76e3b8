// SPDX-License-Identifier: GPL-2.0-only
// The connection tracking flow table from user space (bpf/lib/ct.h): made
// the first time a policy uses ct=, replaced by an empty one on flush (one
// map update, however many flows), listed and counted.
#pragma once

#include "lib/kernel/loader.hpp"

#include <xdpfw/abi.h>

#include <cstdint>
#include <vector>

namespace xdpfw {

struct CtFlow {
    xdpfw_ct_key key{};
    xdpfw_ct_entry entry{};
};

// What `stats` reports (docs/PROTOCOL.md, "ct"). An LRU hash counts neither
// its entries nor its evictions: entries is the insertions since the table
// was made, at most its size; evictions the insertions beyond its size (a
// lower bound: the kernel's LRU takes from per-CPU free lists and may evict
// a little before the table is full; a flow whose entry expired and is
// written again counts as an insertion, so entries is an upper bound of the
// flows the table holds).
struct CtCounters {
    bool table = false;     // made (some policy used ct=)
    uint32_t max_flows = 0; // its size (ct.max_flows)
    uint64_t entries = 0, insertions = 0, evictions = 0, lookups = 0, failed = 0, flushes = 0;
    uint64_t table_bytes = 0; // kernel memory of the flow table
};

class FlowTable {
public:
    explicit FlowTable(const XdpfwObject& obj);
    // Makes the table of max_flows entries unless one of that size is
    // there (a table of another size, from a daemon with another ct.max_flows,
    // is replaced: its flows are lost). Returns true when it made one.
    bool ensure() const;
    // Replaces the table by an empty one (no-op without a table); returns
    // the entries estimated dropped.
    uint64_t flush() const;
    // The live flows (not expired at now_ns, CLOCK_MONOTONIC), at most limit.
    std::vector<CtFlow> list(size_t limit, uint64_t now_ns) const;
    CtCounters counters() const;
    // The flow table's fd (a new descriptor the caller closes), or -1.
    int table_fd() const;

private:
    void replace(uint64_t insertions, bool flushed) const;
    uint64_t stat(uint32_t which) const;
    int outer_ = -1, stats_ = -1, info_ = -1;
    uint32_t max_flows_ = 0;
};

} // namespace xdpfw
