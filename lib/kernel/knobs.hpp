// SPDX-License-Identifier: GPL-2.0-only
// The load-time knobs (.rodata cfg_* of bpf/lib/maps.h) from LoadOptions,
// for every build of the program (general, stage stops, specialised tier):
// one skeleton type each, the same knob names.
#pragma once

#include "lib/kernel/loader.hpp"

namespace xdpfw {

template <typename Rodata> void set_knobs(Rodata* r, const LoadOptions& opts)
{
    const Capacities& o = opts.caps;
    const uint32_t words = o.max_rules / 64;
    const TableLayout tl = table_layout(o);
    r->cfg_max_rules = o.max_rules;
    r->cfg_words = words;
    r->cfg_summary_words = (words + 63) / 64;
    r->cfg_addr_class_cap = o.max_addr_classes;
    r->cfg_chunk_cap = o.max_v4_chunks;
    r->cfg_host_buckets = xdpfw_host_buckets(o.max_v4_hosts);
    r->cfg_bitmap_pages = tl.bitmap_pages;
    r->cfg_chunk_pages = tl.chunk_pages;
    r->cfg_host_pages = tl.host_pages;
    r->cfg_record_verdict = opts.record_verdict ? 1 : 0;
}

} // namespace xdpfw
