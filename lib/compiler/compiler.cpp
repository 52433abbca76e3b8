// SPDX-License-Identifier: GPL-2.0-only
// The policy compiler's driver: rules in evaluation order become the rule
// table, then one step per field fills its bitmap table (scalar_fields.cpp,
// addresses.cpp); the steps share the bitmap pool (bitmaps.cpp).
#include "lib/compiler/detail.hpp"
#include "lib/compiler/source_hash.hpp"
#include "lib/compiler/specialise.hpp"

#include <unordered_set>

namespace xdpfw::detail {

uint8_t action_code(ActionType a)
{
    switch (a) {
    case ActionType::drop: return XDPFW_ACT_DROP;
    case ActionType::pass: return XDPFW_ACT_PASS;
    case ActionType::xsk: return XDPFW_ACT_XSK;
    case ActionType::redirect: return XDPFW_ACT_REDIRECT;
    case ActionType::count: return XDPFW_ACT_COUNT;
    case ActionType::syncookie: return XDPFW_ACT_SYNCOOKIE;
    }
    return XDPFW_ACT_DROP;
}

ActionType action_type(uint8_t code)
{
    switch (code) {
    case XDPFW_ACT_DROP: return ActionType::drop;
    case XDPFW_ACT_PASS: return ActionType::pass;
    case XDPFW_ACT_XSK: return ActionType::xsk;
    case XDPFW_ACT_REDIRECT: return ActionType::redirect;
    case XDPFW_ACT_SYNCOOKIE: return ActionType::syncookie;
    default: return ActionType::count;
    }
}

std::string rule_where(const Rule& r) { return "rule " + std::to_string(r.id); }

uint32_t resolve_iface(const CompileOptions& opts, const Rule& r, const std::string& key,
                       const std::string& name)
{
    if (!opts.resolve)
        throw PolicyError(rule_where(r), key,
                          "interface '" + name + "' cannot be resolved: no resolver given");
    uint32_t ifindex = 0;
    try {
        ifindex = opts.resolve(name);
    } catch (const PolicyError& e) {
        throw PolicyError(rule_where(r), key,
                          "cannot resolve interface '" + name + "': " +
                              (e.problem().empty() ? e.what() : e.problem()));
    }
    if (ifindex == 0)
        throw PolicyError(rule_where(r), key, "unknown interface '" + name + "'");
    return ifindex;
}

CompileState::CompileState(const Policy& p, const CompileOptions& o, CompiledPolicy& c)
    : policy(p), opts(o), rules(p), out(c), pool(c.bitmaps, o.caps.max_bitmaps)
{
}

namespace {

uint8_t terminal_code(ActionType a, const std::string& what)
{
    if (a != ActionType::drop && a != ActionType::pass)
        throw PolicyError("policy", what,
                          std::string("must be drop or pass, not ") + action_name(a));
    return action_code(a);
}

// One rule's table entry; PolicyError for a bad or repeated id (ids: those
// seen so far), a bad fallback or an unknown interface.
xdpfw_rule compile_rule(const CompileOptions& opts, const Rule& r,
                        std::unordered_set<uint32_t>& ids)
{
    const uint32_t max_rules = opts.caps.max_rules;
    if (r.id == 0 || r.id >= max_rules)
        throw PolicyError(rule_where(r), "id",
                          "rule ids must be 1.." + std::to_string(max_rules - 1) +
                              " (they index the rule counters; max_rules=" +
                              std::to_string(max_rules) + ")");
    if (!ids.insert(r.id).second)
        throw PolicyError(rule_where(r), "id", "duplicate rule id");
    xdpfw_rule cr{};
    cr.rule_id = r.id;
    cr.counter_slot = r.id;
    cr.action = action_code(r.action.type);
    cr.flags = XDPFW_RULE_XSK_PASS; // only an xsk rule's fallback reads it
    cr.sample = static_cast<uint16_t>(r.sample); // the parser keeps it <= max_rule_sample
    if (r.action.type == ActionType::redirect)
        cr.redirect_slot = resolve_iface(opts, r, "action", r.action.redirect_iface);
    if (r.match.limit)
        cr.flags |= XDPFW_RULE_LIMIT;
    if (r.action.type == ActionType::xsk) {
        if (r.action.xsk_fallback != ActionType::pass && r.action.xsk_fallback != ActionType::drop)
            throw PolicyError(rule_where(r), "fallback", "xsk fallback must be pass or drop");
        if (r.action.xsk_fallback == ActionType::drop)
            cr.flags = static_cast<uint8_t>(cr.flags & ~XDPFW_RULE_XSK_PASS);
    }
    return cr;
}

xdpfw_limit limit_entry(const RateLimit& limit)
{
    const LimitParams p = limit_params(limit);
    xdpfw_limit l{};
    l.cost_q16 = p.cost_q16;
    l.tol_ns = p.tol_ns;
    l.tag = p.tag;
    l.bytes = p.bytes ? 1 : 0;
    l.per = p.per == LimitPer::src   ? XDPFW_LIMIT_PER_SRC
            : p.per == LimitPer::dst ? XDPFW_LIMIT_PER_DST
                                     : XDPFW_LIMIT_PER_RULE;
    return l;
}

// The limits of the rules that have one (rule_parser validated them), and
// the header bit that has the program take the packet's address keys.
void compile_limits(CompileState& s)
{
    for (size_t i = 0; i < s.rules.size(); ++i) {
        if (!s.rules[i].match.limit)
            continue;
        s.out.limits.resize(s.rules.size());
        s.out.limits[i] = limit_entry(*s.rules[i].match.limit);
        s.out.used_fields |= XDPFW_USED_LIMITS;
    }
}

} // namespace

void compile_rules(CompileState& s)
{
    CompiledPolicy& out = s.out;
    const uint32_t n = s.n();
    out.n_rules = n;
    out.n_words = (n + 63) / 64;
    out.n_summary = (out.n_words + 63) / 64;

    std::unordered_set<uint32_t> ids;
    ids.reserve(n);
    out.rules.reserve(n);
    for (uint32_t i = 0; i < n; ++i)
        out.rules.push_back(compile_rule(s.opts, s.rules[i], ids));
    compile_limits(s);

    // A policy has a few bitmaps per rule (a port, a prefix, ...).
    s.pool.reserve(std::min<size_t>(4 * size_t(n) + 64, s.opts.caps.max_bitmaps));
    s.empty.assign(out.n_words, 0);
    Bits all = s.empty;
    for (uint32_t i = 0; i < n; ++i)
        set_bit(all, i);
    out.all_bitmap = s.pool.intern(all);
}

} // namespace xdpfw::detail

namespace xdpfw {

CompiledPolicy compile(const Policy& policy, const CompileOptions& opts)
{
    check_table_capacities(opts.caps);
    CompiledPolicy out;
    detail::CompileState s(policy, opts, out);
    if (s.rules.size() > opts.caps.max_rules)
        throw CapacityError("policy", "", std::to_string(s.rules.size()) +
                                              " rules exceed max_rules=" +
                                              std::to_string(opts.caps.max_rules));
    out.default_action = detail::terminal_code(policy.default_action, "default_action");
    out.malformed_action = detail::terminal_code(policy.malformed_action, "malformed_action");
    out.default_non_ip_action =
        detail::terminal_code(policy.default_non_ip_action, "default_non_ip_action");

    detail::compile_rules(s);
    detail::compile_ifindex(s);
    detail::compile_vlan(s);
    detail::compile_proto(s);
    detail::compile_ports(s);
    detail::compile_tcp_flags(s);
    detail::compile_icmp(s);
    detail::compile_ether(s);
    detail::compile_ct(s);
    for (unsigned d = 0; d < XDPFW_DIRECTIONS; ++d)
        detail::compile_addresses(s, d);
    out.source_hash = policy_source_hash(policy);
    out.spec = specialise(out, &out.spec_why_not);
    return out;
}

} // namespace xdpfw
