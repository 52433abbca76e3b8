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

#include <array>
#include <atomic>
#include <chrono>
#include <optional>
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
// k at bit k (id k+1), policy B content k+1 (mod n) there: the same rules one
// place further on, so every field's bitmap for a value differs between A
// and B (A: bit k, B: bit k-1; for the protocol and port, every 2nd or 8th
// bit from there). Content k drops for even k and passes for odd k, so the
// rule at a bit differs in id or action. A's default is pass and B's drop.
// With many_classes, 7 more rules (ids n+1..n+7, the same in A and B, no
// probe matches them) name sets x0..x6 that give 127 /24s of 10.1.0.0/16
// one source class each: more than a spec's 64 (XDPFW_SPEC_MAX_CLASSES).
Policy shifted_policy(uint32_t n, uint32_t shift, bool many_classes)
{
    Policy p;
    p.default_action = shift ? ActionType::drop : ActionType::pass;
    for (uint32_t b = 0; b < n; b++) {
        const uint32_t k = (b + shift) % n;
        const uint32_t port = 2000 + 10 * (k % 8);
        Rule r = parse_rule(fmt::format("src=@s{} dst=@d{} proto={} dport={}-{} action={}", k, k,
                                        k % 2 ? "udp" : "tcp", port, port + 4,
                                        k % 2 ? "pass" : "drop"),
                            "rule");
        r.id = b + 1;
        p.rules.push_back(r);
    }
    for (uint32_t j = 0; many_classes && j < 7; j++) {
        Rule r = parse_rule(fmt::format("src=@x{} dst=192.0.2.1 action=drop", j), "rule");
        r.id = n + 1 + j;
        p.rules.push_back(r);
        for (uint32_t block = 1; block < 128; block++)
            if (block >> j & 1)
                p.sets[fmt::format("x{}", j)].prefixes.push_back(
                    Prefix::parse(fmt::format("10.1.{}.0/24", block)));
    }
    for (uint32_t k = 0; k < n; k++) {
        auto& src = p.sets[fmt::format("s{}", k)].prefixes;
        if (shift == 0)
            src = {Prefix::parse(fmt::format("10.0.{}.0/24", k)),
                   Prefix::parse(fmt::format("2001:db8:1:{:x}::/64", k))};
        else
            src = {Prefix::parse(fmt::format("10.0.{}.0/25", k)),
                   Prefix::parse(fmt::format("10.0.{}.128/25", k)),
                   Prefix::parse(fmt::format("2001:db8:1:{:x}::/65", k)),
                   Prefix::parse(fmt::format("2001:db8:1:{:x}:8000::/65", k))};
        p.sets[fmt::format("d{}", k)].prefixes = {
            Prefix::parse(fmt::format("172.16.{}.{}/32", k % 4, k)),
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
};

// A probe carries value i in every field, or i+1 in the fields of `shifted`.
// i everywhere: A and B match it (bits i and i-1), and a mix matches no rule
// (one field admits bit i, another bit i-1). Some fields at i+1: neither
// policy matches it, but the mix that takes exactly those fields from B and
// the rest from A does (bit i; and the mix the other way round matches the
// probe that shifts the other fields). Families v4 and v6.
std::vector<Probe> make_probes(uint32_t n, const Policy& a, const Policy& b,
                               const IfaceResolver& resolve)
{
    std::vector<uint32_t> bases{0, 1, n / 2, n - 1};
    if (n > 64) { // across the first and second rule word
        bases.push_back(63);
        bases.push_back(64);
    }
    std::vector<Probe> probes;
    for (bool v6 : {false, true})
        for (uint32_t i : bases)
            for (uint32_t shifted = 0; shifted + 1 < (1u << kFields); shifted++) {
                auto at = [&](Field f) { return (i + (shifted >> f & 1)) % n; };
                const uint32_t s = at(kSrc), d = at(kDst);
                // Odd bases: the upper /25 (/65) of B's source prefixes.
                const std::string src =
                    v6 ? fmt::format("2001:db8:1:{:x}:{}::7", s, i % 2 ? "8000" : "0")
                       : fmt::format("10.0.{}.{}", s, i % 2 ? 200 : 7);
                const std::string dst = v6 ? fmt::format("2001:db8:2::{:x}", d)
                                           : fmt::format("172.16.{}.{}", d % 4, d);
                const uint8_t proto = at(kProto) % 2 ? 17 : 6;
                const uint16_t dport = uint16_t(2002 + 10 * (at(kDport) % 8));
                const FrameSpec spec = frame(src, dst, proto, 1024, dport);
                const PacketFields pkt = expected_fields(spec, 1);
                probes.push_back(Probe{
                    fmt::format("{} -> {} proto {} dport {} (base {}, shifted fields {:04b})", src,
                                dst, proto, dport, i, shifted),
                    build_frame(spec), reference_outcome(a, pkt, resolve),
                    reference_outcome(b, pkt, resolve)});
            }
    return probes;
}

// Which program the traffic runs while the policies change.
enum class Program {
    general,      // the general program throughout
    stale_spec,   // A's specialised program throughout: B through its tail call
    swapped_spec, // each commit's own specialised program, swapped in after it
};

struct RaceCase {
    const char* name;
    uint32_t rules;
    Program program;
    bool many_classes;    // shifted_policy()
    uint32_t class_table; // spec: the directions whose classes' rule words it carries
    int commits;
};

// What the traffic thread saw.
struct Traffic {
    std::atomic<uint64_t> runs{0};
    std::atomic<bool> stop{false}, stopped{false};
    std::vector<std::array<uint64_t, 2>> seen; // per probe: A's outcome, B's
    std::vector<std::string> wrong;            // the first few
    uint64_t wrong_total = 0;
    std::string error;
};

// Runs the probes in turn through the program prog_fd names (it may change
// between runs) until told to stop.
void run_traffic(const BpfHarness& h, const std::vector<Probe>& probes,
                 const std::atomic<int>& prog_fd, Traffic& t)
{
    try {
        for (uint64_t sweep = 0; !t.stop.load(); sweep++)
            for (size_t k = 0; k < probes.size(); k++) {
                const Probe& p = probes[k];
                const int fd = prog_fd.load();
                const Outcome got = outcome_of(h.run_program(fd, p.frame));
                const uint64_t run = t.runs.fetch_add(1);
                if (got == p.a) {
                    t.seen[k][0]++;
                } else if (got == p.b) {
                    t.seen[k][1]++;
                } else if (t.wrong_total++ < 10) {
                    t.wrong.push_back(fmt::format(
                        "sweep {} run {} program fd {}: probe {} {}: got {}; A gives {}, B {}",
                        sweep, run, fd, k, p.what, describe(got), describe(p.a), describe(p.b)));
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
    const std::array<Policy, 2> policy{shifted_policy(rc.rules, 0, rc.many_classes),
                                       shifted_policy(rc.rules, 1, rc.many_classes)};
    const auto resolve = h.compile_options().resolve;
    const std::vector<Probe> probes = make_probes(rc.rules, policy[0], policy[1], resolve);

    // Each probe tells A from B, and every program agrees with the
    // reference on both policies before they race (a specialised program
    // whose policy is not live takes its tail call to the general one).
    std::array<std::optional<SpecProgram>, 2> spec;
    std::vector<int> programs{h.object().prog_fd()};
    for (int x : {0, 1}) {
        const CompiledPolicy c = compile(policy[x], h.compile_options());
        if (rc.program == Program::general) {
            ASSERT_FALSE(c.spec) << "more than 64 rules: the general tier only";
            continue;
        }
        ASSERT_TRUE(c.spec) << c.spec_why_not;
        // The addresses go through the live generation's tables.
        EXPECT_EQ(c.spec->v4_inline, 0u);
        EXPECT_EQ(c.spec->class_table, rc.class_table);
        spec[x].emplace(SpecProgram::load(h.object(), *c.spec));
        programs.push_back(spec[x]->prog_fd());
    }
    for (int x : {0, 1}) {
        h.commit(policy[x]);
        for (const Probe& p : probes) {
            ASSERT_NE(p.a, p.b) << p.what;
            for (int fd : programs)
                ASSERT_EQ(outcome_of(h.run_program(fd, p.frame)), x ? p.b : p.a)
                    << (x ? "B: " : "A: ") << p.what;
        }
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
        case Program::swapped_spec: return spec[x]->prog_fd();
        }
        return -1;
    };
    std::atomic<int> prog_fd{program_for(0)};
    Traffic t;
    t.seen.assign(probes.size(), {0, 0});
    std::thread traffic(run_traffic, std::cref(h), std::cref(probes), std::cref(prog_fd),
                        std::ref(t));

    // B, A, B, ...: each policy stays live while the traffic runs a third of
    // the probes at least, so that every probe meets both however the two
    // threads are scheduled (the commits' own time varies, so the switches
    // land at varying places of the sweep).
    const auto start = std::chrono::steady_clock::now();
    std::string commit_error;
    for (int c = 0; c < rc.commits && commit_error.empty(); c++) {
        const int x = (c + 1) % 2;
        try {
            h.commit(policy[x]);
        } catch (const std::exception& e) {
            commit_error = e.what();
        }
        prog_fd = program_for(x);
        const uint64_t live_from = t.runs.load();
        while (t.runs.load() < live_from + probes.size() / 3 && !t.stopped.load())
            std::this_thread::yield();
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    t.stop = true;
    traffic.join();

    ASSERT_EQ(commit_error, "");
    ASSERT_EQ(t.error, "");
    RecordProperty("runs", std::to_string(t.runs.load()));
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
            << t.seen[k][1] << " times, in " << rc.commits << " commits";
}

INSTANTIATE_TEST_SUITE_P(
    Programs, CommitRace,
    ::testing::Values(
        // 80 rules: no spec; the walk spans two rule words.
        RaceCase{"General80Rules", 80, Program::general, false, 0, 300},
        // 24 rules: the spec carries each address class's rule word.
        RaceCase{"StaleSpec24Rules", 24, Program::stale_spec, false, 3, 300},
        // 47 rules, over 64 source classes: the spec reads a source class's
        // rule word from the live generation, a destination's from itself.
        RaceCase{"SwappedSpecManyClasses", 40, Program::swapped_spec, true, 2, 300}),
    [](const auto& info) { return std::string(info.param.name); });

} // namespace
} // namespace xdpfw::test
