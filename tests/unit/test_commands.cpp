// SPDX-License-Identifier: GPL-2.0-only
// Unit tests for the control protocol's commands (docs/PROTOCOL.md): result
// shapes and error codes, against a fake sink and a fake dataplane view.
#include "lib/control/commands.hpp"
#include "lib/protocol/protocol.hpp"

#include "lib/lang/rule_parser.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

using namespace xdpfw;
using json = nlohmann::json;

namespace {

class FakeSink : public PolicySink {
public:
    enum class Fail { none, capacity, kernel };
    void commit(const Policy& policy, uint64_t version) override
    {
        if (fail == Fail::capacity)
            throw CapacityError("set block", "src",
                              "more than max_v4_hosts=4 IPv4 host routes (/32) in /24 blocks of "
                              "host routes");
        if (fail == Fail::kernel)
            throw std::system_error(EPERM, std::generic_category(), "bpf_map_update_elem");
        commits.emplace_back(policy, version);
    }
    Fail fail = Fail::none;
    std::vector<std::pair<Policy, uint64_t>> commits;
};

class FakeView : public DataplaneView {
public:
    std::string instance() const override { return "lab"; }
    std::vector<InterfaceStatus> interfaces() const override
    {
        if (broken)
            throw std::logic_error("interface list is broken");
        return {{"veth0", 4, "native", false}, {"eth1", 7, "generic", true}};
    }
    bool adopted() const override { return true; }
    double uptime_seconds() const override { return 12.5; }
    CounterSample rule_counter(uint32_t id) const override
    {
        return {id * 10, id * 1000, id * 1.5, id * 12.0};
    }
    std::vector<std::pair<std::string, CounterSample>> reason_counters() const override
    {
        return {{"rule_drop", {3, 300, 1, 8}}, {"default_pass", {5, 500, 0, 0}}};
    }
    nlohmann::json memory() const override
    {
        if (!memory_known)
            return nullptr;
        return {{"kernel_map_bytes", 1u << 20}, {"daemon_rss_bytes", 2u << 20}};
    }
    bool memory_known = false;
    nlohmann::json fleet() const override { return fleet_state; }
    nlohmann::json fleet_state; // null: the daemon does not follow etcd
    std::vector<std::string> detach() override
    {
        if (detach_fails)
            throw std::system_error(EBUSY, std::generic_category(), "detach veth0");
        detached = true;
        return {"veth0", "eth1"};
    }
    bool xsk_engine_running() const override { return engine; }
    bool broken = false, detach_fails = false, detached = false, engine = true;
};

class Commands : public ::testing::Test {
protected:
    json run(const json& request, bool* exit_after = nullptr)
    {
        bool dummy = false;
        json r = execute_request(request, store, view, exit_after ? exit_after : &dummy);
        r.dump(); // every response must serialise
        return r;
    }
    json ok(const json& request)
    {
        json r = run(request);
        EXPECT_EQ(r["ok"], true) << request.dump() << " -> " << r.dump();
        return r;
    }
    // Expects an error response with code; returns its message.
    std::string fails(const json& request, const std::string& code)
    {
        json r = run(request);
        EXPECT_EQ(r["ok"], false) << request.dump() << " -> " << r.dump();
        EXPECT_EQ(r["error"]["code"], code) << request.dump() << " -> " << r.dump();
        EXPECT_TRUE(r["error"]["message"].is_string());
        return r["error"].value("message", "");
    }

    FakeSink sink;
    FakeView view;
    PolicyStore store{sink, 4096, {}};
};

bool has(const std::string& message, const std::string& part)
{
    return message.find(part) != std::string::npos;
}

} // namespace

TEST_F(Commands, WarnsWhenNoEngineServesXskOrInspection)
{
    // With the engine: no warning.
    EXPECT_FALSE(ok({{"cmd", "rule.add"}, {"rule", "priority=5 proto=udp action=xsk"}})
                     .contains("warning"));
    view.engine = false;
    // Committed all the same (the engine may start later), and said.
    json r = ok({{"cmd", "rule.add"}, {"rule", "priority=6 proto=tcp action=xsk"}});
    EXPECT_TRUE(has(r.value("warning", ""), "no AF_XDP engine")) << r.dump();
    EXPECT_TRUE(has(r.value("warning", ""), "fallback")) << r.dump();
    EXPECT_EQ(store.policy().rules.size(), 2u);
    r = ok({{"cmd", "inspect.add"}, {"rule", "priority=1 dns_suffix=evil.example action=drop"}});
    EXPECT_TRUE(has(r.value("warning", ""), "inspection rules")) << r.dump();
    // A rule that needs no engine: nothing to say.
    EXPECT_FALSE(ok({{"cmd", "rule.add"}, {"rule", "priority=7 proto=udp action=drop"}})
                     .contains("warning"));
    r = ok({{"cmd", "load"},
            {"policy", {{"default", "pass"}, {"rules", {"priority=1 proto=udp action=xsk"}}}}});
    EXPECT_TRUE(has(r.value("warning", ""), "fallback")) << r.dump();
}

TEST_F(Commands, BadJson)
{
    for (const std::string line :
         {"", "not json", "{\"id\":1,", "[1,2]", "\"status\"", "42", "{\"id\":1}{", "\xff\xfe"}) {
        SCOPED_TRACE(line);
        bool exit_after = false;
        json r = execute_line(line, store, view, &exit_after);
        EXPECT_EQ(r["id"], 0);
        EXPECT_EQ(r["ok"], false);
        EXPECT_EQ(r["error"]["code"], "bad_json");
        EXPECT_NO_THROW(r.dump());
        EXPECT_FALSE(exit_after);
    }
    json r = execute_line("{\"id\":3,\"cmd\":\"status\"}", store, view, nullptr);
    EXPECT_EQ(r["id"], 3);
    EXPECT_EQ(r["ok"], true);
}

TEST_F(Commands, IdEcho)
{
    EXPECT_EQ(run({{"id", 7}, {"cmd", "status"}})["id"], 7);
    EXPECT_EQ(run({{"id", -3}, {"cmd", "status"}})["id"], -3);
    EXPECT_EQ(run({{"id", 18446744073709551615ull}, {"cmd", "status"}})["id"],
              18446744073709551615ull);
    EXPECT_EQ(run({{"cmd", "status"}})["id"], 0);
    EXPECT_EQ(run({{"id", "seven"}, {"cmd", "status"}})["id"], 0);
    EXPECT_EQ(run({{"id", 1.5}, {"cmd", "status"}})["id"], 0);
    EXPECT_EQ(run({{"id", 9}, {"cmd", "nope"}})["id"], 9); // errors echo it too
}

TEST_F(Commands, UnknownAndMissingCommand)
{
    std::string m = fails({{"id", 1}, {"cmd", "rule.frobnicate"}}, "unknown_command");
    EXPECT_TRUE(has(m, "rule.frobnicate") && has(m, "rule.add")) << m;
    EXPECT_TRUE(has(fails({{"id", 1}}, "bad_request"), "'cmd'"));
    EXPECT_TRUE(has(fails({{"id", 1}, {"cmd", 5}}, "bad_request"), "'cmd' must be a string"));
}

TEST_F(Commands, ArgumentTypes)
{
    struct Case {
        json request;
        std::string part;
    };
    const Case cases[] = {
        {{{"cmd", "rule.add"}}, "missing argument 'rule'"},
        {{{"cmd", "rule.add"}, {"rule", 5}}, "'rule' must be a string, got number"},
        {{{"cmd", "rule.del"}}, "missing argument 'rule_id'"},
        {{{"cmd", "rule.del"}, {"rule_id", "3"}}, "'rule_id' must be an integer"},
        {{{"cmd", "rule.del"}, {"rule_id", 1.5}}, "'rule_id' must be an integer"},
        {{{"cmd", "rule.del"}, {"rule_id", -1}}, "'rule_id' must be 0..4294967295"},
        {{{"cmd", "rule.del"}, {"rule_id", 4294967296ull}}, "'rule_id' must be 0..4294967295"},
        {{{"cmd", "set.create"}}, "missing argument 'name'"},
        {{{"cmd", "set.create"}, {"name", json::array()}}, "'name' must be a string"},
        {{{"cmd", "set.add"}, {"name", "s"}}, "missing argument 'prefixes'"},
        {{{"cmd", "set.add"}, {"name", "s"}, {"prefixes", "10.0.0.0/8"}},
         "'prefixes' must be an array of strings"},
        {{{"cmd", "set.del"}, {"name", "s"}, {"prefixes", {"10.0.0.0/8", 3}}},
         "'prefixes[1]' must be a string"},
        {{{"cmd", "set.load"}, {"prefixes", json::array()}}, "missing argument 'name'"},
        {{{"cmd", "set.list"}, {"name", 3}}, "'name' must be a string"},
        {{{"cmd", "history"}, {"limit", "ten"}}, "'limit' must be an integer"},
        {{{"cmd", "history"}, {"limit", -1}}, "'limit' must be 0.."},
        {{{"cmd", "load"}}, "missing argument 'policy'"},
        {{{"cmd", "load"}, {"policy", json::array()}}, "'policy' must be an object, got array"},
        {{{"cmd", "load"}, {"policy", {{"rules", "action=drop"}}}},
         "'policy.rules' must be an array of strings"},
        {{{"cmd", "load"}, {"policy", {{"rules", {"action=drop", 2}}}}},
         "'policy.rules[1]' must be a string"},
        {{{"cmd", "load"}, {"policy", {{"sets", json::array()}}}},
         "'policy.sets' must be an object"},
        {{{"cmd", "load"}, {"policy", {{"sets", {{"s", {1}}}}}}},
         "'policy.sets.s[0]' must be a string"},
        {{{"cmd", "load"}, {"policy", {{"default", false}}}}, "'policy.default' must be a string"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.request.dump());
        std::string m = fails(c.request, "bad_request");
        EXPECT_TRUE(has(m, c.part)) << m;
    }
    EXPECT_EQ(store.version(), 0u);
    EXPECT_TRUE(sink.commits.empty());
}

TEST_F(Commands, WarnsWhenTheDefaultsDropNeighbours)
{
    // default: drop without a rule for neighbour discovery: committed, and said.
    json r = ok({{"cmd", "load"},
                 {"policy", {{"default", "drop"}, {"rules", {"proto=tcp dport=22 action=pass"}}}}});
    EXPECT_EQ(store.version(), 1u);
    EXPECT_TRUE(has(r.value("warning", ""), "IPv6 neighbour discovery")) << r.dump();
    EXPECT_FALSE(has(r.value("warning", ""), "ARP")) << r.dump();
    // Still missing after an unrelated rule.
    r = ok({{"cmd", "rule.add"}, {"rule", "priority=5 proto=udp dport=53 action=pass"}});
    EXPECT_TRUE(has(r.value("warning", ""), "neighbour discovery")) << r.dump();
    // The rule that passes it ends the warning.
    r = ok({{"cmd", "rule.add"}, {"rule", "priority=0 proto=icmpv6 action=pass"}});
    EXPECT_FALSE(r.contains("warning")) << r.dump();
    const uint32_t nd = r["rule_id"];
    // Deleting it brings the warning back.
    r = ok({{"cmd", "rule.del"}, {"rule_id", nd}});
    EXPECT_TRUE(has(r.value("warning", ""), "neighbour discovery")) << r.dump();

    // default_non_ip: drop without ether=arp, and both warnings with the
    // no-engine one: one line each.
    view.engine = false;
    r = ok({{"cmd", "load"},
            {"policy",
             {{"default", "drop"},
              {"default_non_ip", "drop"},
              {"rules", {"priority=1 proto=udp action=xsk"}}}}});
    EXPECT_EQ(store.policy().default_non_ip_action, ActionType::drop);
    const std::string w = r.value("warning", "");
    EXPECT_TRUE(has(w, "no AF_XDP engine")) << w;
    EXPECT_TRUE(has(w, "\ndefault: drop drops IPv6 neighbour discovery")) << w;
    EXPECT_TRUE(has(w, "\ndefault_non_ip: drop drops ARP")) << w;
    EXPECT_EQ(ok({{"cmd", "status"}})["default_non_ip"], "drop");
    // ARP passed on one of the two interfaces: the other is named.
    r = ok({{"cmd", "rule.add"}, {"rule", "priority=0 iif=veth0 ether=arp action=pass"}});
    EXPECT_TRUE(has(r.value("warning", ""), "drops ARP on eth1:")) << r.dump();
    // A view whose interface list fails still answers (without names).
    view.broken = true;
    r = ok({{"cmd", "rule.add"}, {"rule", "priority=9 proto=tcp action=drop"}});
    EXPECT_TRUE(has(r.value("warning", ""), "drops ARP:")) << r.dump();
}

TEST_F(Commands, Status)
{
    ok({{"cmd", "set.create"}, {"name", "s"}});
    ok({{"cmd", "rule.add"}, {"rule", "proto=tcp action=drop"}});
    json r = ok({{"id", 2}, {"cmd", "status"}});
    EXPECT_EQ(
        r, (json{{"id", 2},
                 {"ok", true},
                 {"instance", "lab"},
                 {"version", 2},
                 {"rules", 1},
                 {"sets", 1},
                 {"inspect_rules", 0},
                 {"default", "pass"},
                 {"default_non_ip", "pass"},
                 {"malformed", "drop"},
                 {"interfaces",
                  {{{"name", "veth0"}, {"ifindex", 4}, {"mode", "native"}, {"multiprog", false}},
                   {{"name", "eth1"}, {"ifindex", 7}, {"mode", "generic"}, {"multiprog", true}}}},
                 {"adopted", true},
                 {"uptime_seconds", 12.5}}));
}

TEST_F(Commands, StatusCarriesMemoryWhenTheDaemonKnowsIt)
{
    EXPECT_FALSE(ok({{"cmd", "status"}}).contains("memory"));
    view.memory_known = true;
    EXPECT_EQ(ok({{"cmd", "status"}})["memory"],
              (json{{"kernel_map_bytes", 1u << 20}, {"daemon_rss_bytes", 2u << 20}}));
}

TEST_F(Commands, StatusCarriesFleetWhenTheDaemonFollowsEtcd)
{
    EXPECT_FALSE(ok({{"cmd", "status"}}).contains("fleet"));
    view.fleet_state = {{"node", "fw1"}, {"prefix", "/xdpfw/prod"}, {"revision", 42}};
    EXPECT_EQ(ok({{"cmd", "status"}})["fleet"], view.fleet_state);
}

TEST_F(Commands, Rules)
{
    EXPECT_EQ(ok({{"id", 1},
                  {"cmd", "rule.add"},
                  {"rule", "priority=10 proto=tcp dport=22 action=drop"}}),
              (json{{"id", 1}, {"ok", true}, {"rule_id", 1}, {"version", 1}}));
    EXPECT_EQ(ok({{"cmd", "rule.add"},
                  {"rule", "priority=5 proto=udp action=xsk fallback=drop"}})["rule_id"],
              2);
    EXPECT_EQ(ok({{"cmd", "rule.add"},
                  {"rule", "id=9 priority=5 dst=10.0.0.0/8 action=redirect:eth1"}})["rule_id"],
              9);
    json list = ok({{"cmd", "rule.list"}});
    EXPECT_EQ(list["version"], 3);
    EXPECT_EQ(list["rules"], (json{{{"id", 2},
                                    {"priority", 5},
                                    {"action", "xsk"},
                                    {"comment", ""},
                                    {"text", "priority=5 proto=udp action=xsk fallback=drop"}},
                                   {{"id", 9},
                                    {"priority", 5},
                                    {"action", "redirect:eth1"},
                                    {"comment", ""},
                                    {"text", "priority=5 dst=10.0.0.0/8 action=redirect:eth1"}},
                                   {{"id", 1},
                                    {"priority", 10},
                                    {"action", "drop"},
                                    {"comment", ""},
                                    {"text", "priority=10 proto=tcp dport=22 action=drop"}}}));
    EXPECT_EQ(ok({{"id", 4}, {"cmd", "rule.del"}, {"rule_id", 2}}),
              (json{{"id", 4}, {"ok", true}, {"version", 4}}));
    EXPECT_EQ(ok({{"cmd", "rule.add"}, {"rule", "action=count"}})["rule_id"], 2); // lowest free
    EXPECT_EQ(ok({{"cmd", "rule.list"}})["rules"].size(), 3u);
}

TEST_F(Commands, Sets)
{
    EXPECT_EQ(ok({{"id", 1}, {"cmd", "set.create"}, {"name", "block"}}),
              (json{{"id", 1}, {"ok", true}, {"version", 1}}));
    EXPECT_EQ(ok({{"id", 2},
                  {"cmd", "set.add"},
                  {"name", "block"},
                  {"prefixes", {"198.51.100.0/24", "10.0.0.0/8", "198.51.100.0/24"}}}),
              (json{{"id", 2}, {"ok", true}, {"version", 2}, {"added", 2}, {"size", 2}}));
    EXPECT_EQ(ok({{"id", 3},
                  {"cmd", "set.add"},
                  {"name", "block"},
                  {"prefixes", {"10.0.0.0/8", "2001:db8::/32"}}}),
              (json{{"id", 3}, {"ok", true}, {"version", 3}, {"added", 1}, {"size", 3}}));
    EXPECT_EQ(ok({{"id", 4},
                  {"cmd", "set.del"},
                  {"name", "block"},
                  {"prefixes", {"10.0.0.0/8", "192.0.2.0/24"}}}),
              (json{{"id", 4}, {"ok", true}, {"version", 4}, {"removed", 1}, {"size", 2}}));
    EXPECT_EQ(
        ok({{"id", 5}, {"cmd", "set.load"}, {"name", "allow"}, {"prefixes", {"203.0.113.0/24"}}}),
        (json{{"id", 5}, {"ok", true}, {"version", 5}, {"size", 1}}));
    EXPECT_EQ(
        ok({{"id", 6}, {"cmd", "set.list"}}),
        (json{{"id", 6},
              {"ok", true},
              {"sets", {{{"name", "allow"}, {"size", 1}}, {{"name", "block"}, {"size", 2}}}}}));
    EXPECT_EQ(ok({{"id", 7}, {"cmd", "set.list"}, {"name", "block"}}),
              (json{{"id", 7},
                    {"ok", true},
                    {"name", "block"},
                    {"size", 2},
                    {"prefixes", {"198.51.100.0/24", "2001:db8::/32"}}}));
    EXPECT_TRUE(has(fails({{"cmd", "set.list"}, {"name", "nosuch"}}, "unknown_set"), "nosuch"));
}

TEST_F(Commands, ErrorCodesFromTheStore)
{
    ok({{"cmd", "set.create"}, {"name", "block"}});
    ok({{"cmd", "rule.add"}, {"rule", "id=5 action=drop"}});
    const uint64_t version = store.version();
    EXPECT_TRUE(has(fails({{"cmd", "rule.del"}, {"rule_id", 6}}, "unknown_rule"), "6"));
    EXPECT_TRUE(
        has(fails({{"cmd", "rule.add"}, {"rule", "id=5 action=pass"}}, "rule_exists"), "5"));
    EXPECT_TRUE(has(
        fails({{"cmd", "rule.add"}, {"rule", "proto=tcp dport=99999 action=pass"}}, "invalid_rule"),
        "dport"));
    EXPECT_TRUE(has(fails({{"cmd", "rule.add"}, {"rule", "src=@nope action=pass"}}, "unknown_set"),
                    "nope"));
    EXPECT_TRUE(has(fails({{"cmd", "set.create"}, {"name", "block"}}, "set_exists"), "block"));
    EXPECT_TRUE(has(
        fails({{"cmd", "set.add"}, {"name", "nope"}, {"prefixes", {"10.0.0.0/8"}}}, "unknown_set"),
        "nope"));
    EXPECT_TRUE(has(
        fails({{"cmd", "set.del"}, {"name", "nope"}, {"prefixes", json::array()}}, "unknown_set"),
        "nope"));
    EXPECT_TRUE(has(fails({{"cmd", "set.add"}, {"name", "block"}, {"prefixes", {"10.0.0.0/33"}}},
                          "invalid_prefix"),
                    "10.0.0.0/33"));
    EXPECT_TRUE(has(fails({{"cmd", "set.load"}, {"name", "block"}, {"prefixes", {"fe80::1/10"}}},
                          "invalid_prefix"),
                    "fe80::1/10"));
    EXPECT_TRUE(has(fails({{"cmd", "set.create"}, {"name", "no spaces"}}, "bad_request"),
                    "not a valid set name"));

    sink.fail = FakeSink::Fail::capacity;
    EXPECT_TRUE(
        has(fails({{"cmd", "set.add"}, {"name", "block"}, {"prefixes", {"192.0.2.1"}}}, "capacity"),
            "max_v4_hosts=4"));
    sink.fail = FakeSink::Fail::kernel;
    std::string m = fails({{"cmd", "rule.add"}, {"rule", "action=pass"}}, "kernel_error");
    EXPECT_TRUE(has(m, "bpf_map_update_elem") && has(m, "Operation not permitted")) << m;
    EXPECT_EQ(store.version(), version);

    view.broken = true;
    EXPECT_TRUE(has(fails({{"cmd", "status"}}, "internal"), "interface list is broken"));
}

TEST_F(Commands, Load)
{
    ok({{"cmd", "rule.add"}, {"rule", "action=drop"}});
    json policy = {
        {"default", "drop"},
        {"malformed", "pass"},
        {"rules",
         {"priority=1 src=@allow action=pass", "id=20 proto=tcp dport=22 action=drop",
          "proto=udp action=count"}},
        {"sets", {{"allow", {"192.0.2.0/24", "2001:db8::/32"}}, {"empty", json::array()}}}};
    json loaded = ok({{"id", 8}, {"cmd", "load"}, {"policy", policy}});
    // default: drop and no rule for neighbour discovery: committed, with the
    // lockout warning (WarnsWhenTheDefaultsDropNeighbours).
    EXPECT_TRUE(has(loaded.value("warning", ""), "neighbour discovery")) << loaded.dump();
    loaded.erase("warning");
    EXPECT_EQ(loaded, (json{{"id", 8},
                            {"ok", true},
                            {"version", 2},
                            {"rules", 3},
                            {"sets", 2},
                            {"inspect_rules", 0}}));
    const Policy& p = store.policy();
    EXPECT_EQ(p.default_action, ActionType::drop);
    EXPECT_EQ(p.malformed_action, ActionType::pass);
    std::vector<uint32_t> ids;
    for (const Rule& r : p.rules)
        ids.push_back(r.id);
    EXPECT_EQ(ids, (std::vector<uint32_t>{1, 20, 3})); // position unless id= is given
    EXPECT_EQ(p.sets.at("allow").prefixes().size(), 2u);
    EXPECT_EQ(store.history().back().summary, "load: 3 rules, 2 sets");

    // Defaults when keys are missing: an empty policy.
    EXPECT_EQ(ok({{"cmd", "load"}, {"policy", json::object()}})["rules"], 0);
    EXPECT_EQ(store.policy(), Policy{});
}

TEST_F(Commands, LoadIsAllOrNothing)
{
    ok({{"cmd", "rule.add"}, {"rule", "action=drop"}});
    const Policy before = store.policy();
    const size_t commits = sink.commits.size();

    json rules = json::array();
    for (int i = 1; i <= 10; ++i)
        rules.push_back("proto=tcp dport=" + std::to_string(1000 + i) + " action=drop");
    rules[6] = "proto=tcp dport=80 action=dance";
    std::string m = fails({{"cmd", "load"}, {"policy", {{"rules", rules}}}}, "invalid_rule");
    EXPECT_TRUE(has(m, "rule 7") && has(m, "action") && has(m, "dance")) << m;

    struct Case {
        json policy;
        std::string code, part;
    };
    const Case cases[] = {
        {{{"default", "maybe"}}, "invalid_policy", "default: 'maybe' is not drop or pass"},
        {{{"malformed", "count"}}, "invalid_policy", "malformed"},
        {{{"rules", {"id=4 action=drop", "id=4 action=pass"}}},
         "invalid_policy",
         "rule 2: id: 4 is already used by rule 1"},
        {{{"rules", {"action=drop", "id=1 action=pass"}}}, "invalid_policy", "already used"},
        {{{"rules", {"id=5000 action=drop"}}}, "invalid_rule", "5000 is out of range"},
        {{{"rules", {"src=@gone action=drop"}}}, "unknown_set", "gone"},
        {{{"sets", {{"s", {"10.0.0.0/8", "10.1.2.3/16"}}}}}, "invalid_prefix", "10.1.2.3/16"},
        {{{"sets", {{"1bad", json::array()}}}}, "invalid_policy", "1bad"},
        {{{"rulez", json::array()}}, "invalid_policy", "unknown key 'rulez'"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.policy.dump());
        std::string msg = fails({{"cmd", "load"}, {"policy", c.policy}}, c.code);
        EXPECT_TRUE(has(msg, c.part)) << msg;
    }
    sink.fail = FakeSink::Fail::capacity;
    fails({{"cmd", "load"}, {"policy", {{"rules", {rules[0]}}}}}, "capacity");

    EXPECT_EQ(store.policy(), before);
    EXPECT_EQ(store.version(), 1u);
    EXPECT_EQ(sink.commits.size(), commits);
}

TEST_F(Commands, History)
{
    for (int i = 0; i < 60; ++i)
        ok({{"cmd", "set.load"},
            {"name", "s"},
            {"prefixes", {"10." + std::to_string(i) + ".0.0/16"}}});
    json h = ok({{"id", 1}, {"cmd", "history"}})["history"];
    ASSERT_EQ(h.size(), 50u); // default limit
    EXPECT_EQ(h[0]["version"], 60);
    EXPECT_EQ(h[49]["version"], 11);
    EXPECT_EQ(h[0]["summary"], "set.load s: 1 prefixes");
    const std::string t = h[0]["time"];
    // RFC 3339 UTC: 2024-05-01T12:00:00.123Z
    ASSERT_EQ(t.size(), 24u) << t;
    EXPECT_EQ(t[10], 'T');
    EXPECT_EQ(t.back(), 'Z');
    EXPECT_EQ(ok({{"cmd", "history"}, {"limit", 3}})["history"].size(), 3u);
    EXPECT_EQ(ok({{"cmd", "history"}, {"limit", 1000}})["history"].size(), 60u);
    EXPECT_EQ(ok({{"cmd", "history"}, {"limit", 0}})["history"], json::array());
}

TEST_F(Commands, Stats)
{
    ok({{"cmd", "rule.add"}, {"rule", "priority=10 proto=tcp action=drop"}});
    ok({{"cmd", "rule.add"}, {"rule", "priority=1 proto=udp action=pass"}});
    json r = ok({{"id", 5}, {"cmd", "stats"}});
    EXPECT_EQ(r["id"], 5);
    EXPECT_EQ(r["version"], 2);
    EXPECT_TRUE(r["time"].is_string());
    EXPECT_EQ(r["rules"], (json{{{"id", 2},
                                 {"priority", 1},
                                 {"action", "pass"},
                                 {"rule", "priority=1 proto=udp action=pass"},
                                 {"comment", ""},
                                 {"packets", 20},
                                 {"bytes", 2000},
                                 {"pps", 3.0},
                                 {"bps", 24.0}},
                                {{"id", 1},
                                 {"priority", 10},
                                 {"action", "drop"},
                                 {"rule", "priority=10 proto=tcp action=drop"},
                                 {"comment", ""},
                                 {"packets", 10},
                                 {"bytes", 1000},
                                 {"pps", 1.5},
                                 {"bps", 12.0}}}));
    EXPECT_EQ(
        r["reasons"],
        (json{{"rule_drop", {{"packets", 3}, {"bytes", 300}, {"pps", 1.0}, {"bps", 8.0}}},
              {"default_pass", {{"packets", 5}, {"bytes", 500}, {"pps", 0.0}, {"bps", 0.0}}}}));
}

TEST_F(Commands, Detach)
{
    bool exit_after = false;
    EXPECT_EQ(run({{"id", 1}, {"cmd", "status"}}, &exit_after)["ok"], true);
    EXPECT_FALSE(exit_after);

    view.detach_fails = true;
    json r = run({{"id", 2}, {"cmd", "detach"}}, &exit_after);
    EXPECT_EQ(r["error"]["code"], "kernel_error");
    EXPECT_FALSE(exit_after);

    view.detach_fails = false;
    r = run({{"id", 3}, {"cmd", "detach"}}, &exit_after);
    EXPECT_EQ(r, (json{{"id", 3}, {"ok", true}, {"detached", {"veth0", "eth1"}}}));
    EXPECT_TRUE(exit_after);
    EXPECT_TRUE(view.detached);
}

TEST_F(Commands, NeverThrows)
{
    const std::string lines[] = {
        "{\"cmd\":null}",
        "{\"cmd\":\"rule.add\",\"rule\":\"\\u0000 action=drop\"}",
        "{\"cmd\":\"rule.add\",\"rule\":\"action=redirect:\\u00ff\\u00fe\"}",
        "{\"cmd\":\"set.add\",\"name\":\"\",\"prefixes\":[]}",
        "{\"cmd\":\"load\",\"policy\":{\"sets\":{\"\":[]}}}",
        "{\"cmd\":\"rule.del\",\"rule_id\":1e400}",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]",
        "{\"cmd\":\"history\",\"limit\":18446744073709551615}",
    };
    for (const std::string& line : lines) {
        SCOPED_TRACE(line);
        json r;
        EXPECT_NO_THROW(r = execute_line(line, store, view, nullptr));
        EXPECT_TRUE(r.contains("ok"));
        EXPECT_NO_THROW(r.dump());
    }
    EXPECT_EQ(protocol::error_response(4, ErrorCode::internal, "bad byte \xff here"),
              (json{{"id", 4},
                    {"ok", false},
                    {"error", {{"code", "internal"}, {"message", "bad byte \xef\xbf\xbd here"}}}}));
}
