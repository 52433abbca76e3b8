// SPDX-License-Identifier: GPL-2.0-only
// Connection tracking in the XDP program against the reference tracker and
// classifier: random policies with ct= words, packets of every tracked kind
// (TCP with each flag pattern, UDP, ICMP echo, ICMP errors quoting a flow,
// other protocols, fragments, non-IP) against a flow table preset at random
// (no entry, an entry in each state and direction, an expired one). Checks
// the verdict and the entry the packet leaves behind.
#include "lib/kernel/conntrack.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/reference/conntrack.hpp"
#include "lib/reference/reference.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/packet_builder.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"
#include "testing/random_policy.hpp"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <ctime>

namespace xdpfw::test {
namespace {

xdpfw_ct_key to_abi(const CtKey& k)
{
    xdpfw_ct_key a{};
    a.family = static_cast<uint8_t>(k.family);
    a.proto = k.proto;
    a.port_a = k.port_a;
    a.port_b = k.port_b;
    std::copy(k.addr_a.begin(), k.addr_a.end(), a.addr_a);
    std::copy(k.addr_b.begin(), k.addr_b.end(), a.addr_b);
    return a;
}

uint64_t monotonic_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Adds ct= to some rules (not to non-IP ether= rules, which refuse it).
void add_ct_words(Policy& p, std::mt19937_64& rng)
{
    for (Rule& r : p.rules) {
        if (r.match.ether && ethertype_family(*r.match.ether) == Family::other)
            continue;
        if (std::uniform_int_distribution<int>(0, 2)(rng) == 0)
            continue;
        r.match.ct = static_cast<uint8_t>(std::uniform_int_distribution<int>(1, 15)(rng));
        r.text = format_rule(r);
    }
}

// A packet of a kind the tracker tells apart, with the policy's addresses.
struct CtCase {
    CtPacket pkt;
    FrameSpec spec;
};

CtCase make_case(std::mt19937_64& rng, const PacketGenerator& gen)
{
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    PacketFields f = gen.next(rng);
    f.ifindex = 1;
    CtCase c;
    const bool ip = f.family == Family::ipv4 || f.family == Family::ipv6;
    const uint8_t icmp = f.family == Family::ipv6 ? 58 : 1;
    const int kind = ip ? pick(6) : 6;
    static constexpr uint8_t flag_sets[] = {0x02, 0x12, 0x10, 0x11, 0x04, 0x14, 0x18, 0x03};
    if (kind <= 1) { // TCP
        f.proto = 6;
        f.has_l4 = pick(10) != 0;
        f.sport = uint16_t(1000 + pick(3));
        f.dport = uint16_t(22 + pick(2));
        f.tcp_flags = flag_sets[pick(8)];
    } else if (kind == 2) { // UDP
        f.proto = 17;
        f.has_l4 = pick(10) != 0;
        f.sport = uint16_t(5000 + pick(2));
        f.dport = 53;
    } else if (kind == 3 || kind == 4) { // ICMP echo or error
        f.proto = icmp;
        f.has_l4 = pick(10) != 0;
        const bool v6 = f.family == Family::ipv6;
        const uint8_t types[] = {uint8_t(v6 ? 128 : 8), uint8_t(v6 ? 129 : 0),
                                 uint8_t(v6 ? 1 : 3), uint8_t(v6 ? 3 : 11), uint8_t(v6 ? 134 : 9)};
        f.icmp_type = types[kind == 3 ? pick(2) : 2 + pick(3)];
        f.icmp_code = 0;
    } else if (kind == 5) { // another protocol
        f.proto = 47;
        f.has_l4 = false;
    }
    if (!f.has_l4) {
        f.sport = f.dport = 0;
        f.tcp_flags = 0;
        f.icmp_type = f.icmp_code = 0;
    }
    if (f.proto != 6)
        f.tcp_flags = 0;
    c.pkt.fields = f;
    c.spec = spec_from_fields(f, rng);
    if (ip && f.proto == icmp && f.has_l4) {
        c.pkt.icmp_rest = true;
        c.pkt.echo_id = 0x4242; // what build_frame writes
        const bool error = (f.family == Family::ipv4 && (f.icmp_type == 3 || f.icmp_type == 11)) ||
                           (f.family == Family::ipv6 && (f.icmp_type == 1 || f.icmp_type == 3));
        if (error) {
            // The quoted packet: one the other side (our dst) was sent by us (src)? No:
            // an error about a packet that went from dst to src, as a router sends it back.
            FrameSpec inner;
            inner.family = f.family;
            inner.src = f.dst;
            inner.dst = f.src;
            inner.proto = pick(2) ? 17 : 6;
            inner.sport = uint16_t(pick(2) ? 5000 : 1000);
            inner.dport = uint16_t(pick(2) ? 53 : 22);
            inner.payload_len = 8;
            std::vector<uint8_t> bytes = build_frame(inner);
            c.spec.payload.assign(bytes.begin() + 14, bytes.end());
            c.pkt.quoted = CtPacket::Quoted{inner.proto, inner.src, inner.dst, inner.sport,
                                            inner.dport};
        }
    }
    return c;
}

// The flows the case's packet and quote belong to, preset in both tables.
void preset(std::mt19937_64& rng, const CtCase& c, CtTable& ref, int fd, uint64_t now,
            std::vector<xdpfw_ct_key>& written)
{
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    const PacketFields& f = c.pkt.fields;
    std::vector<CtKey> keys;
    const bool echo = c.pkt.icmp_rest;
    const bool ports = f.has_l4 && (f.proto == 6 || f.proto == 17);
    const uint16_t sp = ports ? f.sport : echo ? c.pkt.echo_id : 0;
    const uint16_t dp = ports ? f.dport : echo ? c.pkt.echo_id : 0;
    if (f.family != Family::other)
        keys.push_back(ct_key(f.family, f.proto, f.src, sp, f.dst, dp).first);
    if (c.pkt.quoted) {
        const auto& q = *c.pkt.quoted;
        keys.push_back(ct_key(f.family, q.proto, q.src, q.sport, q.dst, q.dport).first);
    }
    for (const CtKey& k : keys) {
        if (pick(4) == 0)
            continue; // no entry
        const bool tcp = k.proto == 6;
        CtEntry e;
        e.state = uint8_t(tcp ? 1 + pick(5) : 6 + pick(2));
        e.orig = uint8_t(pick(2));
        e.expires_ns = pick(5) == 0 ? 1 : now + 3600ull * 1000000000ull;
        ref[k] = e;
        const xdpfw_ct_key a = to_abi(k);
        const xdpfw_ct_entry v{e.expires_ns, e.state, e.orig, {}};
        ASSERT_EQ(bpf_map_update_elem(fd, &a, &v, BPF_ANY), 0);
        written.push_back(a);
    }
}

void check_policy(BpfHarness& h, const Policy& policy, std::mt19937_64& rng, int packets,
                  const std::string& context, size_t& ct_hits)
{
    FlowTable flows(h.object());
    const int fd = flows.table_fd();
    ASSERT_GE(fd, 0);
    auto resolve = h.compile_options().resolve;
    // A policy without ct= (add_ct_words may give none) tracks nothing:
    // the table must stay as preset.
    bool tracks = false;
    for (const Rule& r : policy.rules)
        tracks = tracks || r.match.ct;
    PacketGenerator gen(policy);
    for (int k = 0; k < packets; k++) {
        const CtCase c = make_case(rng, gen);
        CtTable ref;
        std::vector<xdpfw_ct_key> written;
        const uint64_t now = monotonic_ns();
        ASSERT_NO_FATAL_FAILURE(preset(rng, c, ref, fd, now, written));
        const CtStep st = ct_step(ref, c.pkt, now);
        PacketFields f = c.pkt.fields;
        f.ct = st.state;
        const Verdict want = classify(policy, f, resolve);
        const RunResult got = h.run(build_frame(c.spec));
        const std::string what = context + " packet " + std::to_string(k) + ": " + describe(f) +
                                 " ct=" + ct_state_name(st.state) + (st.none ? "(none)" : "") +
                                 "\nwant " + describe(want) + "\n" + describe(policy);
        const uint32_t want_index = want.rule_index < 0 ? XDPFW_NO_RULE : uint32_t(want.rule_index);
        ASSERT_EQ(got.verdict.rule_index, want_index) << what;
        if (want.rule_index >= 0 && policy.evaluation_order()[size_t(want.rule_index)].match.ct)
            ct_hits++;
        // The entry left behind: the reference's step when let through.
        if (got.xdp_action != XDP_DROP && tracks)
            ct_apply(ref, st);
        for (const auto& [key, e] : ref) {
            const xdpfw_ct_key a = to_abi(key);
            xdpfw_ct_entry v{};
            ASSERT_EQ(bpf_map_lookup_elem(fd, &a, &v), 0) << what;
            ASSERT_EQ(int(v.state), int(e.state)) << what;
            ASSERT_EQ(int(v.orig), int(e.orig)) << what;
            written.push_back(a);
        }
        for (const xdpfw_ct_key& a : written)
            bpf_map_delete_elem(fd, &a);
    }
    close(fd);
}

void run_random(Tier tier, uint64_t seed)
{
    enter_private_netns();
    BpfHarness h(small_load_options());
    h.set_tier(tier);
    std::mt19937_64 rng(seed);
    size_t ct_hits = 0;
    int specialised = 0;
    for (int pi = 0; pi < 30; pi++) {
        RandomPolicyOptions opts;
        opts.max_rules = tier == Tier::specialised ? 12 : 30;
        opts.max_set_prefixes = 20;
        Policy policy = random_policy(rng, opts);
        add_ct_words(policy, rng);
        ASSERT_NO_THROW(h.commit(policy)) << describe(policy);
        specialised += h.spec_live() ? 1 : 0;
        ASSERT_NO_FATAL_FAILURE(
            check_policy(h, policy, rng, 400, "policy " + std::to_string(pi), ct_hits));
    }
    EXPECT_GT(ct_hits, 500u);
    if (tier == Tier::specialised) {
        EXPECT_GE(specialised, 15);
    }
}

TEST(Conntrack, BpfEqualsReferenceOnRandomPoliciesAndFlows)
{
    run_random(Tier::general, 0xc0'11ec7);
}

TEST(Conntrack, SpecialisedTierEqualsReference)
{
    run_random(Tier::specialised, 0xc0'11ec8);
}

// A policy without ct= makes no flow table; the first one with ct= does,
// of ct_max_flows entries; a flush replaces it by an empty one.
TEST(Conntrack, FlowTableMadeOnFirstUseAndFlushed)
{
    enter_private_netns();
    LoadOptions o = small_load_options();
    o.ct_max_flows = 2048;
    BpfHarness h(o);
    FlowTable flows(h.object());
    h.commit(make_policy({"proto=tcp action=pass"}));
    EXPECT_EQ(flows.table_fd(), -1);
    EXPECT_FALSE(flows.counters().table);
    h.commit(make_policy({"priority=1 ct=established,related action=pass",
                          "priority=2 ct=new proto=udp dport=53 action=pass", "priority=3 action=drop"}));
    const int fd = flows.table_fd();
    ASSERT_GE(fd, 0);
    bpf_map_info mi{};
    uint32_t len = sizeof(mi);
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &mi, &len), 0);
    EXPECT_EQ(mi.max_entries, 2048u);
    EXPECT_EQ(mi.type, uint32_t(BPF_MAP_TYPE_LRU_HASH));
    close(fd);
    // Out, back: a UDP flow opens (rule 2) and its reply is established (rule 1).
    FrameSpec out = frame("10.0.0.1", "10.0.0.2", 17, 4000, 53);
    FrameSpec back = frame("10.0.0.2", "10.0.0.1", 17, 53, 4000);
    EXPECT_EQ(h.run(build_frame(back)).xdp_action, uint32_t(XDP_DROP));
    EXPECT_EQ(h.run(build_frame(out)).verdict.rule_id, 2u);
    EXPECT_EQ(h.run(build_frame(back)).verdict.rule_id, 1u);
    CtCounters c = flows.counters();
    EXPECT_TRUE(c.table);
    EXPECT_EQ(c.max_flows, 2048u);
    EXPECT_EQ(c.insertions, 1u);
    EXPECT_EQ(c.entries, 1u);
    EXPECT_EQ(c.lookups, 3u);
    EXPECT_GT(c.table_bytes, 2048u * 56);
    ASSERT_EQ(flows.list(10, monotonic_ns()).size(), 1u);
    EXPECT_EQ(flows.flush(), 1u);
    EXPECT_TRUE(flows.list(10, monotonic_ns()).empty());
    EXPECT_EQ(h.run(build_frame(back)).xdp_action, uint32_t(XDP_DROP));
    c = flows.counters();
    EXPECT_EQ(c.entries, 0u);
    EXPECT_EQ(c.flushes, 1u);
    // Committing again keeps the (empty) table; a full one estimates evictions.
    h.commit(make_policy({"ct=new action=pass"}));
    for (uint32_t i = 0; i < 2100; i++) {
        FrameSpec s = frame("10.0.0.1", "10.0.0.2", 17, uint16_t(1000 + i), 53);
        h.run(build_frame(s));
    }
    c = flows.counters();
    EXPECT_EQ(c.insertions, 2101u);
    EXPECT_EQ(c.entries, 2048u);
    EXPECT_EQ(c.evictions, 2100u - 2048u);
}

} // namespace
} // namespace xdpfw::test
