// SPDX-License-Identifier: GPL-2.0-only
// Inspection rules as policy state: PolicyStore add/del with their own ids,
// error codes, the journal and snapshot round trip, the `inspect:` key of
// rule files, the inspect.* commands and the xsk section of xdpfwd's config.
#include "lib/control/commands.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/store/policy_store.hpp"
#include "apps/xdpfwctl/format.hpp"
#include "apps/xdpfwctl/requests.hpp"
#include "apps/xdpfwd/config.hpp"

#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace xdpfw;
using json = nlohmann::json;

namespace {

using xdpfw::test::TempDir;

class RecordingSink : public PolicySink {
public:
    void commit(const Policy& p, uint64_t) override { last = p; }
    Policy last;
};

std::string error_code(const std::function<void()>& f)
{
    try {
        f();
    } catch (const CommandError& e) {
        return std::string(error_name(e.code()));
    }
    return "(no error)";
}

TEST(InspectState, AddAndDeleteUseTheirOwnIds)
{
    RecordingSink sink;
    PolicyStore store(sink, 64, {});
    EXPECT_EQ(store.add_rule("priority=1 proto=udp action=xsk"), 1u);
    EXPECT_EQ(store.add_inspect_rule("priority=10 dns_suffix=evil.example action=drop"), 1u);
    EXPECT_EQ(store.add_inspect_rule("priority=20 pattern=hex:deadbeef action=drop"), 2u);
    EXPECT_EQ(store.add_inspect_rule("id=9 priority=5 pattern=text:\"GET /admin\" offset=0 "
                                     "action=drop"),
              9u);
    EXPECT_EQ(store.version(), 4u);
    ASSERT_EQ(sink.last.inspect.size(), 3u);
    EXPECT_EQ(sink.last.inspect[2].text, "priority=5 pattern=text:\"GET /admin\" offset=0 action=drop");
    store.delete_inspect_rule(2);
    EXPECT_EQ(sink.last.inspect.size(), 2u);
    EXPECT_EQ(store.history().back().summary,
              "inspect.del id=2: priority=20 pattern=hex:deadbeef action=drop");
    // The header rule is untouched by all of it.
    EXPECT_EQ(sink.last.rules.size(), 1u);
}

TEST(InspectState, BadRulesAndIdsGetErrorCodes)
{
    RecordingSink sink;
    PolicyStore store(sink, 64, {});
    EXPECT_EQ(error_code([&] { store.add_inspect_rule("priority=1 pattern=hex:zz action=drop"); }),
              "invalid_rule");
    EXPECT_EQ(error_code([&] { store.add_inspect_rule("priority=1 action=drop"); }), "invalid_rule");
    EXPECT_EQ(error_code([&] { store.delete_inspect_rule(7); }), "unknown_rule");
    store.add_inspect_rule("id=3 priority=1 pattern=hex:aa action=drop");
    EXPECT_EQ(error_code([&] { store.add_inspect_rule("id=3 priority=2 pattern=hex:bb action=drop"); }),
              "rule_exists");
    EXPECT_EQ(store.version(), 1u) << "failed commands must not commit";
}

TEST(InspectState, SurviveTheJournalAndTheSnapshot)
{
    TempDir dir;
    const auto file = dir.path() / "state.json";
    Policy expected;
    {
        RecordingSink sink;
        PolicyStore store(sink, 64, file);
        store.add_rule("priority=1 proto=udp dport=53 action=xsk fallback=drop");
        store.add_inspect_rule("priority=10 dns_suffix=evil.example action=drop");
        store.add_inspect_rule("priority=30 pattern=text:\"GET /admin\" offset=0 action=drop");
        store.delete_inspect_rule(1);
        store.add_inspect_rule("priority=40 pattern=hex:0102 action=forward");
        expected = store.policy();
    }
    {
        RecordingSink sink;
        PolicyStore store(sink, 64, file);
        ASSERT_TRUE(store.restore()); // snapshot + journal
        EXPECT_EQ(store.policy(), expected);
        EXPECT_EQ(store.version(), 5u);
        // A snapshot written from scratch holds them too.
        Policy p = store.policy();
        store.replace(p, "again");
    }
    RecordingSink sink;
    PolicyStore store(sink, 64, file);
    ASSERT_TRUE(store.restore());
    EXPECT_EQ(store.policy().inspect, expected.inspect);
}

TEST(InspectState, RuleFilesCarryAnInspectList)
{
    Policy p = parse_policy_yaml(R"(
default: pass
rules:
  - priority=1 proto=udp action=xsk
inspect:
  - priority=10 dns_suffix=evil.example action=drop
  - 'priority=30 pattern=text:"GET /admin" offset=0 action=drop'
  - id=7 priority=20 pattern=hex:deadbeef action=drop
)",
                                 ".", "rules.yaml");
    ASSERT_EQ(p.inspect.size(), 3u);
    EXPECT_EQ(p.inspect[0].id, 1u);
    EXPECT_EQ(p.inspect[1].id, 2u);
    EXPECT_EQ(p.inspect[2].id, 7u);
    // Written back and read again: the same policy.
    EXPECT_EQ(parse_policy_yaml(format_policy_yaml(p), ".", "again.yaml"), p);
    try {
        parse_policy_yaml("inspect:\n  - priority=1 pattern=hex:xyz action=drop\n", ".", "bad.yaml");
        ADD_FAILURE() << "bad pattern accepted";
    } catch (const PolicyError& e) {
        EXPECT_NE(std::string(e.what()).find("bad.yaml"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("pattern"), std::string::npos) << e.what();
    }
}

class NoDataplane : public DataplaneView {
public:
    std::string instance() const override { return "t"; }
    std::vector<InterfaceStatus> interfaces() const override { return {}; }
    bool adopted() const override { return false; }
    double uptime_seconds() const override { return 0; }
    CounterSample rule_counter(uint32_t) const override { return {}; }
    std::vector<std::pair<std::string, CounterSample>> reason_counters() const override { return {}; }
    std::vector<std::string> detach() override { return {}; }
    json xsk_stats() const override { return xsk; }
    json xsk = nullptr;
};

TEST(InspectState, CommandsAddListDeleteAndLoad)
{
    RecordingSink sink;
    PolicyStore store(sink, 64, {});
    NoDataplane view;
    auto run = [&](json req) { return execute_request(req, store, view, nullptr); };
    json r = run(ctl::inspect_add_request({"priority=30", "pattern=text:GET /admin", "offset=0",
                                            "action=drop"}));
    ASSERT_TRUE(r.at("ok").get<bool>()) << r.dump();
    EXPECT_EQ(r.at("rule_id"), 1);
    run(ctl::inspect_add_request({"priority=10 dns_suffix=evil.example action=drop"}));
    view.xsk = {{"mode", "host"},
                {"running", true},
                {"workers", json::array()},
                {"rules", {{{"id", 1}, {"packets", 4}, {"bytes", 400}, {"dropped", 4}, {"forwarded", 0}}}}};
    json list = run(ctl::inspect_list_request());
    ASSERT_EQ(list.at("rules").size(), 2u);
    EXPECT_EQ(list.at("rules")[0].at("priority"), 10); // by priority
    EXPECT_EQ(list.at("rules")[0].at("packets"), 0);
    EXPECT_EQ(list.at("rules")[1].at("dropped"), 4);
    EXPECT_EQ(list.at("rules")[1].at("text"), "priority=30 pattern=text:\"GET /admin\" offset=0 action=drop");
    const std::string table = ctl::format_inspect_rules(list);
    EXPECT_NE(table.find("dns_suffix=evil.example"), std::string::npos) << table;

    json stats = run({{"id", 5}, {"cmd", "stats"}});
    EXPECT_EQ(stats.at("xsk").at("rules").size(), 2u);
    EXPECT_NE(ctl::format_stats(stats).find("AF_XDP engine"), std::string::npos);

    json del = run(ctl::inspect_del_request(2));
    EXPECT_TRUE(del.at("ok").get<bool>()) << del.dump();
    json again = run(ctl::inspect_del_request(2));
    EXPECT_EQ(again.at("error").at("code"), "unknown_rule");

    const Policy p =
        parse_policy_yaml("inspect:\n  - priority=1 pattern=hex:aa action=drop\n", ".", "x");
    json lr = run({{"id", 6}, {"cmd", "load"}, {"policy", ctl::policy_to_json(p)}});
    ASSERT_TRUE(lr.at("ok").get<bool>()) << lr.dump();
    EXPECT_EQ(lr.at("inspect_rules"), 1);
    EXPECT_EQ(sink.last.inspect.size(), 1u);
}

TEST(InspectState, XskConfigSection)
{
    DaemonConfig c = parse_daemon_config(R"(
interfaces: [eth1, eth2]
xsk:
  mode: inline
  pairs: [[eth1, eth2]]
  zero_copy: off
  busy_poll: true
  cpus: [1]
  ring_size: 1024
  batch: 32
)",
                                         "x.yaml");
    EXPECT_TRUE(c.xsk_enabled);
    EXPECT_NO_THROW(validate_daemon_config(c));
    const xsk::EngineConfig e = xsk_engine_config(c);
    EXPECT_EQ(e.interfaces, (std::vector<std::string>{"eth1", "eth2"}));
    EXPECT_EQ(e.mode, xsk::ForwardMode::inline_);
    EXPECT_EQ(e.socket.zero_copy, xsk::ZeroCopy::off);
    EXPECT_TRUE(e.socket.busy_poll);
    EXPECT_EQ(e.socket.ring_size, 1024u);
    EXPECT_EQ(e.cpus, std::vector<int>{1});
    for (const auto& [yaml, word] : std::vector<std::pair<std::string, std::string>>{
             {"interfaces: [eth1]\nxsk: {mode: bridge}\n", "bridge"},
             {"interfaces: [eth1]\nxsk: {colour: blue}\n", "xsk.colour"},
             {"interfaces: [eth1]\nxsk: {mode: inline}\n", "pair"},
             {"interfaces: [eth1]\nxsk: {interfaces: [eth7]}\n", "eth7"},
             {"interfaces: [eth1]\nxsk: {ring_size: 1000}\n", "ring_size"},
         }) {
        try {
            validate_daemon_config(parse_daemon_config(yaml, "x.yaml"));
            ADD_FAILURE() << yaml << " accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
        }
    }
}

} // namespace
