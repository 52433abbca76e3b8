// SPDX-License-Identifier: GPL-2.0-only
// policy_source_hash(): the compile's inputs, field by field.
#include "lib/compiler/source_hash.hpp"

#include "lib/base/hash64.hpp"

#include <algorithm>

namespace xdpfw {

namespace {

// Presence first, so an absent field and a zero one differ.
template <typename T, typename F> void optional_field(Hash64& h, const std::optional<T>& v, F&& f)
{
    h.word(v.has_value());
    if (v)
        f(*v);
}

void hash_prefix(Hash64& h, const Prefix& p)
{
    h.word(uint64_t(p.family) << 8 | p.len);
    h.bytes(p.addr.data(), p.addr.size());
}

void hash_addr(Hash64& h, const std::optional<AddrMatch>& a)
{
    optional_field(h, a, [&](const AddrMatch& m) {
        h.word(m.is_set());
        if (m.is_set())
            h.text(m.set_name());
        else
            hash_prefix(h, m.prefix());
    });
}

void hash_rule(Hash64& h, const Rule& r)
{
    h.word(r.id).word(uint64_t(uint32_t(r.priority)));
    const Match& m = r.match;
    optional_field(h, m.iif, [&](const std::string& s) { h.text(s); });
    optional_field(h, m.vlan, [&](uint16_t v) { h.word(v); });
    optional_field(h, m.family, [&](Family f) { h.word(uint64_t(f)); });
    hash_addr(h, m.src);
    hash_addr(h, m.dst);
    optional_field(h, m.proto, [&](uint8_t v) { h.word(v); });
    optional_field(h, m.sport, [&](const PortRange& p) { h.word(uint64_t(p.lo) << 16 | p.hi); });
    optional_field(h, m.dport, [&](const PortRange& p) { h.word(uint64_t(p.lo) << 16 | p.hi); });
    optional_field(h, m.tcp_flags,
                   [&](const TcpFlagsMatch& f) { h.word(uint64_t(f.mask) << 8 | f.value); });
    optional_field(h, m.icmp_type, [&](uint8_t v) { h.word(v); });
    optional_field(h, m.icmp_code, [&](uint8_t v) { h.word(v); });
    h.word(uint64_t(r.action.type)).word(uint64_t(r.action.xsk_fallback));
    h.text(r.action.redirect_iface);
    // Fields added later are hashed only when present, so a rule without
    // them hashes as it did before they existed.
    if (r.match.ether)
        h.word(0x6574686572).word(*r.match.ether);
    if (r.sample)
        h.word(0x73616d706c65).word(r.sample);
    if (r.match.ct)
        h.word(0x6374).word(*r.match.ct);
    if (const auto& l = r.match.limit)
        h.word(0x6c696d6974).word(l->amount).word(uint64_t(l->unit)).word(l->burst.value_or(0))
            .word(l->burst.has_value()).word(uint64_t(l->per));
}

} // namespace

uint64_t policy_source_hash(const Policy& policy, SourceHashScheme scheme)
{
    Hash64 h;
    h.word(uint64_t(policy.default_action)).word(uint64_t(policy.malformed_action));
    if (policy.default_non_ip_action != ActionType::pass) // as in hash_rule: only when set
        h.word(0x6e6f6e6970).word(uint64_t(policy.default_non_ip_action));
    // By id: the vector's order is not the policy's (evaluation_order()).
    std::vector<const Rule*> rules;
    for (const Rule& r : policy.rules)
        rules.push_back(&r);
    std::sort(rules.begin(), rules.end(), [](const Rule* a, const Rule* b) { return a->id < b->id; });
    h.word(rules.size());
    for (const Rule* r : rules)
        hash_rule(h, *r);
    h.word(policy.sets.size());
    for (const auto& [name, set] : policy.sets) {
        h.text(name);
        h.word(set.prefixes().size());
        if (scheme == SourceHashScheme::v2) {
            h.word(set.digest());
            continue;
        }
        for (const Prefix& p : set.prefixes())
            hash_prefix(h, p);
    }
    return h.digest();
}

} // namespace xdpfw
