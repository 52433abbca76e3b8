// SPDX-License-Identifier: GPL-2.0-only
// Commits under traffic (docs/ARCHITECTURE.md, "Atomic commits: two
// generations"): while the main thread commits policies A and B in turn, a
// second thread runs probes through BPF_PROG_RUN, and each probe must get A's
// outcome or B's. The two policies are built so that a packet classified
// partly by one generation and partly by the other gets an outcome that
// neither policy gives.
#include "lib/compiler/compiler.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/kernel/spec_program.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/reference/reference.hpp"
#include "testing/bpf_harness.hpp"
#include "testing/policy_text.hpp"
#include "testing/private_netns.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <optional>
#include <random>
#include <system_error>
#include <thread>

namespace xdpfw::test {
namespace {

// The match fields the two policies disagree on.
enum Field { kSrc, kDst, kProto, kDport, kFields };

// Rule "content" k of n (k < 256, n a multiple of 8): every field names
// value k, the protocol by k's parity, the port by k mod 8 (the specialised
// tier takes at most 16 ranges a field).
//   src   @s<k>: A: 10.0.k.0/24 (a DIR-24 entry) and 2001:db8:1:k::/64;
//                B: the same addresses as two /25s (a chunk) and two /65s
//   dst   @d<k>: 172.16.(k%4).k/32 (the host table) and 2001:db8:2::k/128
//   proto tcp for even k, udp for odd k
//   dport 2000+10(k%8) .. 2000+10(k%8)+4
// A rule matches the probes whose fields all carry its k (the protocol and
// port modulo 2 and 8; the addresses pick the rule). Policy A holds content
// k at bit k (id k+1), policy B content k+1 (mod n) there (id 1000+k+1): the
// same rules one place further on, so every field's bitmap for a value
// differs between A and B (A: bit k, B: bit k-1; for the protocol and port,
// every 2nd or 8th bit from there), and no rule id is in both (a rule's id
// is its counter). A's default is pass and B's drop. B has one more rule,
// last, that no probe matches: iif=eth0. The interface field is compiled
// first, so its bitmap (every rule but that one) enters B's bitmap pool
// before all that the probes use, and B's reference to a bitmap is not A's
// reference to the same field and value (bitmaps.cpp numbers them in that
// order): a reference read from one generation picks another bitmap in the
// other's pool. With many_classes, 7 more rules that no probe matches name
// sets x0..x6, which give 127 /24s of 10.1.0.0/16 one source class each:
// more than the 64 a spec carries (XDPFW_SPEC_MAX_CLASSES). With leaf_dst,
// destination k is 172.16.k.0/24 instead of 172.16.(k % 4).k/32.
Policy shifted_policy(uint32_t n, uint32_t shift, bool many_classes, bool leaf_dst)
{
    Policy p;
    p.default_action = shift ? ActionType::drop : ActionType::pass;
    const uint32_t first_id = shift ? 1001 : 1;
    for (uint32_t b = 0; b < n; b++) {
        const uint32_t k = (b + shift) % n;
        const uint32_t port = 2000 + 10 * (k % 8);
        Rule r = parse_rule(fmt::format("src=@s{} dst=@d{} proto={} dport={}-{} action={}", k, k,
                                        k % 2 ? "udp" : "tcp", port, port + 4,
                                        k % 2 ? "pass" : "drop"),
                            "rule");
        r.id = first_id + b;
        p.rules.push_back(r);
    }
    for (uint32_t j = 0; many_classes && j < 7; j++) {
        Rule r = parse_rule(fmt::format("src=@x{} dst=192.0.2.1 action=drop", j), "rule");
        r.id = first_id + n + j;
        p.rules.push_back(r);
        for (uint32_t block = 1; block < 128; block++)
            if (block >> j & 1)
                p.sets[fmt::format("x{}", j)].edit([&](std::vector<Prefix>& v) {
                    v.push_back(Prefix::parse(fmt::format("10.1.{}.0/24", block)));
                });
    }
    if (shift) {
        Rule r = parse_rule("iif=eth0 dst=192.0.2.1 action=drop", "rule");
        r.id = first_id + n + 7;
        p.rules.push_back(r);
    }
    for (uint32_t k = 0; k < n; k++) {
        PrefixSet& src = p.sets[fmt::format("s{}", k)];
        if (shift == 0)
            src = {Prefix::parse(fmt::format("10.0.{}.0/24", k)),
                   Prefix::parse(fmt::format("2001:db8:1:{:x}::/64", k))};
        else
            src = {Prefix::parse(fmt::format("10.0.{}.0/25", k)),
                   Prefix::parse(fmt::format("10.0.{}.128/25", k)),
                   Prefix::parse(fmt::format("2001:db8:1:{:x}::/65", k)),
                   Prefix::parse(fmt::format("2001:db8:1:{:x}:8000::/65", k))};
        p.sets[fmt::format("d{}", k)] = {
            Prefix::parse(leaf_dst ? fmt::format("172.16.{}.0/24", k) : fmt::format("172.16.{}.{}/32", k % 4, k)),
            Prefix::parse(fmt::format("2001:db8:2::{:x}/128", k))};
        normalize_set(p.sets[fmt::format("s{}", k)]);
        normalize_set(p.sets[fmt::format("d{}", k)]);
    }
    validate_policy(p);
    return p;
}

// What one run shows: the XDP action, the reason and the winning rule.
struct Outcome {
    uint32_t action = 0;
    uint32_t reason = 0;
    uint32_t rule_id = XDPFW_NO_RULE;
    bool operator==(const Outcome&) const = default;
};

std::string describe(const Outcome& o)
{
    const char* action = o.action == XDP_DROP ? "drop" : o.action == XDP_PASS ? "pass" : "other";
    if (o.rule_id == XDPFW_NO_RULE)
        return fmt::format("{} ({})", action, reason_name(o.reason));
    return fmt::format("{} ({}, rule {})", action, reason_name(o.reason), o.rule_id);
}

Outcome reference_outcome(const Policy& p, const PacketFields& pkt, const IfaceResolver& resolve)
{
    const Verdict v = classify(p, pkt, resolve);
    const bool drop = v.action == ActionType::drop;
    Outcome o{drop ? uint32_t(XDP_DROP) : uint32_t(XDP_PASS), 0, XDPFW_NO_RULE};
    if (v.rule_index < 0) {
        o.reason = drop ? XDPFW_REASON_DEFAULT_DROP : XDPFW_REASON_DEFAULT_PASS;
    } else {
        o.reason = drop ? XDPFW_REASON_RULE_DROP : XDPFW_REASON_RULE_PASS;
        o.rule_id = v.rule_id;
    }
    return o;
}

Outcome outcome_of(const RunResult& r)
{
    return Outcome{r.xdp_action, r.verdict.reason, r.verdict.rule_id};
}

struct Probe {
    std::string what;
    std::vector<uint8_t> frame;
    Outcome a, b; // by the reference
    size_t plain; // the probe of the same base and family with no field shifted
};

// A probe carries value i in every field, or i+1 in the fields of `shifted`.
// i everywhere (the plain probe): A and B match it (bits i and i-1), and a
// mix matches no rule
// (one field admits bit i, another bit i-1). Some fields at i+1: neither
// policy matches it, but the mix that takes exactly those fields from B and
// the rest from A does (bit i; and the mix the other way round matches the
// probe that shifts the other fields). Shifted are no field, one field, or
// all fields but one (a mix of more fields each way ends at the default on
// the plain probe). Families v4 and v6.
std::vector<Probe> make_probes(uint32_t n, const Policy& a, const Policy& b,
                               const IfaceResolver& resolve, bool leaf_dst)
{
    std::vector<uint32_t> bases{0, 1, n / 2, n - 1};
    if (n > 64) { // across the first and second rule word
        bases.push_back(63);
        bases.push_back(64);
    }
    std::vector<Probe> probes;
    for (bool v6 : {false, true})
        for (uint32_t i : bases)
            for (uint32_t shifted = 0, plain = uint32_t(probes.size());
                 shifted + 1 < (1u << kFields); shifted++) {
                if (std::popcount(shifted) == 2)
                    continue;
                auto at = [&](Field f) { return (i + (shifted >> f & 1)) % n; };
                const uint32_t s = at(kSrc), d = at(kDst);
                // Odd bases: the upper /25 (/65) of B's source prefixes.
                const std::string src =
                    v6 ? fmt::format("2001:db8:1:{:x}:{}::7", s, i % 2 ? "8000" : "0")
                       : fmt::format("10.0.{}.{}", s, i % 2 ? 200 : 7);
                const std::string dst = v6 ? fmt::format("2001:db8:2::{:x}", d)
                                   : leaf_dst ? fmt::format("172.16.{}.1", d)
                                              : fmt::format("172.16.{}.{}", d % 4, d);
                const uint8_t proto = at(kProto) % 2 ? 17 : 6;
                const uint16_t dport = uint16_t(2002 + 10 * (at(kDport) % 8));
                const FrameSpec spec = frame(src, dst, proto, 1024, dport);
                const PacketFields pkt = expected_fields(spec, 1);
                probes.push_back(Probe{
                    fmt::format("{} -> {} proto {} dport {} (base {}, shifted fields {:04b})", src,
                                dst, proto, dport, i, shifted),
                    build_frame(spec), reference_outcome(a, pkt, resolve),
                    reference_outcome(b, pkt, resolve), plain});
            }
    return probes;
}

// Which program the traffic runs while the policies change.
enum class Program {
    general,      // the general program throughout
    stale_spec,   // A's specialised program throughout: B through its tail call
    swapped_spec, // each commit's own specialised program, swapped in after it
    swapped_generated, // the same, generated programs (lib/kernel/gen_program.hpp)
};

struct RaceCase {
    const char* name;
    uint32_t rules;
    Program program;
    bool many_classes;    // shifted_policy()
    uint32_t class_table; // spec: the directions whose classes' rule words it carries
    int commits;
    // shifted_policy(): destinations in /24s (DIR-24 leaves) instead of
    // /32s (host tables), so a generated program decides A's IPv4 probes.
    bool leaf_dst = false;
};

// Runs of a probe in one BPF_PROG_RUN. A mix can only come from a
// generation switch while a run is between its lookups, a few hundred ns:
// the traffic thread must spend its time in runs. A call that repeats
// costs a fixed ~0.5 ms here (the kernel puts the program on the XDP
// dispatcher for the loop), so the calls are long; their outcomes are in
// the counters (the program counts every run once: its rule's counter, or
// a default's reason), the last run's in xdpfw_last.
constexpr uint32_t kRepeat = 4096;

// How many runs have had outcome o so far.
uint64_t counted(const PolicyMaps& maps, const Outcome& o)
{
    if (o.rule_id == XDPFW_NO_RULE)
        return maps.raw_reason_counter(o.reason).packets;
    return maps.rule_counter(o.rule_id).packets;
}

// Puts the calling thread on one CPU; returns the affinity it had. The
// traffic and the commits run on two: a switch mixes a packet's lookups
// only while that packet runs on another CPU (a run is not preempted where
// the kernel preempts only between runs), and two threads the scheduler
// places share one CPU on a loaded machine more often than not.
cpu_set_t pin_to_cpu(int cpu)
{
    cpu_set_t before, set;
    CPU_ZERO(&before);
    CPU_ZERO(&set);
    CPU_SET(cpu % int(std::max(1u, std::thread::hardware_concurrency())), &set);
    int err = pthread_getaffinity_np(pthread_self(), sizeof(before), &before);
    if (!err)
        err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (err) // the pthread calls return the error; errno is not set
        throw std::system_error(err, std::generic_category(), "pin to a CPU");
    return before;
}

// What the traffic thread saw.
struct Traffic {
    std::atomic<uint64_t> calls{0};
    std::atomic<bool> stop{false}, stopped{false};
    std::atomic<bool> all_seen{false};         // every probe has had both outcomes
    std::vector<std::array<uint64_t, 2>> seen; // per probe: runs with A's outcome, B's
    std::vector<std::string> wrong;            // the first few
    uint64_t wrong_total = 0;
    std::string error;
};

// Runs the probes in turn, kRepeat times a call, through the program that
// prog_fd names when the call starts, until told to stop. Every run must
// have A's outcome or B's: those two outcomes' counters must grow by
// kRepeat together, and the last run must have one of them.
void run_traffic(const BpfHarness& h, const PolicyMaps& maps, const std::vector<Probe>& probes,
                 const std::atomic<int>& prog_fd, Traffic& t)
{
    try {
        pin_to_cpu(1);
        // Every other call runs a probe with no field shifted: any mix of
        // lookups gives those a wrong outcome.
        std::vector<std::pair<size_t, size_t>> pairs;
        for (size_t k = 0; k < probes.size(); k++)
            if (probes[k].plain != k)
                pairs.emplace_back(k, probes[k].plain);
        // A new order each sweep: where a call takes about as long as a
        // commit (BPF_PROG_RUN's dispatcher update waits for an RCU grace
        // period, tens of ms when they are not expedited), a fixed order
        // can meet the commits in step, so that a probe only ever meets
        // one policy.
        std::mt19937 shuffle_rng(0x5eed);
        std::vector<size_t> order;
        size_t both = 0;
        for (uint64_t sweep = 0; !t.stop.load(); sweep++) {
            std::shuffle(pairs.begin(), pairs.end(), shuffle_rng);
            order.clear();
            for (const auto& [k, plain] : pairs)
                order.insert(order.end(), {k, plain});
            for (size_t n = 0; n < order.size() && !t.stop.load(); n++) {
                const size_t k = order[n];
                const Probe& p = probes[k];
                const int fd = prog_fd.load();
                const uint64_t a0 = counted(maps, p.a), b0 = counted(maps, p.b);
                const Outcome last = outcome_of(h.run_program(fd, p.frame, kRepeat));
                const uint64_t a = counted(maps, p.a) - a0, b = counted(maps, p.b) - b0;
                const uint64_t call = t.calls.fetch_add(1);
                if (a + b != kRepeat || (last != p.a && last != p.b)) {
                    if (t.wrong_total++ < 10)
                        t.wrong.push_back(fmt::format(
                            "sweep {} call {} program fd {}: probe {} {}: of {} runs {} had A's "
                            "outcome {}, {} B's {}, {} another; the last: {}",
                            sweep, call, fd, k, p.what, kRepeat, a, describe(p.a), b,
                            describe(p.b), kRepeat - a - b, describe(last)));
                    continue;
                }
                const bool had_both = t.seen[k][0] && t.seen[k][1];
                t.seen[k][0] += a;
                t.seen[k][1] += b;
                if (!had_both && t.seen[k][0] && t.seen[k][1] && ++both == probes.size())
                    t.all_seen = true;
            }
        }
    } catch (const std::exception& e) {
        t.error = e.what();
    }
    t.stopped = true;
}

class CommitRace : public ::testing::TestWithParam<RaceCase> {};

TEST_P(CommitRace, EveryPacketSeesOnePolicy)
{
    const RaceCase& rc = GetParam();
    enter_private_netns(); // before the traffic thread starts
    BpfHarness h;
    const std::array<Policy, 2> policy{shifted_policy(rc.rules, 0, rc.many_classes, rc.leaf_dst),
                                       shifted_policy(rc.rules, 1, rc.many_classes, rc.leaf_dst)};
    const auto resolve = h.compile_options().resolve;
    const std::vector<Probe> probes = make_probes(rc.rules, policy[0], policy[1], resolve, rc.leaf_dst);

    // Each probe tells A from B, and every program agrees with the
    // reference on both policies before they race (a specialised program
    // whose policy is not live takes its tail call to the general one).
    std::array<std::optional<SpecProgram>, 2> spec;
    std::vector<int> programs{h.object().prog_fd()};
    for (int x : {0, 1}) {
        const CompiledPolicy c = compile(policy[x], h.compile_options());
        if (rc.program == Program::general)
            continue;
        ASSERT_TRUE(c.spec) << c.spec_why_not;
        if (rc.program == Program::swapped_generated) {
            spec[x].emplace(SpecProgram::load(h.object(), *c.spec));
            ASSERT_TRUE(spec[x]->generated()) << spec[x]->generated_why_not();
            programs.push_back(spec[x]->compiled_fd());
        } else {
            // The addresses go through the live generation's tables.
            EXPECT_EQ(c.spec->v4_inline, 0u);
            EXPECT_EQ(c.spec->class_table, rc.class_table);
            spec[x].emplace(SpecProgram::load_compiled(h.object(), *c.spec));
        }
        programs.push_back(spec[x]->prog_fd());
    }
    size_t generated = 0; // probe runs a generated program decided
    for (int x : {0, 1}) {
        h.commit(policy[x]);
        for (const Probe& p : probes) {
            ASSERT_NE(p.a, p.b) << p.what;
            for (int fd : programs) {
                const RunResult r = h.run_program(fd, p.frame);
                ASSERT_EQ(outcome_of(r), x ? p.b : p.a) << (x ? "B: " : "A: ") << p.what;
                generated += r.verdict.generated;
            }
        }
    }
    if (rc.leaf_dst) { // A's IPv4 probes, through A's own generated program
        EXPECT_GE(generated, 10u); // 26 when written, of 108 probes
    }

    if (rc.program == Program::stale_spec) { // the harness keeps A's program
        h.set_tier(Tier::specialised);
        h.commit(policy[0]);
        ASSERT_TRUE(h.spec_live()) << h.spec_why_not();
        h.freeze_tier(true);
    } else {
        h.commit(policy[0]);
    }
    auto program_for = [&](int x) {
        switch (rc.program) {
        case Program::general: return h.object().prog_fd();
        case Program::stale_spec: return h.spec_program()->prog_fd();
        case Program::swapped_spec:
        case Program::swapped_generated: return spec[x]->prog_fd();
        }
        return -1;
    };
    std::atomic<int> prog_fd{program_for(0)};
    Traffic t;
    t.seen.assign(probes.size(), {0, 0});
    std::thread traffic(run_traffic, std::cref(h), std::cref(h.maps()), std::cref(probes),
                        std::cref(prog_fd), std::ref(t));

    // B, A, B, ...: rc.commits commits, and on until every probe has met
    // both policies (a call spans a commit or two, or none), 10 times as
    // many at the most.
    const cpu_set_t affinity = pin_to_cpu(0);
    const auto start = std::chrono::steady_clock::now();
    std::string commit_error;
    int commits = 0;
    for (; commits < 10 * rc.commits && commit_error.empty() && !t.stopped.load(); commits++) {
        if (commits >= rc.commits && t.all_seen.load())
            break;
        const int x = (commits + 1) % 2;
        try {
            h.commit(policy[x]);
        } catch (const std::exception& e) {
            commit_error = e.what();
        }
        prog_fd = program_for(x);
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    pthread_setaffinity_np(pthread_self(), sizeof(affinity), &affinity);
    t.stop = true;
    traffic.join();

    ASSERT_EQ(commit_error, "");
    ASSERT_EQ(t.error, "");
    RecordProperty("commits", std::to_string(commits));
    RecordProperty("runs", std::to_string(t.calls.load() * kRepeat));
    RecordProperty("seconds", fmt::format("{:.2f}", took.count()));
    std::string wrong;
    for (const auto& w : t.wrong)
        wrong += w + "\n";
    EXPECT_EQ(t.wrong_total, 0u)
        << "packets that saw a mix of A and B (the first " << t.wrong.size()
        << "; programs: general fd " << h.object().prog_fd() << ", A's spec fd "
        << (spec[0] ? spec[0]->prog_fd() : -1) << ", B's " << (spec[1] ? spec[1]->prog_fd() : -1)
        << ", the harness's " << (h.spec_program() ? h.spec_program()->prog_fd() : -1) << "):\n"
        << wrong;
    // Not vacuous: every probe met both policies.
    for (size_t k = 0; k < probes.size(); k++)
        EXPECT_TRUE(t.seen[k][0] && t.seen[k][1])
            << "probe " << probes[k].what << " saw A " << t.seen[k][0] << " times, B "
            << t.seen[k][1] << " times, in " << commits << " commits";
}

INSTANTIATE_TEST_SUITE_P(
    Programs, CommitRace,
    ::testing::Values(
        // 80 rules: the general program; the walk spans two rule words.
        RaceCase{"General80Rules", 80, Program::general, false, 0, 400},
        // The same policies' bitmaps specs: generated programs of the
        // live bitmaps, each stale one handing B's frames to the general
        // program (as do the live ones: the probes' /32 destinations are
        // host-table blocks).
        RaceCase{"SwappedGeneratedBitmaps80Rules", 80, Program::swapped_generated, false, 0, 400},
        // The same with /24 destinations: A's program decides A's IPv4
        // probes itself (B's /25 sources are chunks: its fallback).
        RaceCase{"SwappedGeneratedBitmaps80RulesLeaves", 80, Program::swapped_generated, false, 0, 400, true},
        // 24 rules: the spec carries each address class's rule word.
        RaceCase{"StaleSpec24Rules", 24, Program::stale_spec, false, 3, 400},
        // 47 rules, over 64 source classes: the spec reads a source class's
        // rule word from the live generation, a destination's from itself.
        RaceCase{"SwappedSpecManyClasses", 40, Program::swapped_spec, true, 2, 400},
        // 6 rules, IPv4 prefixes few enough to be ranges: generated programs,
        // each stale one handing B's frames to its compiled fallback.
        RaceCase{"SwappedGenerated6Rules", 6, Program::swapped_generated, false, 0, 400},
        // 24 rules: generated programs that look the address classes up
        // in the live tables (its /25 and /32 blocks: their fallback).
        RaceCase{"SwappedGenerated24Rules", 24, Program::swapped_generated, false, 3, 400}),
    [](const auto& info) { return std::string(info.param.name); });

} // namespace
} // namespace xdpfw::test

