// SPDX-License-Identifier: GPL-2.0-only
// Compiler internals shared by its files (not for users of lib/compiler):
// rule bitmaps and their pool, the state of one compile and its steps.
#pragma once

#include "lib/compiler/compiler.hpp"

#include <string>
#include <vector>

namespace xdpfw::detail {

using Bits = std::vector<uint64_t>;

inline void set_bit(Bits& b, uint32_t i) { b[i / 64] |= uint64_t{1} << (i % 64); }
inline void clear_bit(Bits& b, uint32_t i) { b[i / 64] &= ~(uint64_t{1} << (i % 64)); }

struct BitsHash {
    size_t operator()(const Bits& b) const;
};

// Distinct bitmaps, appended to the policy in first-seen order
// (bitmaps.cpp). CapacityError past max_bitmaps.
class BitmapPool {
public:
    BitmapPool(std::vector<Bits>& out, uint32_t capacity) : out_(out), capacity_(capacity) {}
    uint32_t intern(const Bits& b);
    void reserve(size_t n); // room for n bitmaps without growing

private:
    void grow();

    std::vector<Bits>& out_;
    uint32_t capacity_;
    // Open addressing over out_'s indices (slot: index + 1, 0 empty), so a
    // bitmap is stored once, not again as a map key; a commit of 1,000
    // rules interns thousands.
    std::vector<uint32_t> slots_;
};

uint8_t action_code(ActionType a);
ActionType action_type(uint8_t code);
std::string rule_where(const Rule& r);
// iif= and redirect:IFACE names through opts.resolve; PolicyError naming the rule.
uint32_t resolve_iface(const CompileOptions& opts, const Rule& r, const std::string& key,
                       const std::string& name);

// What the steps of one compile share: the rules in evaluation order (rule
// i has bit i), the policy being filled and its bitmap pool.
struct CompileState {
    CompileState(const Policy& p, const CompileOptions& o, CompiledPolicy& c);

    // The policy's rules in evaluation order, by reference (a compile
    // must not copy a large policy's rules).
    class OrderedRules {
    public:
        explicit OrderedRules(const Policy& p) : refs_(p.evaluation_order_refs()) {}
        const Rule& operator[](size_t i) const { return *refs_[i]; }
        size_t size() const { return refs_.size(); }

    private:
        std::vector<const Rule*> refs_;
    };

    const Policy& policy;
    const CompileOptions& opts;
    OrderedRules rules;
    CompiledPolicy& out;
    BitmapPool pool;
    Bits empty; // n_words zero words

    uint32_t n() const { return static_cast<uint32_t>(rules.size()); }
    void use(xdpfw_field f) { out.used_fields |= static_cast<uint16_t>(1u << f); }
    // Bitmap of the rules that do not use a field: they admit every value.
    template <typename Uses> Bits base_without(Uses uses) const
    {
        Bits b = empty;
        for (uint32_t i = 0; i < n(); ++i)
            if (!uses(rules[i].match))
                set_bit(b, i);
        return b;
    }
};

// The steps of compile(), in order.
void compile_rules(CompileState& s);       // compiler.cpp: ids, actions, all_bitmap
void compile_ifindex(CompileState& s);     // scalar_fields.cpp
void compile_vlan(CompileState& s);        // scalar_fields.cpp
void compile_proto(CompileState& s);       // scalar_fields.cpp
void compile_ports(CompileState& s);       // scalar_fields.cpp
void compile_tcp_flags(CompileState& s);   // scalar_fields.cpp
void compile_icmp(CompileState& s);        // scalar_fields.cpp
void compile_ether(CompileState& s);       // scalar_fields.cpp
void compile_ct(CompileState& s);          // scalar_fields.cpp
void compile_addresses(CompileState& s, unsigned dir); // addresses.cpp

} // namespace xdpfw::detail
