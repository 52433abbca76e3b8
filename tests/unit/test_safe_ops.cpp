// SPDX-License-Identifier: GPL-2.0-only
// Unit tests for the store's safe operations: commit confirmed (refusals,
// extension, confirm, the rollback when due, the deadline in the saved
// state), dry runs, rollback to kept versions (depth, shared sets), and
// policy diffs.
#include "lib/store/diff.hpp"
#include "lib/store/kept_policies.hpp"
#include "lib/store/policy_store.hpp"

#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>

using namespace xdpfw;
using namespace std::chrono_literals;

namespace {

using xdpfw::test::TempDir;

// Records commits; check() refuses with capacity when told to.
class Sink : public PolicySink {
public:
    void commit(const Policy& policy, uint64_t version) override
    {
        commits.emplace_back(policy, version);
    }
    void check(const Policy& policy) override
    {
        ++checks;
        for (const auto& [name, set] : policy.sets)
            if (set.prefixes().size() > max_set)
                throw CapacityError("policy", "IPv4 host routes",
                                    "needs many entries, the loaded program has room for fewer");
    }
    std::vector<std::pair<Policy, uint64_t>> commits;
    size_t checks = 0;
    size_t max_set = 1000;
};

ErrorCode code_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const CommandError& e) {
        return e.code();
    }
    ADD_FAILURE() << "no CommandError thrown";
    return ErrorCode::internal;
}

std::string message_of(const std::function<void()>& f)
{
    try {
        f();
    } catch (const CommandError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no CommandError thrown";
    return "";
}

CommitOptions confirm_in(std::chrono::seconds s)
{
    CommitOptions o;
    o.confirm = s;
    return o;
}

CommitOptions dry_run()
{
    CommitOptions o;
    o.dry_run = true;
    return o;
}

bool has_rule(const Policy& p, uint32_t id)
{
    for (const Rule& r : p.rules)
        if (r.id == id)
            return true;
    return false;
}

const auto later = std::chrono::system_clock::now() + 1h;

} // namespace

TEST(CommitConfirmed, RollsBackWhenDueAsANewVersion)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    store.replace(Policy{}, "initial");
    const uint32_t keep = store.add_rule("proto=tcp dport=22 action=pass");
    const uint64_t before = store.version();
    const uint32_t id = store.add_rule("proto=udp dport=53 action=drop", confirm_in(60s));
    ASSERT_TRUE(store.pending());
    EXPECT_EQ(store.pending()->version, before + 1);
    EXPECT_EQ(store.pending()->rollback_version, before);
    EXPECT_NE(store.history().back().summary.find("(confirm by "), std::string::npos);

    // Not due yet: nothing happens.
    EXPECT_EQ(store.rollback_if_due(std::chrono::system_clock::now()), std::nullopt);
    EXPECT_TRUE(has_rule(store.policy(), id));

    auto summary = store.rollback_if_due(later);
    ASSERT_TRUE(summary);
    EXPECT_NE(summary->find("was not confirmed"), std::string::npos) << *summary;
    EXPECT_EQ(store.version(), before + 2);
    EXPECT_FALSE(has_rule(store.policy(), id));
    EXPECT_TRUE(has_rule(store.policy(), keep));
    EXPECT_FALSE(store.pending());
    EXPECT_EQ(sink.commits.back().second, before + 2);
    EXPECT_EQ(store.history().back().summary, *summary);
    // Confirming afterwards says that it came too late.
    EXPECT_EQ(code_of([&] { store.confirm(); }), ErrorCode::not_pending);
    EXPECT_NE(message_of([&] { store.confirm(); }).find("rolled back"), std::string::npos);
}

TEST(CommitConfirmed, ConfirmKeepsTheChange)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    store.replace(Policy{}, "initial");
    const uint32_t id = store.add_rule("proto=udp dport=53 action=drop", confirm_in(60s));
    const uint64_t v = store.version();
    EXPECT_EQ(store.confirm(), v);
    EXPECT_EQ(store.version(), v); // confirming commits nothing
    EXPECT_FALSE(store.pending());
    EXPECT_EQ(store.rollback_if_due(later), std::nullopt);
    EXPECT_TRUE(has_rule(store.policy(), id));
}

TEST(CommitConfirmed, OtherChangesAreRefusedWhilePending)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    store.replace(Policy{}, "initial");
    store.create_set("blk");
    const uint64_t base = store.version();
    store.add_rule("proto=udp dport=53 action=drop", confirm_in(60s));
    const size_t commits = sink.commits.size();
    EXPECT_EQ(code_of([&] { store.add_rule("proto=udp dport=54 action=drop"); }),
              ErrorCode::confirm_pending);
    EXPECT_EQ(code_of([&] { store.add_to_set("blk", {"10.0.0.1"}); }), ErrorCode::confirm_pending);
    EXPECT_EQ(code_of([&] { store.replace(Policy{}, "load"); }), ErrorCode::confirm_pending);
    const std::string msg = message_of([&] { store.create_set("x"); });
    EXPECT_NE(msg.find("xdpfwctl confirm"), std::string::npos) << msg;
    EXPECT_EQ(sink.commits.size(), commits);
    // A dry run is fine.
    store.add_rule("proto=udp dport=55 action=drop", dry_run());
    EXPECT_EQ(sink.commits.size(), commits);

    // Another --confirm extends and keeps the first rollback target.
    store.add_to_set("blk", {"10.0.0.1"}, confirm_in(120s));
    ASSERT_TRUE(store.pending());
    EXPECT_EQ(store.pending()->version, store.version());
    EXPECT_EQ(store.pending()->rollback_version, base);
    ASSERT_TRUE(store.rollback_if_due(later));
    EXPECT_EQ(store.policy(), store.policy_at(base));
    EXPECT_TRUE(store.policy().sets.at("blk").prefixes().empty());
    EXPECT_TRUE(store.policy().rules.empty());
}

TEST(CommitConfirmed, RollbackAnswersAPendingConfirmation)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    store.replace(Policy{}, "initial");
    const uint64_t base = store.version();
    store.add_rule("proto=udp dport=53 action=drop", confirm_in(60s));
    store.add_rule("proto=udp dport=54 action=drop", confirm_in(60s));
    // The default target is the pending one's, not just the previous version.
    EXPECT_EQ(store.rollback(std::nullopt), base);
    EXPECT_FALSE(store.pending());
    EXPECT_TRUE(store.policy().rules.empty());
    EXPECT_EQ(store.version(), base + 3);
}

TEST(CommitConfirmed, TheDeadlineSurvivesARestart)
{
    TempDir dir;
    const auto file = dir.path() / "state.json";
    uint64_t base = 0, pending_version = 0;
    std::chrono::system_clock::time_point deadline;
    {
        Sink sink;
        PolicyStore store(sink, 64, file);
        store.replace(Policy{}, "initial");
        store.add_rule("proto=tcp dport=22 action=pass"); // journaled
        base = store.version();
        store.add_rule("proto=udp dport=53 action=drop", confirm_in(30s));
        pending_version = store.version();
        deadline = store.pending()->deadline;
    }
    {
        Sink sink;
        PolicyStore store(sink, 64, file);
        ASSERT_TRUE(store.restore());
        ASSERT_TRUE(store.pending());
        EXPECT_EQ(store.pending()->deadline, deadline);
        EXPECT_EQ(store.pending()->version, pending_version);
        EXPECT_EQ(store.pending()->rollback_version, base);
        EXPECT_EQ(store.policy().rules.size(), 2u);
        // A restart's recommit keeps it pending, saved.
        store.recommit("restored");
        EXPECT_TRUE(store.pending());
    }
    {
        Sink sink;
        PolicyStore store(sink, 64, file);
        ASSERT_TRUE(store.restore());
        ASSERT_TRUE(store.pending());
        // Started after the deadline: due at once.
        ASSERT_TRUE(store.rollback_if_due(deadline + 1s));
        EXPECT_EQ(store.policy().rules.size(), 1u);
        EXPECT_EQ(store.policy().rules[0].text, "priority=0 proto=tcp dport=22 action=pass");
        EXPECT_EQ(store.history().back().version, pending_version + 2); // after the recommit
    }
    {
        Sink sink;
        PolicyStore store(sink, 64, file);
        ASSERT_TRUE(store.restore());
        EXPECT_FALSE(store.pending()); // the rollback is saved too
        EXPECT_EQ(store.policy().rules.size(), 1u);
    }
}

TEST(CommitConfirmed, ConfirmIsSaved)
{
    TempDir dir;
    const auto file = dir.path() / "state.json";
    {
        Sink sink;
        PolicyStore store(sink, 64, file);
        store.replace(Policy{}, "initial");
        store.add_rule("proto=udp dport=53 action=drop", confirm_in(30s));
        store.confirm();
    }
    Sink sink;
    PolicyStore store(sink, 64, file);
    ASSERT_TRUE(store.restore());
    EXPECT_FALSE(store.pending());
    EXPECT_EQ(store.policy().rules.size(), 1u);
}

TEST(DryRun, ChecksAndCommitsNothing)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    store.replace(Policy{}, "initial");
    store.create_set("blk");
    const uint64_t v = store.version();
    const size_t commits = sink.commits.size();
    const uint32_t id = store.add_rule("src=@blk action=drop", dry_run());
    EXPECT_EQ(id, 1u);
    std::optional<Policy> candidate = store.take_dry_run();
    ASSERT_TRUE(candidate);
    EXPECT_TRUE(has_rule(*candidate, id));
    EXPECT_FALSE(has_rule(store.policy(), id));
    EXPECT_EQ(store.version(), v);
    EXPECT_EQ(sink.commits.size(), commits);
    EXPECT_EQ(store.take_dry_run(), std::nullopt); // once

    // The sink's capacity check fails the dry run with its code.
    std::vector<std::string> many;
    for (int i = 0; i < 1001; ++i)
        many.push_back("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
    EXPECT_EQ(code_of([&] { store.load_set("blk", many, dry_run()); }), ErrorCode::capacity);
    EXPECT_EQ(store.version(), v);
    EXPECT_TRUE(store.policy().sets.at("blk").prefixes().empty());
    // Validation errors too.
    EXPECT_EQ(code_of([&] { store.add_rule("src=@nope action=drop", dry_run()); }),
              ErrorCode::unknown_set);
    EXPECT_EQ(code_of([&] { store.delete_rule(9, dry_run()); }), ErrorCode::unknown_rule);
    EXPECT_EQ(store.version(), v);
}

TEST(Rollback, BringsBackAKeptVersionAsANewOne)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    store.replace(Policy{}, "initial");                       // 1
    store.add_rule("proto=udp dport=53 action=drop");         // 2
    store.add_rule("proto=udp dport=54 action=drop");         // 3
    EXPECT_EQ(store.rollback(std::nullopt), 2u);              // 4 = 2
    EXPECT_EQ(store.version(), 4u);
    EXPECT_EQ(store.policy(), store.policy_at(2));
    EXPECT_EQ(store.history().back().summary, "rollback to version 2");
    EXPECT_EQ(store.rollback(1), 1u);                         // 5 = 1
    EXPECT_TRUE(store.policy().rules.empty());
    EXPECT_EQ(code_of([&] { store.rollback(5); }), ErrorCode::bad_request); // live
    EXPECT_EQ(code_of([&] { store.rollback(9); }), ErrorCode::unknown_version);
    // A dry run of a rollback.
    store.rollback(3, dry_run());
    EXPECT_EQ(store.version(), 5u);
    EXPECT_EQ(store.take_dry_run()->rules.size(), 2u);
}

TEST(Rollback, TheHistoryKeepsSixteenVersionsAndNamesTheOldest)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    store.replace(Policy{}, "initial");
    for (int i = 0; i < 30; ++i)
        store.add_rule("proto=udp dport=" + std::to_string(1000 + i) + " action=drop");
    ASSERT_EQ(store.version(), 31u);
    EXPECT_EQ(store.kept().size(), KeptPolicies::default_depth);
    EXPECT_EQ(store.kept().oldest(), 31u - KeptPolicies::default_depth);
    EXPECT_EQ(store.policy_at(15).rules.size(), 14u);
    const std::string msg = message_of([&] { store.rollback(14); });
    EXPECT_NE(msg.find("oldest kept: version 15"), std::string::npos) << msg;
    EXPECT_EQ(code_of([&] { store.policy_at(3); }), ErrorCode::unknown_version);
}

TEST(KeptPolicies, UnchangedSetsAreSharedAndPrefixesBounded)
{
    Policy p;
    for (int i = 0; i < 100; ++i)
        p.sets["big"].edit([&](std::vector<Prefix>& v) { v.push_back(Prefix::parse("10.0." + std::to_string(i) + ".0/24")); });
    KeptPolicies kept(16, 250);
    kept.keep(1, p);
    p.default_action = ActionType::drop;
    kept.keep(2, p); // same set: shared
    EXPECT_EQ(kept.prefixes(), 100u);
    p.sets["big"].edit([&](std::vector<Prefix>& v) { v.pop_back(); });
    kept.keep(3, p); // a new copy: 199
    EXPECT_EQ(kept.prefixes(), 199u);
    EXPECT_EQ(kept.size(), 3u);
    p.sets["other"].edit([&](std::vector<Prefix>& v) { v.push_back(Prefix::parse("192.0.2.0/24")); });
    p.sets["big"].edit([&](std::vector<Prefix>& v) { v.pop_back(); });
    kept.keep(4, p); // 199 + 99 + 1 > 250: the oldest go
    EXPECT_LE(kept.prefixes(), 250u);
    EXPECT_EQ(kept.newest(), 4u);
    EXPECT_GT(kept.oldest(), 1u);
    EXPECT_EQ(kept.get(4), p);
    EXPECT_EQ(kept.get(1), std::nullopt);
}

TEST(PolicyDiff, RulesSetsAndVerdicts)
{
    Sink sink;
    PolicyStore store(sink, 64, "");
    Policy a;
    a.sets["blk"] = {Prefix::parse("10.0.0.0/8"), Prefix::parse("192.0.2.1/32")};
    a.sets["gone"] = {Prefix::parse("198.51.100.0/24")};
    store.replace(a, "a");
    store.add_rule("id=1 proto=udp dport=53 action=drop");
    store.add_rule("id=2 proto=udp dport=54 action=drop");
    const Policy before = store.policy();
    Policy b = before;
    b.rules.erase(b.rules.begin()); // id 1 removed
    b.rules[0].text = "proto=udp dport=55 action=drop"; // id 2 changed (text stands for it)
    Rule r;
    r.id = 7;
    r.text = "proto=tcp dport=22 action=pass";
    b.rules.push_back(r);
    b.sets.erase("gone");
    b.sets["blk"] = {Prefix::parse("10.0.0.0/8"), Prefix::parse("203.0.113.0/24")};
    b.sets["new"] = {Prefix::parse("2001:db8::/32")};
    b.default_action = ActionType::drop;

    const PolicyDiff d = diff_policies(before, b, 1);
    ASSERT_EQ(d.rules.size(), 3u);
    EXPECT_EQ(d.rules[0].id, 1u);
    EXPECT_TRUE(d.rules[0].after.empty());
    EXPECT_EQ(d.rules[1].id, 2u);
    EXPECT_EQ(d.rules[1].after, "proto=udp dport=55 action=drop");
    EXPECT_EQ(d.rules[2].id, 7u);
    EXPECT_TRUE(d.rules[2].before.empty());
    ASSERT_EQ(d.sets.size(), 3u);
    EXPECT_EQ(d.sets[0].name, "blk");
    EXPECT_EQ(d.sets[0].added, 1u);
    EXPECT_EQ(d.sets[0].removed, 1u);
    EXPECT_EQ(d.sets[0].first_added.at(0).str(), "203.0.113.0/24");
    EXPECT_EQ(d.sets[1].name, "gone");
    EXPECT_FALSE(d.sets[1].exists);
    EXPECT_EQ(d.sets[2].name, "new");
    EXPECT_FALSE(d.sets[2].existed);

    const nlohmann::json j = diff_to_json(d);
    EXPECT_EQ(j["rules"]["removed"][0]["id"], 1);
    EXPECT_EQ(j["rules"]["changed"][0]["before"], before.rules[1].text);
    EXPECT_EQ(j["rules"]["added"][0]["text"], "proto=tcp dport=22 action=pass");
    EXPECT_EQ(j["sets"][1]["change"], "removed");
    EXPECT_EQ(j["sets"][2]["change"], "created");
    EXPECT_EQ(j["sets"][0]["first_removed"], nlohmann::json::array({"192.0.2.1/32"}));
    EXPECT_EQ(j["default"]["before"], "pass");
    EXPECT_EQ(j["default"]["after"], "drop");
    EXPECT_TRUE(diff_policies(b, b).empty());
    // Between kept versions, through the store.
    EXPECT_EQ(diff_policies(store.policy_at(1), store.policy_at(3)).rules.size(), 2u);
}
