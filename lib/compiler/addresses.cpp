// SPDX-License-Identifier: GPL-2.0-only
// The address step of compile(), per direction: the atoms the rules use,
// their tables (reused, updated or rebuilt through the compile cache) and
// the bitmap of each address class.
#include "lib/compiler/addr_detail.hpp"

namespace xdpfw::detail {

namespace {

// The atoms of one direction in canonical (key) order, each with the rules
// using it; keys[a] is atom a's key.
struct DirAtoms {
    std::vector<Atom> atoms;
    std::vector<AtomKey> keys;
};

AtomKey atom_key(const AddrMatch& am)
{
    return AtomKey{am.is_set(), am.is_set() ? am.set_name() : std::string(),
                   am.is_set() ? Prefix{} : am.prefix()};
}

// AtomKey's order (literal prefixes first, then sets by name), read from
// the rules' matches without building keys.
bool atom_less(const AddrMatch& a, const AddrMatch& b)
{
    if (a.is_set() != b.is_set())
        return b.is_set();
    return a.is_set() ? a.set_name() < b.set_name() : a.prefix() < b.prefix();
}

DirAtoms collect_atoms(CompileState& s, std::optional<AddrMatch> Match::*field,
                       const std::string& key, xdpfw_field f)
{
    // The rules using the field, sorted by atom (stable: by rule within
    // one), so each atom is one run; a commit of a large policy runs this
    // twice, and a map keyed by AtomKey cost a tenth of the compile.
    std::vector<uint32_t> users;
    for (uint32_t i = 0; i < s.n(); ++i) {
        const auto& am = s.rules[i].match.*field;
        if (!am)
            continue;
        s.use(f);
        if (am->is_set() && !s.policy.sets.count(am->set_name()))
            throw PolicyError(rule_where(s.rules[i]), key, "unknown set @" + am->set_name());
        users.push_back(i);
    }
    std::stable_sort(users.begin(), users.end(), [&](uint32_t a, uint32_t b) {
        return atom_less(*(s.rules[a].match.*field), *(s.rules[b].match.*field));
    });
    DirAtoms out;
    for (size_t u = 0; u < users.size(); ++u) {
        const uint32_t i = users[u];
        const AddrMatch& am = *(s.rules[i].match.*field);
        if (u == 0 || atom_less(*(s.rules[users[u - 1]].match.*field), am)) {
            out.keys.push_back(atom_key(am));
            out.atoms.push_back({AtomLabel{out.keys.back(), 0}, {}});
        }
        Atom& atom = out.atoms.back();
        atom.rules.push_back(i);
        if (!am.is_set() && !atom.label.rule_id)
            atom.label.rule_id = s.rules[i].id; // the first rule, by evaluation order
    }
    return out;
}

// Brings st's tables up to date with the atoms: kept when the atoms and
// sets' contents did not change, else updated in place when that works,
// else rebuilt (which reports a real shortage of room).
void refresh_tables(CompileCache::Dir& st, const DirAtoms& da, const Policy& policy,
                    const Capacities& caps, const std::string& key)
{
    if (st.tables_id && st.same_inputs(da.keys, policy, caps))
        return;
    bool updated = false;
    if (st.tables_id && st.limits == CompileCache::Dir::limits_of(caps)) {
        st.tables_id = 0; // until the update succeeds
        try {
            updated = update_tables(st, da.keys, da.atoms, policy, caps, key);
        } catch (const CapacityError&) {
            updated = false; // rebuilt below, which reports a real shortage
        } catch (const HostTableOutgrown&) {
            updated = false; // rebuilt below with more buckets
        }
    }
    if (!updated)
        rebuild_tables(st, da.keys, da.atoms, policy, caps, key);
    st.remember(da.keys, policy, caps);
}

// Address class -> bitmap: the rules not using the field plus those of the
// class's atoms that this compile's rules use.
std::vector<uint32_t> class_bitmaps(CompileState& s, const CompileCache::Dir& st,
                                    const DirAtoms& da, std::optional<AddrMatch> Match::*field)
{
    // Atom id -> index of the atom in this compile (absent: no rules).
    std::vector<int64_t> index_of(st.names.size(), -1);
    for (uint32_t a = 0; a < da.keys.size(); ++a)
        index_of[st.atom_id.at(da.keys[a])] = a;
    const Bits base = s.base_without([&](const Match& m) { return (m.*field).has_value(); });
    std::vector<uint32_t> out;
    out.reserve(st.cb->classes().size());
    Bits b;
    for (const auto& cls : st.cb->classes()) {
        b = base; // no allocation after the first class
        for (uint32_t id : cls)
            if (index_of[id] >= 0)
                for (uint32_t r : da.atoms[size_t(index_of[id])].rules)
                    set_bit(b, r);
        out.push_back(s.pool.intern(b));
    }
    return out;
}

} // namespace

// Atoms (literal prefixes and named sets) are numbered in a canonical order,
// so the address tables depend only on the atoms and the sets' contents:
// when those did not change since the last compile with the same cache, the
// tables are reused and only the class bitmaps (which depend on the rules)
// are rebuilt.
void compile_addresses(CompileState& s, unsigned d)
{
    const std::string key = d ? "dst" : "src";
    const auto field = d ? &Match::dst : &Match::src;
    const DirAtoms da = collect_atoms(s, field, key, d ? XDPFW_FIELD_DST : XDPFW_FIELD_SRC);

    CompileCache::Dir local;
    CompileCache::Dir& st = s.opts.cache ? s.opts.cache->dir[d] : local;
    refresh_tables(st, da, s.policy, s.opts.caps, key);
    AddrTables& t = s.out.addr[d];
    t.v4 = st.v4;
    t.v6 = st.v6;
    t.tables_id = st.tables_id;
    t.class_bitmap = class_bitmaps(s, st, da, field);
}

} // namespace xdpfw::detail
