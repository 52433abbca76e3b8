// SPDX-License-Identifier: GPL-2.0-only
// Differential test: on random policies and packets, the XDP program's
// verdict, winning rule and rule counters equal the reference classifier's.
#include "lib/reference/reference.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"
#include "testing/random_policy.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>

namespace xdpfw::test {
namespace {

// `order`: the policy's evaluation order (the verdict's rule index).
uint32_t expected_xdp_action(const Verdict& v, const std::vector<Rule>& order)
{
    switch (v.action) {
    case ActionType::drop: return XDP_DROP;
    case ActionType::pass: return XDP_PASS;
    case ActionType::redirect: return XDP_REDIRECT;
    case ActionType::xsk: { // no socket is bound: the rule's fallback
        const Rule& r = order[size_t(v.rule_index)];
        return r.action.xsk_fallback == ActionType::drop ? XDP_DROP : XDP_PASS;
    }
    case ActionType::count:
    case ActionType::syncookie: break; // random policies have none
    }
    return ~0u;
}

// How many packets took each table layout or spec path (docs/ARCHITECTURE.md,
// "Testing the semantics"), told from the policy the harness compiled: the
// tests assert that each is reached, so a generator change that stops
// reaching one fails them instead of quietly testing less.
using Paths = std::map<std::string, size_t>;

// Adds the paths pkt takes through the program run() used: the general
// classifier's interface slot and address tables (DIR-24 leaf, chunk or host
// table; an IPv6 prefix), or the specialised one's address paths (abi.h,
// struct xdpfw_spec: IPv4 ranges, class words in the spec, the live bitmap
// word).
void note_paths(const BpfHarness& h, const std::vector<Rule>& order, const PacketFields& pkt,
                const RunResult& got, const Verdict& want, Paths& paths)
{
    const CompiledPolicy& c = *h.compiled();
    if (h.spec_live()) {
        // Whether the generated program decided, or its fallback (the
        // compiled program, or for a bitmaps spec the general one): the
        // program that decided says (xdpfw_last.generated).
        if (h.spec_program()->generated())
            paths[got.verdict.generated ? (want.rule_index >= 0 ? "generated, rule" : "generated, default")
                                        : "generated, fallback"]++;
        if (pkt.family == Family::other || c.spec->bitmaps)
            return;
        // The spec looks an address up only while a rule is left after the
        // scalar fields: surely when a rule with that address field matched.
        const xdpfw_spec& s = *c.spec;
        // The lean lane takes untagged IPv4 frames (bpf/lib/spec.h).
        if (s.lean)
            paths[pkt.family == Family::ipv4 && !pkt.vlan ? "spec lean lane" : "spec lean, full path"]++;
        std::vector<const Rule*> matched;
        if (want.rule_index >= 0)
            matched.push_back(&order[size_t(want.rule_index)]);
        for (const Rule& r : order)
            if (std::find(want.counted.begin(), want.counted.end(), r.id) != want.counted.end())
                matched.push_back(&r);
        for (unsigned d = 0; d < XDPFW_DIRECTIONS; d++) {
            const unsigned f = XDPFW_FIELD_SRC + d;
            if (std::none_of(matched.begin(), matched.end(), [&](const Rule* r) {
                    return bool(d ? r->match.dst : r->match.src);
                }))
                continue;
            if (pkt.family == Family::ipv4 && (s.v4_inline & (1u << f)))
                paths["spec v4_inline"]++;
            else if (s.class_table & (1u << d))
                paths["spec class_table"]++;
            else
                paths["spec live word"]++;
        }
        return;
    }
    if (c.used_fields & (1u << XDPFW_FIELD_IFINDEX)) {
        const bool named = c.ifindex.count(pkt.ifindex) != 0;
        if (pkt.ifindex < XDPFW_IFINDEX_SLOTS)
            paths[named ? "iif direct, named" : "iif direct, default"]++;
        else
            paths[named ? "iif hash" : "iif hash, missing"]++;
    }
    if (pkt.family == Family::other)
        return;
    for (unsigned d = 0; d < XDPFW_DIRECTIONS; d++) {
        if (!(c.used_fields & (1u << (XDPFW_FIELD_SRC + d))))
            continue;
        const std::array<uint8_t, 16>& a = d ? pkt.dst : pkt.src;
        if (pkt.family == Family::ipv6) {
            if (c.addr[d].v6->lookup(a))
                paths["v6 prefix"]++;
            continue;
        }
        const V4Table& v4 = *c.addr[d].v4;
        if (v4.tbl24.empty())
            continue;
        const uint32_t addr =
            uint32_t(a[0]) << 24 | uint32_t(a[1]) << 16 | uint32_t(a[2]) << 8 | a[3];
        const uint32_t e = v4.tbl24[addr >> 8];
        switch (e >> XDPFW_TBL24_KIND_SHIFT) {
        case XDPFW_TBL24_LEAF:
            if (e & XDPFW_TBL24_VALUE_MASK)
                paths["v4 leaf"]++; // a prefix of /24 or shorter
            break;
        case XDPFW_TBL24_CHUNK: paths["v4 chunk"]++; break;
        case XDPFW_TBL24_HOSTS:
            paths[v4.find_host(addr) ? "v4 host table" : "v4 hosts block, other"]++;
            break;
        }
    }
}

// Each path of `want` taken by at least `min` packets.
void expect_paths(const Paths& paths, std::initializer_list<const char*> want, size_t min)
{
    std::string all;
    for (const auto& [name, n] : paths)
        all += "\n  " + name + ": " + std::to_string(n);
    for (const char* name : want) {
        auto it = paths.find(name);
        EXPECT_GE(it == paths.end() ? 0 : it->second, min) << name << "; paths taken:" << all;
    }
}

struct CheckOptions {
    LimitState* limits = nullptr;    // rate limits, at time 0
    std::vector<uint32_t> ifindexes; // ingress interfaces to draw from; empty: lo
    Paths* paths = nullptr;          // adds the paths the packets took
};

CheckOptions counting_paths(Paths& paths)
{
    CheckOptions o;
    o.paths = &paths;
    return o;
}

// Runs `packets` generated frames through the program and checks verdict,
// winning rule and rule counters against the reference. Counts hits.
void check_packets(BpfHarness& h, const Policy& policy, std::mt19937_64& rng, int packets,
                   const std::string& context, size_t& rule_hits, size_t& default_hits,
                   const CheckOptions& o = {})
{
    auto resolve = h.compile_options().resolve;
    const std::vector<Rule> order = policy.evaluation_order();
    LimitState* limits = o.limits;
    std::map<uint32_t, uint64_t> expect_counts, base;
    for (const Rule& r : policy.rules)
        base[r.id] = h.maps().rule_counter(r.id).packets;
    PacketGenerator gen(policy);
    for (int k = 0; k < packets; k++) {
        PacketFields pkt = gen.next(rng);
        // BPF_PROG_RUN's ingress is lo ("test0") unless told otherwise.
        pkt.ifindex = 1;
        if (!o.ifindexes.empty())
            pkt.ifindex = o.ifindexes[std::uniform_int_distribution<size_t>(
                0, o.ifindexes.size() - 1)(rng)];
        // An IPv6 next header that names an extension header is walked,
        // never final: such a "protocol" has no frame of its own.
        if (pkt.family == Family::ipv6 &&
            (pkt.proto == 0 || pkt.proto == 43 || pkt.proto == 44 || pkt.proto == 51 ||
             pkt.proto == 60))
            pkt.proto = 59;
        FrameSpec spec = spec_from_fields(pkt, rng);
        const std::vector<uint8_t> frame = build_frame(spec);
        // Limits that do not depend on the clock (limit_chance): time 0.
        LimitState unused;
        LimitClock clock{limits ? *limits : unused, 0, static_cast<uint32_t>(frame.size())};
        Verdict want = classify(policy, pkt, resolve, limits ? &clock : nullptr);
        RunResult got = o.ifindexes.empty() ? h.run(frame) : h.run(frame, pkt.ifindex);
        const uint32_t want_index = want.rule_index < 0 ? XDPFW_NO_RULE : uint32_t(want.rule_index);
        ASSERT_EQ(got.verdict.rule_index, want_index)
            << context << " packet " << k << ": " << describe(pkt) << "\nwant " << describe(want)
            << "\n" << describe(policy);
        ASSERT_EQ(got.xdp_action, expected_xdp_action(want, order))
            << context << ": " << describe(pkt) << "\n" << describe(policy);
        if (want.rule_index < 0) {
            // Which default decided: default for IP, default_non_ip for the rest.
            const bool ip = pkt.family != Family::other, drop = want.action == ActionType::drop;
            const uint32_t reason = ip ? (drop ? XDPFW_REASON_DEFAULT_DROP : XDPFW_REASON_DEFAULT_PASS)
                                       : (drop ? XDPFW_REASON_DEFAULT_NON_IP_DROP
                                               : XDPFW_REASON_DEFAULT_NON_IP_PASS);
            ASSERT_EQ(got.verdict.reason, reason)
                << context << ": " << describe(pkt) << "\n" << describe(policy);
        }
        if (o.paths)
            note_paths(h, order, pkt, got, want, *o.paths);
        for (uint32_t id : want.counted)
            expect_counts[id]++;
        if (want.rule_index >= 0) {
            expect_counts[want.rule_id]++;
            rule_hits++;
        } else {
            default_hits++;
        }
    }
    for (const Rule& r : policy.rules)
        ASSERT_EQ(h.maps().rule_counter(r.id).packets - base[r.id], expect_counts[r.id])
            << "rule " << r.id << " counter, " << context << "\n" << describe(policy);
}

// Packets a path needs to count as exercised by a test (expect_paths).
constexpr size_t kMinPathPackets = 20;

TEST(Differential, BpfEqualsReferenceOnRandomPolicies)
{
    enter_private_netns();
    BpfHarness h;
    std::mt19937_64 rng(0x5eed'f00d);
    constexpr int kPolicies = 60, kPackets = 2000;
    size_t rule_hits = 0, default_hits = 0;
    Paths paths;
    for (int pi = 0; pi < kPolicies; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = pi % 10 == 9 ? 300 : 40; // some span several bitmap words
        Policy policy = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);

        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, kPackets,
                                              "policy " + std::to_string(pi), rule_hits,
                                              default_hits, counting_paths(paths)));
    }
    // The generator must exercise rules, not only defaults, and every
    // layout of the address tables and the interface array.
    EXPECT_GT(rule_hits, size_t(kPolicies) * kPackets / 4);
    EXPECT_GT(default_hits, 0u);
    expect_paths(paths, {"v4 leaf", "v4 chunk", "v4 host table", "v6 prefix", "iif direct, named"},
                 kMinPathPackets);
}

// Ingress interfaces past the direct array (ifindex >= XDPFW_IFINDEX_SLOTS,
// the xdpfw_ifindex hash): a veth pair numbered 5000/5001, the first named
// by iif= rules, the second by none, beside lo and eth0 in the array.
TEST(Differential, InterfacesPastTheDirectArray)
{
    enter_private_netns();
    if (std::system("ip link show hi0 >/dev/null 2>&1 || "
                    "ip link add hi0 index 5000 type veth peer name hi1 index 5001") != 0)
        FAIL() << "cannot make veth hi0/hi1 numbered 5000/5001";
    static_assert(XDPFW_IFINDEX_SLOTS <= 5000);
    BpfHarness h;
    std::mt19937_64 rng(0x5eed'f011);
    size_t rule_hits = 0, default_hits = 0;
    Paths paths;
    CheckOptions o = counting_paths(paths);
    o.ifindexes = {1, 2, 3, 5000, 5001};
    for (int pi = 0; pi < 10; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = 20;
        opts.field_chance = 0.35;
        opts.ifaces = {"test0", "eth0", "hi0"};
        Policy policy = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, 400, "policy " + std::to_string(pi),
                                              rule_hits, default_hits, o));
    }
    EXPECT_GT(rule_hits, 0u);
    expect_paths(paths, {"iif direct, named", "iif direct, default", "iif hash", "iif hash, missing"},
                 kMinPathPackets);
}

// Rate limits whose outcome does not depend on the clock (rules that no
// packet exceeds, rules every packet after a bucket's first is over), per
// rule, source and destination: the bucket keys, the walk going on past a
// rule under its limit, and buckets kept across commits (by rule id, while
// the limit stays) equal the reference's.
TEST(Differential, RateLimitsEqualReference)
{
    enter_private_netns();
    BpfHarness h;
    std::mt19937_64 rng(0x5eed'11a1);
    LimitState limits; // one for the run: the program's buckets outlive commits
    CheckOptions with_limits;
    with_limits.limits = &limits;
    size_t rule_hits = 0, default_hits = 0;
    for (int pi = 0; pi < 20; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = 30;
        opts.limit_chance = 0.4;
        Policy policy = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, 500, "policy " + std::to_string(pi),
                                              rule_hits, default_hits, with_limits));
    }
    EXPECT_GT(rule_hits, 0u);
    EXPECT_GT(limits.buckets(), 20u);
}

// Small edits one after another, as an operator makes them: each commit
// patches the compile cache's tables and writes only the pages that changed
// into the inactive generation (which holds the policy of two commits ago).
// Every step must classify like the reference.
TEST(Differential, BpfEqualsReferenceAcrossIncrementalCommits)
{
    enter_private_netns();
    BpfHarness h;
    std::mt19937_64 rng(0x5eed'f00e);
    size_t rule_hits = 0, default_hits = 0;
    for (int walk = 0; walk < 3; walk++) {
        RandomPolicyOptions opts;
        opts.max_rules = 30;
        opts.max_set_prefixes = 80;
        Policy policy = random_policy(rng, opts);
        std::string log;
        for (int step = 0; step < 40; step++) {
            log += random_edit(rng, policy, opts, h.compile_options().caps.max_rules) + "\n";
            ASSERT_NO_THROW(h.commit(policy)) << log;
            ASSERT_NO_FATAL_FAILURE(check_packets(
                h, policy, rng, 150, "walk " + std::to_string(walk) + " step " + std::to_string(step) + "\n" + log,
                rule_hits, default_hits));
        }
    }
    EXPECT_GT(rule_hits, 0u);
    EXPECT_GT(default_hits, 0u);
}

// The specialised tier (a program with the policy in .rodata) on small
// random policies: each one that has a spec runs on its own spec program.
TEST(Differential, SpecialisedTierEqualsReference)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::specialised);
    std::mt19937_64 rng(0x5eed'f00f);
    constexpr int kPolicies = 30, kPackets = 800;
    size_t rule_hits = 0, default_hits = 0;
    int specialised = 0;
    Paths paths;
    for (int pi = 0; pi < kPolicies; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = pi % 4 == 3 ? 64 : 12;
        if (pi % 4 == 1) { // lean ones: drop, pass and count; small sets, few fields
            opts.max_rules = 8;
            opts.allow_redirect = opts.allow_xsk = false;
            opts.max_set_prefixes = 6;
            opts.field_chance = 0.15;
        }
        Policy policy = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        specialised += h.spec_live() ? 1 : 0;
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, kPackets,
                                              "policy " + std::to_string(pi) +
                                                  (h.spec_live() ? " (specialised)" : " (general)"),
                                              rule_hits, default_hits, counting_paths(paths)));
    }
    // Most small policies fit the tier; the test must exercise it, and each
    // way its program resolves an address.
    EXPECT_GE(specialised, kPolicies / 2);
    EXPECT_GT(rule_hits, size_t(kPolicies) * kPackets / 4);
    EXPECT_GT(default_hits, 0u);
    expect_paths(paths,
                 {"spec v4_inline", "spec class_table", "spec live word", "spec lean lane",
                  "spec lean, full path"},
                 kMinPathPackets);
}

// A lean policy whose set has too many prefixes for ranges: the programs
// look its addresses' classes up in the live tables.
Policy looked_up_policy(std::mt19937_64& rng)
{
    std::vector<std::string> big;
    const int n = 40 + int(rng() % 60);
    for (int i = 0; i < n; i++) {
        const int len = std::array<int, 6>{20, 24, 26, 28, 30, 32}[rng() % 6];
        const uint32_t a = (rng() % 2 ? 0x0a000000u : 0xac100000u) | uint32_t(rng() & 0x000fffff);
        const uint32_t masked = len == 32 ? a : a & ~((1u << (32 - len)) - 1);
        big.push_back(fmt::format("{}.{}.{}.{}/{}", masked >> 24, masked >> 16 & 255, masked >> 8 & 255,
                                  masked & 255, len));
    }
    std::vector<std::string> rules{"priority=1 src=@big proto=udp dport=1000-3000 action=drop",
                                   "priority=2 dst=@big action=pass", "priority=3 proto=tcp action=count",
                                   "priority=4 src=10.0.0.0/8 tcp_flags=SYN action=drop",
                                   "priority=5 src=@big action=pass"};
    std::shuffle(rules.begin(), rules.end(), rng);
    rules.resize(2 + rng() % 4);
    return make_policy(rules, rng() % 2 ? ActionType::drop : ActionType::pass, {{"big", big}});
}

// The generated program (lib/kernel/gen_program.hpp) on lean random
// policies of every field it reads, count rules among them: each one that
// has a generated program runs on it, its fallback on the compiled one.
TEST(Differential, GeneratedTierEqualsReference)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::generated);
    std::mt19937_64 rng(0x5eed'6e4e);
    constexpr int kPolicies = 40, kPackets = 800;
    size_t rule_hits = 0, default_hits = 0;
    int generated = 0, looked_up = 0;
    Paths paths;
    for (int pi = 0; pi < kPolicies; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = pi % 3 == 2 ? 30 : 6;
        opts.allow_redirect = opts.allow_xsk = false;
        opts.max_set_prefixes = 6;
        opts.field_chance = pi % 2 ? 0.15 : 0.35;
        opts.count_chance = pi % 4 == 0 ? 0.4 : 0.1;
        // Every third: a set past 16 ranges, whose classes are looked up
        // (prefixes from /20 to /32: DIR-24 leaves, chunks and host tables).
        Policy policy = pi % 3 == 1 ? looked_up_policy(rng) : random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        const bool gen = h.spec_live() && h.spec_program()->generated();
        generated += gen ? 1 : 0;
        if (gen && (h.compiled()->spec->lookup & ~h.compiled()->spec->v4_inline))
            looked_up++;
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, kPackets,
                                              "policy " + std::to_string(pi) +
                                                  (gen ? " (generated)" : " (not generated)"),
                                              rule_hits, default_hits, counting_paths(paths)));
    }
    EXPECT_GE(generated, kPolicies / 3);
    EXPECT_GE(looked_up, 3); // generated programs that look address classes up
    EXPECT_GT(rule_hits, size_t(kPolicies) * kPackets / 4);
    expect_paths(paths, {"generated, rule", "generated, default", "generated, fallback"}, kMinPathPackets);
}

// A policy of `rules` rules on a /24 each (a third also on a UDP port),
// with more distinct bitmaps than one page holds (abi.h, XDPFW_KPAGE_WORDS).
Policy many_pages_policy(std::mt19937_64& rng, int rules)
{
    std::vector<std::string> text;
    for (int i = 0; i < rules; i++)
        text.push_back(fmt::format("priority={} proto={} src=10.{}.{}.0/24{} action={}", i,
                                   rng() % 4 ? "udp" : "tcp", i / 256 % 16, i % 256,
                                   i % 3 ? "" : fmt::format(" dport={}", 1 + rng() % 50),
                                   rng() % 2 ? "drop" : "pass"));
    return make_policy(text, rng() % 2 ? ActionType::drop : ActionType::pass);
}

// The generated program of a bitmaps spec (abi.h: a policy past one word of
// rules or past a spec's ranges) on random policies of every field it
// reads: what it decides, and what it leaves to the general program
// (redirect and xsk rules, later words, IPv6, tags, chunks), equals the
// reference. One policy's bitmaps need many pages.
TEST(Differential, BitmapsGeneratedTierEqualsReference)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::generated);
    std::mt19937_64 rng(0x5eed'b17a);
    constexpr int kPolicies = 16, kPackets = 600;
    size_t rule_hits = 0, default_hits = 0;
    int bitmaps = 0, pages = 0;
    Paths paths, last;
    for (int pi = 0; pi < kPolicies; pi++) {
        RandomPolicyOptions opts;
        opts.count_chance = 0;
        opts.min_rules = pi % 3 == 0 ? 30 : 65;
        opts.max_rules = pi % 3 == 0 ? 64 : pi % 3 == 1 ? 200 : 600;
        opts.field_chance = pi % 2 ? 0.2 : 0.45;
        opts.allow_redirect = opts.allow_xsk = pi % 4 == 0;
        Policy policy = pi == kPolicies - 1 ? many_pages_policy(rng, 3000) : random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        const xdpfw_spec* spec = h.compiled()->spec.get();
        const bool gen = h.spec_live() && spec->bitmaps && h.spec_program()->generated();
        bitmaps += gen ? 1 : 0;
        pages = std::max(pages, gen ? int(spec->bm.pages) : 0);
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, kPackets,
                                              "policy " + std::to_string(pi) + (gen ? " (bitmaps)" : " (not)"),
                                              rule_hits, default_hits,
                                              counting_paths(pi == kPolicies - 1 ? last : paths)));
    }
    EXPECT_GE(bitmaps, kPolicies * 2 / 3);
    EXPECT_GE(pages, 3);
    expect_paths(last, {"generated, rule"}, 5); // through a page lookup per field
    for (const auto& [path, n] : last)
        paths[path] += n;
    EXPECT_GT(rule_hits, size_t(kPolicies) * kPackets / 8);
    expect_paths(paths, {"generated, rule", "generated, default", "generated, fallback"}, kMinPathPackets);
}

// `rounds` times: commit a random policy and let the tier build its
// program, then commit another with the tier frozen, so the program runs a
// policy that is not its own; the packets must follow the live one. stale
// counts the rounds that ran a stale program (a generated one, if
// `generated`).
void stale_rounds(BpfHarness& h, std::mt19937_64& rng, const RandomPolicyOptions& opts, int rounds,
                  int packets, bool generated, int& stale, size_t& rule_hits, size_t& default_hits)
{
    for (int pi = 0; pi < rounds; pi++) {
        h.freeze_tier(false);
        ASSERT_NO_THROW(h.commit(random_policy(rng, opts)));
        h.freeze_tier(true);
        Policy next = random_policy(rng, opts);
        ASSERT_NO_THROW(h.commit(next)) << describe(next);
        stale += h.spec_program() && !h.spec_live() && (!generated || h.spec_program()->generated());
        ASSERT_NO_FATAL_FAILURE(check_packets(h, next, rng, packets, "stale " + std::to_string(pi),
                                              rule_hits, default_hits));
    }
}

// A specialised program whose policy is no longer live (a commit landed
// before the daemon swapped in the next program) must classify by the live
// policy: it takes the general path. Also each step of an edit walk (set
// edits keep the spec where the addresses are read live, and make a new one
// where its IPv4 ranges change).
TEST(Differential, StaleSpecialisedProgramFollowsTheLivePolicy)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::specialised);
    std::mt19937_64 rng(0x5eed'f010);
    size_t rule_hits = 0, default_hits = 0;
    RandomPolicyOptions stale_opts;
    stale_opts.max_rules = 10;
    int stale = 0;
    ASSERT_NO_FATAL_FAILURE(stale_rounds(h, rng, stale_opts, 14, 600, false, stale, rule_hits, default_hits));
    EXPECT_GE(stale, 7);
    h.freeze_tier(false);
    int live_steps = 0;
    RandomPolicyOptions opts;
    opts.max_rules = 10;
    opts.max_set_prefixes = 80;
    Policy policy = random_policy(rng, opts);
    std::string log;
    for (int step = 0; step < 40; step++) {
        log += random_edit(rng, policy, opts, h.compile_options().caps.max_rules) + "\n";
        ASSERT_NO_THROW(h.commit(policy)) << log;
        live_steps += h.spec_live() ? 1 : 0;
        if (!h.spec_live())
            log += "  (general: " + h.spec_why_not() + ")\n";
        ASSERT_NO_FATAL_FAILURE(check_packets(h, policy, rng, 150, "step " + std::to_string(step) + "\n" + log,
                                              rule_hits, default_hits));
    }
    EXPECT_GE(live_steps, 10) << log;
    EXPECT_GT(rule_hits, 0u);
}

// The same for a generated program: its policy no longer live, it hands
// every frame to the compiled program, which hands it to the general one.
TEST(Differential, StaleGeneratedProgramFollowsTheLivePolicy)
{
    enter_private_netns();
    BpfHarness h;
    h.set_tier(Tier::generated);
    std::mt19937_64 rng(0x5eed'f011);
    size_t rule_hits = 0, default_hits = 0;
    RandomPolicyOptions opts;
    opts.max_rules = 6;
    opts.allow_redirect = opts.allow_xsk = false;
    opts.max_set_prefixes = 6;
    opts.field_chance = 0.2;
    int stale = 0;
    ASSERT_NO_FATAL_FAILURE(stale_rounds(h, rng, opts, 16, 400, true, stale, rule_hits, default_hits));
    EXPECT_GE(stale, 6);
    EXPECT_GT(rule_hits, 0u);
}

} // namespace
} // namespace xdpfw::test
