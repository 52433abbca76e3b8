// SPDX-License-Identifier: GPL-2.0-only
// Unit tests for PolicyStore: ids, sets, commits through a fake sink, failed
// commits, history and the state file.
#include "lib/store/policy_store.hpp"

#include "lib/compiler/compiler.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"

#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

using namespace xdpfw;

namespace {

using xdpfw::test::TempDir;

std::string read_file(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::filesystem::path& p, const std::string& text)
{
    std::ofstream(p, std::ios::binary) << text;
}

// Records every commit; can be told to refuse the next ones.
class FakeSink : public PolicySink {
public:
    enum class Fail { none, capacity, kernel, other };

    void commit(const Policy& policy, uint64_t version) override
    {
        switch (fail) {
        case Fail::none: break;
        case Fail::capacity:
            throw CapacityError("policy", "bitmaps",
                              "needs 20000 entries, the loaded program has room for 16384");
        case Fail::kernel:
            throw std::system_error(ENOSPC, std::generic_category(), "write xdpfw_rules");
        case Fail::other: throw std::logic_error("sink bug");
        }
        commits.emplace_back(policy, version);
    }

    Fail fail = Fail::none;
    std::vector<std::pair<Policy, uint64_t>> commits;
};

// A sink that runs the real compiler, as the daemon does before writing maps.
class CompilingSink : public PolicySink {
public:
    explicit CompilingSink(CompileOptions o) : opts(std::move(o)) {}
    void commit(const Policy& policy, uint64_t) override { compile(policy, opts); }
    CompileOptions opts;
};

CommandError command_error(const std::function<void()>& f)
{
    try {
        f();
    } catch (const CommandError& e) {
        return e;
    }
    ADD_FAILURE() << "no CommandError thrown";
    return CommandError(ErrorCode::internal, "(no error)");
}

#define EXPECT_COMMAND_ERROR(stmt, code_, part)                                                    \
    do {                                                                                           \
        CommandError err_ = command_error([&] { stmt; });                                          \
        EXPECT_EQ(error_name(err_.code()), code_) << err_.what();                                  \
        EXPECT_NE(std::string(err_.what()).find(part), std::string::npos)                          \
            << "message: " << err_.what() << "\nexpected to contain: " << (part);                  \
    } while (0)

std::vector<uint32_t> ids(const Policy& p)
{
    std::vector<uint32_t> out;
    for (const Rule& r : p.rules)
        out.push_back(r.id);
    return out;
}

} // namespace

TEST(PolicyStore, AddRuleAssignsLowestFreeIds)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    EXPECT_EQ(store.add_rule("proto=tcp dport=22 action=drop"), 1u);
    EXPECT_EQ(store.add_rule("proto=tcp dport=80 action=pass"), 2u);
    EXPECT_EQ(store.add_rule("proto=udp dport=53 action=pass"), 3u);
    store.delete_rule(2);
    EXPECT_EQ(store.add_rule("proto=tcp dport=443 action=pass"), 2u);
    EXPECT_EQ(store.add_rule("proto=tcp dport=25 action=drop"), 4u);
    EXPECT_EQ(store.version(), 6u);
    ASSERT_EQ(sink.commits.size(), 6u);
    for (size_t i = 0; i < sink.commits.size(); ++i)
        EXPECT_EQ(sink.commits[i].second, i + 1);
    EXPECT_EQ(sink.commits.back().first, store.policy());
    EXPECT_EQ(ids(store.policy()), (std::vector<uint32_t>{1, 3, 2, 4}));
}

TEST(PolicyStore, AddRuleWithExplicitId)
{
    FakeSink sink;
    PolicyStore store(sink, 64, {});
    EXPECT_EQ(store.add_rule("id=10 proto=tcp action=drop"), 10u);
    EXPECT_EQ(store.policy().rules[0].text, "priority=0 proto=tcp action=drop");
    EXPECT_COMMAND_ERROR(store.add_rule("id=10 proto=udp action=drop"), "rule_exists",
                         "rule id 10 is taken");
    EXPECT_COMMAND_ERROR(store.add_rule("id=64 proto=udp action=drop"), "invalid_rule",
                         "out of range 1..63");
    EXPECT_COMMAND_ERROR(store.add_rule("id=0 proto=udp action=drop"), "invalid_rule", "id");
    // Automatic ids start below the explicit one.
    EXPECT_EQ(store.add_rule("proto=udp action=drop"), 1u);
    EXPECT_EQ(store.version(), 2u);
}

TEST(PolicyStore, AddRuleRejectsBadRules)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    EXPECT_COMMAND_ERROR(store.add_rule("proto=tcp dport=70000 action=drop"), "invalid_rule",
                         "dport");
    EXPECT_COMMAND_ERROR(store.add_rule("proto=tcp"), "invalid_rule", "action");
    EXPECT_COMMAND_ERROR(store.add_rule("src=@nosuch action=drop"), "unknown_set", "nosuch");
    EXPECT_TRUE(sink.commits.empty());
    EXPECT_EQ(store.version(), 0u);
    EXPECT_TRUE(store.history().empty());
}

TEST(PolicyStore, RunsOutOfIds)
{
    FakeSink sink;
    PolicyStore store(sink, 4, {});
    for (uint32_t i = 1; i <= 3; ++i)
        EXPECT_EQ(store.add_rule("vlan=" + std::to_string(i) + " action=drop"), i);
    EXPECT_COMMAND_ERROR(store.add_rule("vlan=9 action=drop"), "capacity", "no free rule id");
    EXPECT_EQ(store.version(), 3u);
}

TEST(PolicyStore, DeleteRule)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    store.add_rule("proto=tcp action=drop");
    EXPECT_COMMAND_ERROR(store.delete_rule(7), "unknown_rule", "7");
    store.delete_rule(1);
    EXPECT_TRUE(store.policy().rules.empty());
    EXPECT_EQ(store.version(), 2u);
    EXPECT_COMMAND_ERROR(store.delete_rule(1), "unknown_rule", "no rule with id 1");
}

TEST(PolicyStore, Sets)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    store.create_set("block");
    EXPECT_TRUE(store.policy().sets.at("block").prefixes().empty());
    EXPECT_COMMAND_ERROR(store.create_set("block"), "set_exists", "block");
    EXPECT_COMMAND_ERROR(store.create_set("9bad"), "bad_request", "9bad");

    EXPECT_EQ(store.add_to_set("block", {"10.0.0.0/8", "192.0.2.1", "10.0.0.0/8"}), 2u);
    EXPECT_EQ(store.add_to_set("block", {"192.0.2.1/32", "2001:db8::/32"}), 1u);
    EXPECT_EQ(store.policy().sets.at("block").prefixes().size(), 3u);
    EXPECT_COMMAND_ERROR(store.add_to_set("block", {"10.0.0.0/8", "10.0.0.1/8"}), "invalid_prefix",
                         "10.0.0.1/8");
    EXPECT_COMMAND_ERROR(store.add_to_set("block", {"300.1.1.1"}), "invalid_prefix", "300.1.1.1");
    EXPECT_COMMAND_ERROR(store.add_to_set("nosuch", {"10.0.0.0/8"}), "unknown_set", "nosuch");

    EXPECT_EQ(store.delete_from_set("block", {"10.0.0.0/8", "198.51.100.0/24"}), 1u);
    EXPECT_EQ(store.delete_from_set("block", {"198.51.100.0/24"}), 0u);
    EXPECT_COMMAND_ERROR(store.delete_from_set("nosuch", {"10.0.0.0/8"}), "unknown_set", "nosuch");
    EXPECT_COMMAND_ERROR(store.delete_from_set("block", {"nonsense"}), "invalid_prefix",
                         "nonsense");
    EXPECT_EQ(store.policy().sets.at("block").prefixes(),
              (std::vector<Prefix>{Prefix::parse("192.0.2.1/32"), Prefix::parse("2001:db8::/32")}));

    EXPECT_EQ(store.load_set("allow", {"203.0.113.0/24", "203.0.113.0/24"}), 1u);
    EXPECT_EQ(store.load_set("block", {"198.51.100.0/24"}), 1u);
    EXPECT_EQ(store.policy().sets.at("block").prefixes(),
              std::vector<Prefix>{Prefix::parse("198.51.100.0/24")});
    EXPECT_COMMAND_ERROR(store.load_set("x y", {}), "bad_request", "x y");
    // create + 2 adds + 2 dels + 2 loads
    EXPECT_EQ(store.version(), 7u);

    // A rule may refer to a set once it exists.
    EXPECT_EQ(store.add_rule("src=@block action=drop"), 1u);
}

TEST(PolicyStore, FailedCommitChangesNothing)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    std::vector<uint32_t> created;
    store.on_rule_created = [&](uint32_t id) { created.push_back(id); };
    store.create_set("block");
    store.add_rule("src=@block action=drop");
    ASSERT_EQ(created, std::vector<uint32_t>{1});
    const std::string saved = read_file(file);
    const std::string saved_journal = read_file(PolicyStore::journal_path(file));
    ASSERT_FALSE(saved_journal.empty());
    const Policy before = store.policy();
    const size_t history = store.history().size();

    struct Case {
        FakeSink::Fail fail;
        std::string code, part;
    };
    for (const Case& c :
         {Case{FakeSink::Fail::capacity, "capacity",
               "bitmaps: needs 20000 entries, the loaded program has room for 16384"},
          Case{FakeSink::Fail::kernel, "kernel_error", "write xdpfw_rules"},
          Case{FakeSink::Fail::other, "internal", "sink bug"}}) {
        SCOPED_TRACE(c.code);
        sink.fail = c.fail;
        EXPECT_COMMAND_ERROR(store.add_rule("proto=udp action=drop"), c.code, c.part);
        EXPECT_COMMAND_ERROR(store.delete_rule(1), c.code, c.part);
        EXPECT_COMMAND_ERROR(store.add_to_set("block", {"10.0.0.0/8"}), c.code, c.part);
        EXPECT_COMMAND_ERROR(store.delete_from_set("block", {"10.0.0.0/8"}), c.code, c.part);
        EXPECT_COMMAND_ERROR(store.load_set("other", {"10.0.0.0/8"}), c.code, c.part);
        EXPECT_COMMAND_ERROR(store.create_set("other"), c.code, c.part);
        EXPECT_COMMAND_ERROR(store.recommit("again"), c.code, c.part);
        EXPECT_COMMAND_ERROR(store.replace(Policy{}, "empty"), c.code, c.part);
        EXPECT_EQ(store.version(), 2u);
        EXPECT_EQ(store.policy(), before);
        EXPECT_EQ(store.history().size(), history);
        EXPECT_EQ(read_file(file), saved);
        EXPECT_EQ(read_file(PolicyStore::journal_path(file)), saved_journal);
        EXPECT_FALSE(std::filesystem::exists(dir.path() / "state.json.tmp"));
    }
    EXPECT_EQ(created, std::vector<uint32_t>{1});
    sink.fail = FakeSink::Fail::none;
    EXPECT_EQ(store.add_rule("proto=udp action=drop"), 2u);
    EXPECT_EQ(store.version(), 3u);
    EXPECT_EQ(created, (std::vector<uint32_t>{1, 2}));
}

TEST(PolicyStore, CompilerErrorsGetTheirCodes)
{
    CompileOptions o;
    o.caps.max_rules = 64;
    o.resolve = [](const std::string& name) -> uint32_t { return name == "eth0" ? 2 : 0; };
    CompilingSink sink(o);
    PolicyStore store(sink, 4096, {});
    store.add_rule("iif=eth0 action=drop");
    EXPECT_COMMAND_ERROR(store.add_rule("iif=nosuch0 action=drop"), "invalid_rule",
                         "unknown interface 'nosuch0'");
    Policy big;
    for (uint32_t i = 1; i <= 65; ++i)
        big.rules.push_back(parse_rule(
            "id=" + std::to_string(i) + " vlan=" + std::to_string(i) + " action=drop", "test"));
    EXPECT_COMMAND_ERROR(store.replace(big, "big"), "capacity", "exceed max_rules=64");
    EXPECT_EQ(store.version(), 1u);
}

TEST(PolicyStore, SaveFailureBeforeCommitChangesNothing)
{
    TempDir dir;
    write_file(dir.path() / "file", "x");
    FakeSink sink;
    // The state file's directory cannot be created: a regular file is in the way.
    PolicyStore store(sink, 4096, dir.path() / "file" / "state.json");
    EXPECT_COMMAND_ERROR(store.add_rule("proto=tcp action=drop"), "internal", "state file");
    EXPECT_TRUE(sink.commits.empty());
    EXPECT_EQ(store.version(), 0u);
    EXPECT_TRUE(store.policy().rules.empty());
}

TEST(PolicyStore, OnRuleCreatedOnlyForNewOrChangedRules)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    std::vector<uint32_t> created;
    store.on_rule_created = [&](uint32_t id) { created.push_back(id); };
    Policy p;
    p.rules.push_back(parse_rule("id=1 proto=tcp action=drop", "t"));
    p.rules.push_back(parse_rule("id=2 proto=udp action=drop", "t"));
    store.replace(p, "first");
    EXPECT_EQ(created, (std::vector<uint32_t>{1, 2}));
    created.clear();
    p.rules[1] = parse_rule("id=2 proto=udp action=pass", "t");
    p.rules.push_back(parse_rule("id=5 proto=icmp action=pass", "t"));
    store.replace(p, "second");
    EXPECT_EQ(created, (std::vector<uint32_t>{2, 5}));
    created.clear();
    store.recommit("again");
    store.create_set("s");
    EXPECT_TRUE(created.empty());
}

TEST(PolicyStore, ReplaceValidates)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    Policy p;
    p.rules.push_back(parse_rule("id=1 src=@missing action=drop", "t"));
    EXPECT_COMMAND_ERROR(store.replace(p, "x"), "unknown_set", "missing");
    p.rules[0] = parse_rule("id=1 action=drop", "t");
    p.rules.push_back(parse_rule("id=1 action=pass", "t"));
    EXPECT_COMMAND_ERROR(store.replace(p, "x"), "invalid_policy", "more than one rule");
    p.rules.pop_back();
    p.rules.push_back(parse_rule("id=4096 action=pass", "t"));
    EXPECT_COMMAND_ERROR(store.replace(p, "x"), "invalid_rule", "4096 is out of range");
    p.rules.pop_back();
    p.default_action = ActionType::count;
    EXPECT_COMMAND_ERROR(store.replace(p, "x"), "invalid_policy", "default");
    p.default_action = ActionType::drop;
    // Sets are normalised on the way in.
    p.sets["s"] = {Prefix::parse("10.0.0.0/8"), Prefix::parse("1.0.0.0/8"),
                            Prefix::parse("10.0.0.0/8")};
    store.replace(p, "ok");
    EXPECT_EQ(store.policy().sets.at("s").prefixes().size(), 2u);
    EXPECT_EQ(store.version(), 1u);
    EXPECT_TRUE(sink.commits.size() == 1 && sink.commits[0].second == 1);
    store.recommit("restart");
    EXPECT_EQ(store.version(), 2u);
    EXPECT_EQ(sink.commits.back().first, store.policy());
    EXPECT_EQ(store.history().back().summary, "restart");
}

TEST(PolicyStore, HistorySummaries)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    auto t0 = std::chrono::system_clock::now() - std::chrono::seconds(1);
    store.create_set("block");
    store.add_to_set("block", {"10.0.0.0/8", "192.0.2.0/24"});
    store.delete_from_set("block", {"10.0.0.0/8"});
    store.load_set("block", {"10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"});
    store.add_rule("priority=10 src=@block proto=tcp dport=22 action=drop");
    store.delete_rule(1);
    std::vector<std::string> summaries;
    for (const HistoryEntry& h : store.history()) {
        summaries.push_back(h.summary);
        EXPECT_GE(h.time, t0);
        EXPECT_LE(h.time, std::chrono::system_clock::now());
    }
    EXPECT_EQ(summaries, (std::vector<std::string>{
                             "set.create block",
                             "set.add block: 2 new, size 2",
                             "set.del block: 1 removed, size 1",
                             "set.load block: 3 prefixes",
                             "rule.add id=1: priority=10 src=@block proto=tcp dport=22 action=drop",
                             "rule.del id=1: priority=10 src=@block proto=tcp dport=22 action=drop",
                         }));
    for (size_t i = 0; i < store.history().size(); ++i)
        EXPECT_EQ(store.history()[i].version, i + 1);
}

TEST(PolicyStore, HistoryKeepsTheLast1000)
{
    FakeSink sink;
    PolicyStore store(sink, 4096, {});
    for (int i = 0; i < 1005; ++i)
        store.recommit("commit " + std::to_string(i + 1));
    ASSERT_EQ(store.history().size(), 1000u);
    EXPECT_EQ(store.history().front().version, 6u);
    EXPECT_EQ(store.history().front().summary, "commit 6");
    EXPECT_EQ(store.history().back().version, 1005u);
}

TEST(PolicyStore, FormatUtcTime)
{
    using namespace std::chrono;
    EXPECT_EQ(format_utc_time(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
    auto t = sys_days(year(2024) / 2 / 29) + hours(23) + minutes(5) + seconds(7) + milliseconds(42);
    EXPECT_EQ(format_utc_time(t), "2024-02-29T23:05:07.042Z");
}

TEST(PolicyStore, StateRoundTrip)
{
    TempDir dir;
    auto file = dir.path() / "sub" / "dir" / "state.json"; // parents created on save
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    EXPECT_FALSE(store.restore());
    Policy initial;
    initial.default_action = ActionType::drop;
    initial.malformed_action = ActionType::pass;
    initial.rules.push_back(parse_rule("id=7 priority=-5 proto=icmp icmp_type=8 action=pass", "t"));
    store.replace(initial, "initial policy from test");
    store.create_set("block");
    store.add_to_set("block", {"10.0.0.0/8", "2001:db8::/48", "192.0.2.7"});
    store.create_set("empty");
    store.add_rule("priority=10 src=@block proto=tcp dport=22 action=drop");
    store.add_rule("iif=eth0 vlan=5 dst=198.51.100.0/24 proto=tcp tcp_flags=SYN,!ACK action=count");
    store.add_rule("proto=udp dport=53 action=xsk fallback=drop");
    store.add_rule("dst=2001:db8::1 action=redirect:veth1");
    store.delete_rule(2);
    ASSERT_TRUE(std::filesystem::exists(file));

    // The documented layout: the snapshot written by replace (version 1),
    // then one journal line per commit.
    auto j = nlohmann::json::parse(read_file(file));
    EXPECT_EQ(j["format"], 1);
    EXPECT_EQ(j["version"], 1);
    EXPECT_EQ(j["policy"]["default"], "drop");
    EXPECT_EQ(j["policy"]["malformed"], "pass");
    EXPECT_EQ(j["policy"]["rules"][0]["id"], 7);
    EXPECT_EQ(j["policy"]["rules"][0]["text"], store.policy().rules[0].text);
    EXPECT_EQ(j["history"].size(), 1u);
    EXPECT_EQ(j["history"][0]["summary"], "initial policy from test");
    std::vector<nlohmann::json> lines;
    std::istringstream journal(read_file(PolicyStore::journal_path(file)));
    for (std::string line; std::getline(journal, line);)
        lines.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(lines.size(), store.version() - 1);
    EXPECT_EQ(lines[0]["version"], 2);
    EXPECT_EQ(lines[0]["summary"], "set.create block");
    EXPECT_EQ(lines[0]["change"], (nlohmann::json{{"op", "set.create"}, {"name", "block"}}));
    EXPECT_EQ(lines[1]["change"]["prefixes"],
              (nlohmann::json{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/48"}));
    EXPECT_EQ(lines[3]["change"]["op"], "rule.add");
    EXPECT_EQ(lines[3]["change"]["id"], 1);
    EXPECT_EQ(lines.back()["change"], (nlohmann::json{{"op", "rule.del"}, {"id", 2}}));
    EXPECT_EQ(lines.back()["time"], format_utc_time(store.history().back().time));

    FakeSink sink2;
    PolicyStore restored(sink2, 4096, file);
    ASSERT_TRUE(restored.restore());
    EXPECT_TRUE(sink2.commits.empty()); // restore commits nothing
    EXPECT_EQ(restored.policy(), store.policy());
    EXPECT_EQ(ids(restored.policy()), ids(store.policy()));
    EXPECT_EQ(restored.version(), store.version());
    ASSERT_EQ(restored.history().size(), store.history().size());
    for (size_t i = 0; i < store.history().size(); ++i) {
        EXPECT_EQ(restored.history()[i].version, store.history()[i].version);
        EXPECT_EQ(restored.history()[i].time, store.history()[i].time);
        EXPECT_EQ(restored.history()[i].summary, store.history()[i].summary);
    }
    // Ids keep counting from the restored policy; the next commit follows on.
    EXPECT_EQ(ids(restored.policy()), (std::vector<uint32_t>{7, 1, 3, 4}));
    EXPECT_EQ(restored.add_rule("proto=tcp action=pass"), 2u);
    EXPECT_EQ(restored.add_rule("proto=tcp action=pass"), 5u);
    EXPECT_EQ(restored.version(), store.version() + 2);
    restored.recommit("after restart");
    EXPECT_EQ(sink2.commits.back().second, restored.version());
}

TEST(PolicyStore, RestoreRejectsBadStateFiles)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    using json = nlohmann::json;
    const json good = {
        {"format", 1},
        {"version", 3},
        {"policy",
         {{"default", "pass"},
          {"malformed", "drop"},
          {"rules", {{{"id", 1}, {"text", "proto=tcp action=drop"}}}},
          {"sets", {{"s", {"10.0.0.0/8"}}}}}},
        {"history", {{{"version", 1}, {"time", "2024-01-02T03:04:05.006Z"}, {"summary", "x"}}}}};
    // A good file with one JSON pointer replaced (or removed when null).
    auto bad = [&](const std::string& pointer, const json& value) {
        json j = good;
        json::json_pointer ptr(pointer);
        if (value.is_null())
            j[ptr.parent_pointer()].erase(ptr.back());
        else
            j[ptr] = value;
        return j.dump();
    };
    struct Case {
        std::string text, part;
    };
    const Case cases[] = {
        {"", "not JSON"},
        {"garbage\x01\xff", "not JSON"},
        {"{\"format\":1,", "not JSON"},
        {"[1,2]", "expected a JSON object, got array"},
        {bad("/format", nullptr), "missing \"format\""},
        {bad("/format", 2), "unsupported format 2"},
        {bad("/version", -1), "version: expected a non-negative integer"},
        {bad("/version", "3"), "version: expected a non-negative integer, got string"},
        {bad("/policy", nullptr), "missing \"policy\""},
        {bad("/policy/default", "maybe"), "policy.default: 'maybe' is not drop or pass"},
        {bad("/policy/rules/0/text", "proto=tcp dport=99999 action=drop"),
         "policy.rules[0]: rule 1: dport"},
        {bad("/policy/rules/0/id", 5000), "policy.rules[0].id: 5000 is out of range"},
        {bad("/policy/rules/0/text", nullptr), "policy.rules[0]: missing \"text\""},
        {bad("/policy/rules/0/text", "src=@gone action=drop"), "unknown set 'gone'"},
        {bad("/policy/sets/s/0", "10.0.0.1/8"), "policy.sets.s[0]: 10.0.0.1/8 has host bits set"},
        {bad("/policy/sets/s/0", 7), "policy.sets.s[0]: expected a string, got number"},
        {bad("/policy/sets/s", "10.0.0.0/8"), "policy.sets.s: expected an array of prefixes"},
        {bad("/history/0/time", "yesterday"), "history[0].time: 'yesterday' is not an RFC 3339"},
        {bad("/history", json::object()), "history: expected an array"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        write_file(file, c.text);
        FakeSink sink;
        PolicyStore store(sink, 4096, file);
        EXPECT_COMMAND_ERROR(store.restore(), "invalid_policy", c.part);
        EXPECT_COMMAND_ERROR(store.restore(), "invalid_policy", file.string());
        EXPECT_EQ(store.version(), 0u);
        EXPECT_TRUE(store.policy().rules.empty());
        EXPECT_TRUE(store.history().empty());
    }
    // The unmodified file is valid: the cases above fail for their one change.
    write_file(file, good.dump());
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    ASSERT_TRUE(store.restore());
    EXPECT_EQ(store.version(), 3u);
    EXPECT_EQ(store.policy().rules.at(0).text, "priority=0 proto=tcp action=drop");
    EXPECT_EQ(format_utc_time(store.history().at(0).time), "2024-01-02T03:04:05.006Z");
}

// Correctness at size; the time it takes is a benchmark's business (bench/).
TEST(PolicyStore, LargeSetSavesAndRestores)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    std::vector<std::string> prefixes;
    prefixes.reserve(100000);
    for (uint32_t i = 0; i < 100000; ++i) {
        uint32_t a = 0x0b000000u + (i << 8); // distinct /24s from 11.0.0.0
        prefixes.push_back(std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
                           std::to_string((a >> 8) & 255) + ".0/24");
    }
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    EXPECT_EQ(store.load_set("blocklist", prefixes), 100000u);
    FakeSink sink2;
    PolicyStore restored(sink2, 4096, file);
    ASSERT_TRUE(restored.restore());
    EXPECT_EQ(restored.policy(), store.policy());
    EXPECT_EQ(restored.version(), store.version());
    EXPECT_EQ(restored.history().back().summary, "set.load blocklist: 100000 prefixes");
}

namespace {

// A store's state seen through a fresh store restored from its files.
void expect_restores_to(const std::filesystem::path& file, const PolicyStore& store)
{
    FakeSink sink;
    PolicyStore restored(sink, 4096, file);
    ASSERT_TRUE(restored.restore());
    EXPECT_EQ(restored.policy(), store.policy());
    EXPECT_EQ(ids(restored.policy()), ids(store.policy()));
    EXPECT_EQ(restored.version(), store.version());
    ASSERT_EQ(restored.history().size(), store.history().size());
    EXPECT_EQ(restored.history().back().summary, store.history().back().summary);
}

} // namespace

TEST(PolicyStore, JournalCompactsIntoASnapshot)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    store.compact_min_bytes = 0; // compact as soon as the journal outgrows the snapshot
    store.create_set("s");
    uint64_t compactions = 0, last_snapshot_version = 1;
    auto check = [&] {
        auto snap = nlohmann::json::parse(read_file(file));
        const uint64_t v = snap["version"];
        if (v != last_snapshot_version) {
            ++compactions;
            last_snapshot_version = v;
            // The commit that compacts writes its own version and empties the journal.
            EXPECT_EQ(v, store.version());
            EXPECT_EQ(std::filesystem::file_size(PolicyStore::journal_path(file)), 0u);
        }
        // The journal never grows past the snapshot by more than one line.
        EXPECT_LE(std::filesystem::file_size(PolicyStore::journal_path(file)),
                  std::filesystem::file_size(file) + 512);
    };
    for (uint32_t i = 0; i < 200; ++i) {
        if (i % 3 == 2)
            store.delete_rule(store.policy().rules.front().id);
        else
            store.add_rule("proto=udp dport=" + std::to_string(1000 + i) + " action=drop");
        check();
        store.add_to_set("s", {"10." + std::to_string(i) + ".0.0/16"});
        check();
    }
    EXPECT_GT(compactions, 2u);
    expect_restores_to(file, store);
}

TEST(PolicyStore, JournalTornLastLineIsDropped)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    auto journal = PolicyStore::journal_path(file);
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    store.add_rule("proto=tcp action=drop");  // snapshot (first save)
    store.add_rule("proto=udp action=drop");  // journal line, version 2
    const std::string good = read_file(journal);
    // A crash while appending version 3: part of a line, no newline.
    write_file(journal, good + R"({"version":3,"time":"2024-01-02T03:04:05.006Z","summ)");

    FakeSink sink2;
    PolicyStore restored(sink2, 4096, file);
    ASSERT_TRUE(restored.restore());
    EXPECT_EQ(restored.version(), 2u);
    EXPECT_EQ(restored.policy(), store.policy());
    EXPECT_EQ(read_file(journal), good); // the torn tail is cut off
    // The next commit starts a line of its own and survives a restore.
    EXPECT_EQ(restored.add_rule("proto=icmp action=drop"), 3u);
    expect_restores_to(file, restored);
}

TEST(PolicyStore, JournalLinesOlderThanTheSnapshotAreSkipped)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    auto journal = PolicyStore::journal_path(file);
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    store.add_rule("proto=tcp action=drop");
    store.create_set("s");
    store.add_to_set("s", {"192.0.2.0/24"});
    const std::string old_lines = read_file(journal); // versions 2 and 3
    ASSERT_FALSE(old_lines.empty());
    Policy p = store.policy();
    p.rules.clear();
    store.replace(p, "replace"); // version 4: a snapshot, the journal emptied
    EXPECT_EQ(std::filesystem::file_size(journal), 0u);
    // A compaction that stopped between the snapshot and emptying the journal.
    write_file(journal, old_lines);
    FakeSink sink2;
    PolicyStore restored(sink2, 4096, file);
    ASSERT_TRUE(restored.restore());
    EXPECT_EQ(restored.version(), 4u);
    EXPECT_EQ(restored.policy(), store.policy());
    // New lines after the stale ones replay.
    restored.add_rule("proto=udp action=pass");
    expect_restores_to(file, restored);
}

TEST(PolicyStore, RestoreRejectsBadJournals)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    auto journal = PolicyStore::journal_path(file);
    {
        FakeSink sink;
        PolicyStore store(sink, 4096, file);
        store.add_rule("proto=tcp action=drop"); // version 1, the snapshot
    }
    const std::string line2 =
        R"({"version":2,"time":"2024-01-02T03:04:05.006Z","summary":"x","change":)";
    struct Case {
        std::string text, part;
    };
    const Case cases[] = {
        {"garbage\n", "line 1: not JSON"},
        {line2 + R"({"op":"rule.add","id":2,"text":"proto=tcp action=drop"}})" + "\ngarbage\n",
         "line 2: not JSON"},
        {R"({"version":3,"time":"2024-01-02T03:04:05.006Z","summary":"x","change":{"op":"recommit"}})"
         "\n",
         "line 1.version: version 3 does not follow version 1"},
        {line2 + R"({"op":"frob"}})" + "\n", "line 1.change.op: unknown operation 'frob'"},
        {line2 + R"({"op":"rule.add","id":2,"text":"dport=70000 action=drop"}})" + "\n",
         "line 1.change: rule 2: dport"},
        {line2 + R"({"op":"rule.add","id":1,"text":"proto=udp action=drop"}})" + "\n",
         "line 1: rule id 1 is taken"},
        {line2 + R"({"op":"rule.del","id":9}})" + "\n", "line 1: no rule with id 9"},
        {line2 + R"({"op":"set.add","name":"nope","prefixes":["10.0.0.0/8"]}})" + "\n",
         "line 1: no set named 'nope'"},
        {line2 + R"({"op":"set.load","name":"s","prefixes":["10.0.0.1/8"]}})" + "\n",
         "line 1.change.prefixes[0]: 10.0.0.1/8 has host bits set"},
        {line2 + R"({"op":"rule.add","id":2,"text":"src=@gone action=drop"}})" + "\n",
         "the policy it leads to is invalid"},
        {R"({"version":2,"time":"later","summary":"x","change":{"op":"recommit"}})"
         "\n",
         "line 1.time: 'later' is not an RFC 3339"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        write_file(journal, c.text);
        FakeSink sink;
        PolicyStore store(sink, 4096, file);
        EXPECT_COMMAND_ERROR(store.restore(), "invalid_policy", c.part);
        EXPECT_COMMAND_ERROR(store.restore(), "invalid_policy", "journal " + journal.string());
        EXPECT_EQ(store.version(), 0u);
        EXPECT_TRUE(store.policy().rules.empty());
    }
    // The well-formed line of the cases replays.
    write_file(journal, line2 + R"({"op":"rule.add","id":2,"text":"proto=tcp action=pass"}})" + "\n");
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    ASSERT_TRUE(store.restore());
    EXPECT_EQ(store.version(), 2u);
    EXPECT_EQ(ids(store.policy()), (std::vector<uint32_t>{1, 2}));
}

// A state file someone else could have written is refused, not trusted
// (issue 12 item 2): writable by group or others, or owned by another uid.
TEST(PolicyStore, UntrustedStateFilesAreRefused)
{
    TempDir dir;
    const auto file = dir.path() / "state.json";
    {
        FakeSink sink;
        PolicyStore store(sink, 4096, file);
        store.add_rule("proto=udp dport=53 action=drop"); // the snapshot
        store.add_rule("proto=udp dport=54 action=drop"); // a journal line
    }
    auto restore_error = [&] {
        FakeSink sink;
        PolicyStore store(sink, 4096, file);
        try {
            store.restore();
        } catch (const CommandError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    ASSERT_EQ(restore_error(), "");
    std::filesystem::permissions(file, std::filesystem::perms::others_write,
                                 std::filesystem::perm_options::add);
    std::string why = restore_error();
    EXPECT_NE(why.find("writable by others"), std::string::npos) << why;
    EXPECT_NE(why.find(file.string()), std::string::npos) << why;
    std::filesystem::permissions(file, std::filesystem::perms::others_write,
                                 std::filesystem::perm_options::remove);
    const auto journal = PolicyStore::journal_path(file);
    std::filesystem::permissions(journal, std::filesystem::perms::group_write,
                                 std::filesystem::perm_options::add);
    why = restore_error();
    EXPECT_NE(why.find("writable by its group"), std::string::npos) << why;
    std::filesystem::permissions(journal, std::filesystem::perms::group_write,
                                 std::filesystem::perm_options::remove);
    ASSERT_EQ(restore_error(), "");
    if (::geteuid() != 0)
        GTEST_SKIP() << "chown to another uid needs root";
    ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
    why = restore_error();
    EXPECT_NE(why.find("owned by uid 65534"), std::string::npos) << why;
}

TEST(PolicyStore, ReplaceRuleKeepsItsIdAndPlace)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    std::vector<uint32_t> created;
    store.on_rule_created = [&](uint32_t id) { created.push_back(id); };
    store.add_rule("priority=5 proto=tcp dport=22 action=drop");
    store.add_rule("priority=5 proto=udp action=pass");
    created.clear();

    store.replace_rule(1, "priority=5 proto=tcp dport=2222 action=drop comment=\"ssh moved\"");
    EXPECT_EQ(ids(store.policy()), (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(store.policy().rules[0].match.dport->lo, 2222);
    EXPECT_EQ(store.policy().rules[0].comment, "ssh moved");
    EXPECT_EQ(created, std::vector<uint32_t>{1}) << "a new match restarts the counters";
    EXPECT_NE(store.history().back().summary.find("rule.replace id=1:"), std::string::npos);

    created.clear();
    store.replace_rule(1, "priority=5 proto=tcp dport=2222 action=drop comment=\"moved in May\"");
    EXPECT_TRUE(created.empty()) << "a new comment keeps the counters";

    const uint64_t version = store.version();
    EXPECT_COMMAND_ERROR(store.replace_rule(9, "action=drop"), "unknown_rule", "no rule with id 9");
    EXPECT_COMMAND_ERROR(store.replace_rule(1, "id=2 action=drop"), "invalid_rule", "id=2");
    EXPECT_COMMAND_ERROR(store.replace_rule(1, "proto=tcp"), "invalid_rule", "action");
    EXPECT_COMMAND_ERROR(store.replace_rule(1, "src=@nosuch action=drop"), "unknown_set", "nosuch");
    EXPECT_EQ(store.version(), version);
    store.replace_rule(2, "id=2 priority=1 proto=udp action=drop"); // its own id is fine

    FakeSink sink2;
    PolicyStore restored(sink2, 4096, file);
    ASSERT_TRUE(restored.restore());
    EXPECT_EQ(restored.policy(), store.policy()) << "the journal replays rule.replace";
}

TEST(PolicyStore, DestroySetOnlyWhenNoRuleUsesIt)
{
    TempDir dir;
    auto file = dir.path() / "state.json";
    FakeSink sink;
    PolicyStore store(sink, 4096, file);
    store.create_set("block");
    store.add_to_set("block", {"192.0.2.0/24"});
    store.create_set("spare");
    store.add_rule("src=@block action=drop");
    store.add_rule("dst=@block proto=udp action=drop");

    const uint64_t version = store.version();
    EXPECT_COMMAND_ERROR(store.destroy_set("block"), "set_in_use", "used by rules 1, 2");
    EXPECT_COMMAND_ERROR(store.destroy_set("nosuch"), "unknown_set", "nosuch");
    EXPECT_EQ(store.version(), version);
    EXPECT_TRUE(store.policy().sets.contains("block"));

    store.destroy_set("spare");
    EXPECT_FALSE(store.policy().sets.contains("spare"));
    store.delete_rule(1);
    EXPECT_COMMAND_ERROR(store.destroy_set("block"), "set_in_use", "used by rule 2;");
    store.delete_rule(2);
    store.destroy_set("block");
    EXPECT_TRUE(store.policy().sets.empty());
    EXPECT_EQ(store.history().back().summary, "set.destroy block");

    FakeSink sink2;
    PolicyStore restored(sink2, 4096, file);
    ASSERT_TRUE(restored.restore());
    EXPECT_EQ(restored.policy(), store.policy()) << "the journal replays set.destroy";
}
