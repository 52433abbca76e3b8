// SPDX-License-Identifier: GPL-2.0-only
// content_hash(): the layout-independent parts of a compiled policy.
#include "lib/kernel/content_hash.hpp"

#include "lib/base/hash64.hpp"

namespace xdpfw {

uint64_t content_hash(const CompiledPolicy& p)
{
    return content_hash(p, p.source_hash);
}

uint64_t content_hash(const CompiledPolicy& p, uint64_t source_hash)
{
    Hash64 h;
    h.word(source_hash);
    h.word(p.n_rules).word(p.used_fields);
    h.word(uint64_t(p.default_action) << 8 | p.malformed_action);
    h.word(p.rules.size());
    for (const xdpfw_rule& r : p.rules) {
        h.word(uint64_t(r.rule_id) << 32 | r.counter_slot);
        h.word(uint64_t(r.redirect_slot) << 16 | uint64_t(r.action) << 8 | r.flags);
        if (r.sample) // only when set, as below
            h.word(0x73616d706c65).word(r.sample);
    }
    h.word(p.ifindex.size());
    for (const auto& [ifindex, bitmap] : p.ifindex)
        h.word(ifindex);
    // Only when used, so the hash of a policy without them is what it was
    // before these fields existed (an upgrade adopts it as it is).
    if (p.default_non_ip_action != XDPFW_ACT_PASS)
        h.word(0x6e6f6e6970).word(p.default_non_ip_action);
    if (!p.ether.empty()) {
        h.word(0x6574686572).word(p.ether.size());
        for (const auto& [type, bitmap] : p.ether)
            h.word(type);
    }
    const uint64_t d = h.digest();
    return d ? d : 1;
}

} // namespace xdpfw
