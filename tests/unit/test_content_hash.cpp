// SPDX-License-Identifier: GPL-2.0-only
// The content hash the adoption check compares (lib/kernel/content_hash.hpp):
// stable for equal policies however they were compiled, different for any
// change a rule, set or verdict makes; and the instance lock's refusal.
#include "apps/xdpfwd/adoption.hpp"
#include "apps/xdpfwd/config.hpp"
#include "apps/xdpfwd/instance_lock.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/compiler/source_hash.hpp"
#include "lib/kernel/content_hash.hpp"
#include "lib/lang/rule_parser.hpp"
#include "testing/random_policy.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace xdpfw {
namespace {

CompileOptions options()
{
    CompileOptions o;
    o.resolve = test::fake_ifindex;
    return o;
}

Policy policy_of(const std::vector<std::string>& texts)
{
    Policy p;
    for (const auto& t : texts)
        p.rules.push_back(parse_rule(t, "test rule"));
    p.sets["blk"] = {Prefix::parse("198.51.100.0/24"), Prefix::parse("2001:db8::/32")};
    return p;
}

uint64_t hash_of(const Policy& p, const CompileOptions& o = options())
{
    return content_hash(compile(p, o));
}

const std::vector<std::string> kRules = {"id=1 priority=1 proto=udp dport=7001 action=drop",
                                         "id=2 priority=2 src=@blk action=drop",
                                         "id=3 priority=3 iif=eth1 action=count"};

TEST(ContentHash, EqualPoliciesHashAlike)
{
    const Policy p = policy_of(kRules);
    EXPECT_EQ(hash_of(p), hash_of(p));
    EXPECT_NE(hash_of(p), 0u);
    // The rules' order in the vector is not the policy's.
    Policy reordered = p;
    std::reverse(reordered.rules.begin(), reordered.rules.end());
    EXPECT_EQ(hash_of(reordered), hash_of(p));
}

TEST(ContentHash, AnyChangeChangesIt)
{
    const uint64_t base = hash_of(policy_of(kRules));
    std::vector<std::string> port = kRules;
    port[0] = "id=1 priority=1 proto=udp dport=7009 action=drop";
    EXPECT_NE(hash_of(policy_of(port)), base);
    std::vector<std::string> action = kRules;
    action[0] = "id=1 priority=1 proto=udp dport=7001 action=pass";
    EXPECT_NE(hash_of(policy_of(action)), base);
    std::vector<std::string> prio = kRules;
    prio[2] = "id=3 priority=0 iif=eth1 action=count";
    EXPECT_NE(hash_of(policy_of(prio)), base);
    Policy set = policy_of(kRules);
    set.sets["blk"].edit([&](std::vector<Prefix>& v) { v[0] = Prefix::parse("198.51.101.0/24"); });
    EXPECT_NE(hash_of(set), base);
    Policy dflt = policy_of(kRules);
    dflt.default_action = ActionType::drop;
    EXPECT_NE(hash_of(dflt), base);
    // Another interface behind the same name: the resolved index counts.
    CompileOptions other = options();
    other.resolve = [](const std::string& name) { return test::fake_ifindex(name) + 1; };
    EXPECT_NE(hash_of(policy_of(kRules), other), base);
}

// Scheme 1 is what builds before 2026-12-07 pinned: its values must never
// change, or a restart after an upgrade stops adopting (the values below
// were printed by that build). Scheme 2 differs only where there are sets.
TEST(SourceHash, SchemeOneIsStableAndSchemeTwoDiffersOnlyForSets)
{
    using S = SourceHashScheme;
    const Policy p = policy_of(kRules);
    EXPECT_EQ(policy_source_hash(p, S::v1), 0x9c5f1a37f07e2ebeull);
    Policy empty;
    empty.default_action = ActionType::drop;
    EXPECT_EQ(policy_source_hash(empty, S::v1), 0xa2e69fdb465fa564ull);
    EXPECT_EQ(policy_source_hash(empty, S::v2), policy_source_hash(empty, S::v1));
    Policy empty_set = empty;
    empty_set.sets["e"];
    EXPECT_EQ(policy_source_hash(empty_set, S::v1), 0x0eb4e56a16f68a64ull);
    EXPECT_NE(policy_source_hash(empty_set, S::v2), policy_source_hash(empty_set, S::v1));
    EXPECT_NE(policy_source_hash(p, S::v2), policy_source_hash(p, S::v1));
    EXPECT_EQ(policy_source_hash(p), policy_source_hash(p, S::v2));
    EXPECT_EQ(compile(p, options()).source_hash, policy_source_hash(p, S::v2));

    // Scheme 2 sees a change anywhere in a set of any length: every byte of
    // a prefix at its start, middle and end, and the length.
    Policy big = empty;
    for (size_t n : {1, 2, 7, 64, 65, 1000}) {
        std::vector<Prefix> v;
        for (size_t i = 0; i < n; ++i)
            v.push_back(Prefix::parse("10." + std::to_string(i / 256) + "." +
                                      std::to_string(i % 256) + ".0/24"));
        big.sets["b"] = v;
        const uint64_t base = policy_source_hash(big);
        for (size_t i : {size_t{0}, n / 2, n - 1}) {
            for (unsigned byte = 0; byte < sizeof(Prefix); ++byte) {
                Policy changed = big;
                changed.sets["b"].edit([&](std::vector<Prefix>& w) {
                    reinterpret_cast<unsigned char*>(&w[i])[byte] ^= 0x10;
                });
                ASSERT_NE(policy_source_hash(changed), base) << n << " " << i << " " << byte;
            }
        }
        Policy shorter = big;
        shorter.sets["b"].edit([](std::vector<Prefix>& w) { w.pop_back(); });
        EXPECT_NE(policy_source_hash(shorter), base) << n;
    }
}

// The adoption check accepts the hash a commit of this build pinned, and the
// one an older build pinned for the same policy (scheme 1), nothing else.
TEST(SourceHash, AdoptionAcceptsBothSchemesOfTheSamePolicy)
{
    const Policy p = policy_of(kRules);
    const CompiledPolicy mine = compile(p, options());
    const uint64_t now = content_hash(mine);
    const uint64_t before = content_hash(mine, policy_source_hash(p, SourceHashScheme::v1));
    ASSERT_NE(now, before);
    EXPECT_EQ(compare_pinned_hash(mine, p, now), PinnedHash::same);
    EXPECT_EQ(compare_pinned_hash(mine, p, before), PinnedHash::same_scheme1);
    EXPECT_EQ(compare_pinned_hash(mine, p, 0), PinnedHash::differs);
    Policy other = p;
    other.sets["blk"].edit([&](std::vector<Prefix>& v) { v[0] = Prefix::parse("198.51.101.0/24"); });
    const CompiledPolicy theirs = compile(other, options());
    EXPECT_EQ(compare_pinned_hash(mine, p, content_hash(theirs)), PinnedHash::differs);
    EXPECT_EQ(compare_pinned_hash(
                  mine, p, content_hash(theirs, policy_source_hash(other, SourceHashScheme::v1))),
              PinnedHash::differs);
    // Without sets both schemes are one hash: it is simply the same.
    Policy no_sets = p;
    no_sets.sets.clear();
    no_sets.rules.erase(no_sets.rules.begin() + 1); // the rule that names @blk
    const CompiledPolicy plain = compile(no_sets, options());
    EXPECT_EQ(compare_pinned_hash(plain, no_sets, content_hash(plain)), PinnedHash::same);
}

// The daemon compiles through a cache that patches the address tables in
// place; a restarted one compiles afresh. Both must agree on the hash.
TEST(ContentHash, IncrementalAndFreshCompilesAgree)
{
    std::mt19937_64 rng(0x5eed0012);
    test::RandomPolicyOptions ro;
    ro.max_rules = 12;
    ro.max_set_prefixes = 40;
    CompileOptions cached = options();
    cached.cache = make_compile_cache();
    Policy p = test::random_policy(rng, ro);
    int compared = 0;
    for (int step = 0; step < 20; ++step) {
        test::random_edit(rng, p, ro, cached.caps.max_rules);
        CompiledPolicy c;
        try {
            c = compile(p, cached);
        } catch (const PolicyError&) {
            continue;
        }
        EXPECT_EQ(content_hash(c), hash_of(p)) << "step " << step;
        ++compared;
    }
    EXPECT_GT(compared, 10);
}

TEST(InstanceLock, SecondHolderIsRefusedWithThePid)
{
    char tmpl[] = "/tmp/xdpfw-lock-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::filesystem::path file = std::filesystem::path(tmpl) / "run" / "edge.lock";
    {
        const InstanceLock first = InstanceLock::acquire(file, "edge");
        std::ifstream in(file);
        std::string pid;
        in >> pid;
        EXPECT_EQ(pid, std::to_string(getpid()));
        try {
            InstanceLock::acquire(file, "edge");
            ADD_FAILURE() << "a second lock was granted";
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            for (const std::string& needle :
                 {std::string("'edge'"), file.string(), "pid " + std::to_string(getpid())})
                EXPECT_NE(what.find(needle), std::string::npos) << what;
        }
    }
    // Released with its descriptor (at exit, for a daemon).
    EXPECT_NO_THROW(InstanceLock::acquire(file, "edge"));
    std::filesystem::remove_all(tmpl);
}

TEST(DaemonConfig, LockDirAndReplaceLive)
{
    DaemonConfig c = parse_daemon_config("lock_dir: /tmp/x\ninstance: edge\n", "x.yaml");
    EXPECT_EQ(c.lock_file(), "/tmp/x/edge.lock");
    EXPECT_FALSE(c.replace_live);
    const char* argv[] = {"xdpfwd", "--interface", "eth0", "--lock-dir", "/tmp/y",
                          "--replace-live"};
    int code = 0;
    auto parsed = parse_daemon_args(6, argv, &code);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->lock_file(), "/tmp/y/default.lock");
    EXPECT_TRUE(parsed->replace_live);
    EXPECT_EQ(DaemonConfig{}.lock_file(), "/run/xdpfw/default.lock");
    // --replace-live is a decision for one start, not a config key.
    EXPECT_THROW(parse_daemon_config("replace_live: true\n", "x.yaml"), std::invalid_argument);
}

} // namespace
} // namespace xdpfw
