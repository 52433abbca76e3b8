// SPDX-License-Identifier: GPL-2.0-only
// The policy model: ordered rules, named prefix sets and a default action.
// Kernel-free; the rule parser builds it, the compiler and the reference
// classifier consume it. Semantics are in docs/RULES.md.
#pragma once

#include "lib/model/error.hpp"
#include "lib/model/inspect_rule.hpp"
#include "lib/model/rate_limit.hpp"

#include <array>
#include <atomic>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace xdpfw {

enum class Family : uint8_t { other = 0, ipv4 = 1, ipv6 = 2 };

// An IPv4 or IPv6 prefix. Address bytes are in network order; bits past len
// are always zero (parse() refuses text with host bits set).
struct Prefix {
    Family family = Family::ipv4;
    uint8_t len = 0;
    std::array<uint8_t, 16> addr{}; // IPv4 uses the first 4 bytes

    // Ordered by family, length, then address: the order sets are kept
    // sorted in. Compares words, not bytes: sets of a million prefixes are
    // merged and diffed on every change to them.
    std::strong_ordering operator<=>(const Prefix& o) const
    {
        if (auto c = (unsigned(family) << 8 | len) <=> (unsigned(o.family) << 8 | o.len); c != 0)
            return c;
        if (auto c = addr_word(0) <=> o.addr_word(0); c != 0)
            return c;
        return addr_word(1) <=> o.addr_word(1);
    }
    bool operator==(const Prefix&) const = default;

    // Parses "a.b.c.d", "a.b.c.d/len", "v6addr", "v6addr/len". Throws
    // std::invalid_argument naming what is wrong ("prefix length 33 > 32").
    static Prefix parse(const std::string& text);
    std::string str() const;
    unsigned max_len() const { return family == Family::ipv4 ? 32 : 128; }
    // True if a bit past len (up to max_len()) is set: what parse() refuses.
    bool host_bits_set() const;
    // True if addr (same family, network order, 4 or 16 bytes) is inside.
    bool contains(const std::array<uint8_t, 16>& a) const;
    // True if other is the same prefix or a more specific one inside this.
    bool contains(const Prefix& other) const;

private:
    // Address bytes 8i..8i+7 as a number (big-endian: ordered as the bytes).
    uint64_t addr_word(unsigned i) const
    {
        uint64_t w;
        std::memcpy(&w, addr.data() + 8 * i, 8);
        if constexpr (std::endian::native == std::endian::little)
            w = __builtin_bswap64(w);
        return w;
    }
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 0;
    bool contains(uint32_t port) const { return port >= lo && port <= hi; }
    bool operator==(const PortRange&) const = default;
};

// TCP flags bits as in the TCP header byte 13 (FIN=0x01 ... CWR=0x80).
struct TcpFlagsMatch {
    uint8_t mask = 0;
    uint8_t value = 0;
    bool operator==(const TcpFlagsMatch&) const = default;
};

// Source or destination: a literal prefix or a named set ("@name").
struct AddrMatch {
    std::variant<Prefix, std::string> what;
    bool is_set() const { return std::holds_alternative<std::string>(what); }
    const Prefix& prefix() const { return std::get<Prefix>(what); }
    const std::string& set_name() const { return std::get<std::string>(what); }
    bool operator==(const AddrMatch&) const = default;
};

// A packet's connection tracking state (ct=; abi.h enum xdpfw_ct_state).
enum class CtState : uint8_t { new_ = 0, established = 1, related = 2, invalid = 3 };
constexpr unsigned ct_state_count = 4;
const char* ct_state_name(CtState s);

enum class ActionType : uint8_t { drop = 0, pass = 1, xsk = 2, redirect = 3, count = 4,
                                  syncookie = 5 };

struct Action {
    ActionType type = ActionType::drop;
    std::string redirect_iface;               // ActionType::redirect
    ActionType xsk_fallback = ActionType::pass; // ActionType::xsk: pass or drop
    bool operator==(const Action&) const = default;
    bool terminal() const { return type != ActionType::count; }
};

// All present fields must hold for a rule to match.
struct Match {
    std::optional<std::string> iif;        // ingress interface name
    std::optional<uint16_t> vlan;          // outer VLAN id, 0..4095
    std::optional<Family> family;          // explicit or implied by a prefix
    std::optional<AddrMatch> src;
    std::optional<AddrMatch> dst;
    std::optional<uint8_t> proto;          // IP protocol number
    std::optional<PortRange> sport;
    std::optional<PortRange> dport;
    std::optional<TcpFlagsMatch> tcp_flags;
    std::optional<uint8_t> icmp_type;
    std::optional<uint8_t> icmp_code;
    // Ethertype after the VLAN tags (0x0600..0xffff; 0x0806 ARP, 0x0800
    // IPv4, ...): the one field that names non-IP frames.
    std::optional<uint16_t> ether;
    // Connection tracking states the packet may be in (bit 1 << CtState);
    // never 0. Matches IPv4/IPv6 packets only.
    std::optional<uint8_t> ct;
    // With a limit the rule matches only the packets over it (nftables'
    // "limit rate over"); a packet under it is charged and goes on to the
    // later rules.
    std::optional<RateLimit> limit;
    bool operator==(const Match&) const = default;
};

// A rule comment's limit (nftables allows 128 bytes too).
constexpr size_t max_comment_bytes = 128;

struct Rule {
    uint32_t id = 0;        // user-visible, assigned by the policy owner
    int32_t priority = 0;   // lower first; ties by id (insertion order)
    Match match;
    Action action;
    // sample=N: 1 in N packets this rule decides makes an event (ring
    // buffer, docs/RULES.md); 0: none. At most max_rule_sample.
    uint32_t sample = 0;
    // The operator's note (comment="..."): kept, shown in list/stats and the
    // metrics' labels; no effect on matching. At most max_comment_bytes.
    std::string comment;
    std::string text;       // canonical key=value form (format_rule)
    bool operator==(const Rule&) const = default;
};

// Prefix is plain data, so equal vectors compare as memory: a million
// prefixes in about half the time member-by-member takes.
bool same_prefixes(const std::vector<Prefix>& a, const std::vector<Prefix>& b);

// A named set's prefixes, deduplicated and sorted (normalize_set). Copies
// share them and nobody changes shared prefixes: a commit's candidate
// copies the policy without copying a million prefixes, and a set the
// commit did not change is the same object in both versions (shares()),
// which the compile cache and the kept policies see at once instead of
// comparing memory. Change a set with with()/without(), which also
// remember what changed, with edit(), or by assigning a new one.
class PrefixSet {
public:
    PrefixSet() = default;
    PrefixSet(std::vector<Prefix> prefixes);
    PrefixSet(std::initializer_list<Prefix> prefixes)
        : PrefixSet(std::vector<Prefix>(prefixes))
    {
    }

    const std::vector<Prefix>& prefixes() const;
    // Runs f(std::vector<Prefix>&) on prefixes this set alone holds (copied
    // first if shared; the caller keeps them sorted and unique); the
    // reference is f's only.
    template <typename F> void edit(F&& f)
    {
        std::forward<F>(f)(own());
        forget();
    }
    // This set with the prefixes of `in` (sorted, no repeats) added, or
    // taken out: the rest copied in runs between them, the digest updated
    // from this set's by the changed prefixes alone. The result remembers
    // what it gained and lost against this set (changes_from()).
    PrefixSet with(const std::vector<Prefix>& in) const;
    PrefixSet without(const std::vector<Prefix>& in) const;
    struct Changes {
        const std::vector<Prefix>& added;
        const std::vector<Prefix>& removed;
    };
    // What with()/without() changed to make this set from old, when that is
    // how it was made (old is this set's direct origin, alive); else none.
    std::optional<Changes> changes_from(const PrefixSet& old) const;

    // Holds the same prefixes as o because it shares them (not a compare).
    bool shares(const PrefixSet& o) const { return data_ == o.data_; }
    // What shares() compares (null: an empty set never edited).
    const void* storage() const { return data_.get(); }
    // A 64-bit hash of the prefixes (policy_source_hash, scheme 2): a sum
    // of one hash per prefix, so with()/without() update it by the changed
    // prefixes; computed once per content and kept with it.
    uint64_t digest() const;

    bool operator==(const PrefixSet& o) const
    {
        return shares(o) || same_prefixes(prefixes(), o.prefixes());
    }

private:
    struct Data {
        std::vector<Prefix> prefixes;
        // The sum of the prefixes' hashes, valid once summed (release).
        mutable std::atomic<uint64_t> sum{0};
        mutable std::atomic<bool> summed{false};
        // with()/without(): the set this one was made from (not kept alive
        // by it) and the difference.
        std::weak_ptr<const Data> origin;
        std::vector<Prefix> added, removed;
    };
    std::vector<Prefix>& own();
    void forget();
    uint64_t sum() const;
    PrefixSet merged(const std::vector<Prefix>& in, bool add) const;

    std::shared_ptr<Data> data_;
};

struct Policy {
    ActionType default_action = ActionType::pass;   // drop or pass
    ActionType malformed_action = ActionType::drop; // drop or pass
    // Frames that are neither IPv4 nor IPv6 (ARP, LLDP, ...) no rule
    // matches; default_action is for IP packets only. Drop or pass.
    ActionType default_non_ip_action = ActionType::pass;
    std::vector<Rule> rules;                        // any order; see evaluation_order()
    std::map<std::string, PrefixSet> sets;
    // Payload inspection rules the AF_XDP workers evaluate (first match by
    // (priority, id); ids 1..inspect::max_rules-1, their own id space).
    std::vector<inspect::InspectRule> inspect;
    bool operator==(const Policy&) const = default;

    // Rules sorted by (priority, id): the order the classifier walks them.
    std::vector<Rule> evaluation_order() const;
    // The same order without copying the rules (pointers into `rules`).
    std::vector<const Rule*> evaluation_order_refs() const;
};

// A bad rule, set or file. Names where (rule number or set name), which key
// and what is wrong; what() is the full sentence. The protocol code is set
// where the error arises: a rule's own problem (the parsers, the compiler's
// per-rule checks) is invalid_rule, the default; a rule naming a missing set
// is unknown_set, a policy as a whole that does not hold together (ids,
// default actions, set names) invalid_policy.
class PolicyError : public Error {
public:
    PolicyError(std::string where, std::string key, std::string problem,
                ErrorCode code = ErrorCode::invalid_rule);
    const std::string& where() const { return where_; }
    const std::string& key() const { return key_; }
    const std::string& problem() const { return problem_; }

private:
    std::string where_, key_, problem_;
};

// A policy that does not fit the loaded program's tables (rules, bitmaps,
// address classes, chunks, sparse blocks, IPv6 prefixes); the message names
// the table and its limit.
class CapacityError : public PolicyError {
public:
    CapacityError(std::string where, std::string key, std::string problem)
        : PolicyError(std::move(where), std::move(key), std::move(problem), ErrorCode::capacity)
    {
    }
};

// sample=N's limit: the kernel rule keeps N in 16 bits (abi.h, xdpfw_rule).
constexpr uint32_t max_rule_sample = 65535;

const char* action_name(ActionType a);
const char* family_name(Family f);

// Ethertypes with names in the rule language (ether=).
constexpr uint16_t ethertype_ipv4 = 0x0800;
constexpr uint16_t ethertype_arp = 0x0806;
constexpr uint16_t ethertype_ipv6 = 0x86dd;
constexpr uint16_t ethertype_lldp = 0x88cc;
// The family an ethertype's frames are parsed as (other for non-IP).
Family ethertype_family(uint16_t ethertype);

} // namespace xdpfw
