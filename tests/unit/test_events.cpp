// SPDX-License-Identifier: GPL-2.0-only
// The user-space side of events: sample= in the rule language, the monitor
// request, the monitors' fan-out (filters, losing instead of waiting), the
// five-tuple of a cut frame, monitor's line and capture's comment, and the
// pcapng writer (byte layout, and tshark reading it when it is installed).
#include "apps/xdpfwctl/monitor.hpp"
#include "apps/xdpfwctl/pcapng.hpp"
#include "lib/control/event_hub.hpp"
#include "lib/inspect/five_tuple.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/model/policy.hpp"
#include "lib/protocol/stream.hpp"
#include "testing/packet_builder.hpp"
#include "testing/policy_text.hpp"
#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace xdpfw::test {
namespace {

using json = nlohmann::json;

TEST(RuleSample, ParsesPrintsAndRefuses)
{
    Rule r = parse_rule("proto=udp action=drop sample=100", "rule 1");
    EXPECT_EQ(r.sample, 100u);
    EXPECT_EQ(r.text, "priority=0 proto=udp action=drop sample=100");
    EXPECT_EQ(parse_rule(r.text, "again"), r); // the canonical text keeps it
    EXPECT_EQ(parse_rule("action=pass", "r").sample, 0u);
    EXPECT_EQ(parse_rule("action=pass", "r").text.find("sample"), std::string::npos);
    EXPECT_EQ(parse_rule("action=pass sample=65535", "r").sample, 65535u);
    EXPECT_THROW(parse_rule("action=pass sample=0", "r"), PolicyError);
    EXPECT_THROW(parse_rule("action=pass sample=65536", "r"), PolicyError);
    EXPECT_THROW(parse_rule("action=pass sample=x", "r"), PolicyError);
    try {
        parse_rule("action=count sample=1", "rule 3");
        FAIL() << "a count rule decides no verdict";
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.key(), "sample");
    }
}

// Policy files, the state snapshot and the journal's rule entries keep it.
TEST(RuleSample, PolicyFilesAndStateKeepIt)
{
    const Policy p = make_policy({"proto=udp dport=53 action=drop sample=7", "action=pass"});
    ASSERT_EQ(p.rules[0].sample, 7u);
    EXPECT_EQ(policy_from_yaml(policy_to_yaml(p), ".", "policy.yaml"), p);
    EXPECT_EQ(policy_from_json(policy_to_json(p, PolicyForm::state), "state", PolicyForm::state,
                               4096),
              p);
    EXPECT_EQ(rule_from_json(rule_to_json(1, p.rules[0].text), "journal", 4096).sample, 7u);
}

TEST(MonitorRequest, RoundTripsAndRefusesBadArguments)
{
    protocol::MonitorRequest m{7, std::string("rule_drop"), true};
    const json req = protocol::monitor_request(m);
    EXPECT_TRUE(protocol::is_monitor_request(req));
    const auto back = protocol::parse_monitor_request(req);
    EXPECT_EQ(back.rule, 7u);
    EXPECT_EQ(back.reason, "rule_drop");
    EXPECT_TRUE(back.packets);
    EXPECT_FALSE(protocol::is_monitor_request(json{{"cmd", "status"}}));
    EXPECT_THROW(protocol::parse_monitor_request(json{{"cmd", "monitor"}, {"rule", "x"}}), Error);
    EXPECT_THROW(protocol::parse_monitor_request(json{{"cmd", "monitor"}, {"rule", -1}}), Error);
    EXPECT_THROW(protocol::parse_monitor_request(json{{"cmd", "monitor"}, {"packets", 1}}), Error);
}

// A monitor's connection with room for `room` lines.
class FakeOutput : public StreamOutput {
public:
    explicit FakeOutput(size_t room) : room_(room) {}
    void begin_stream() override { begun = true; }
    bool send_line(const std::string& line) override
    {
        if (gone || lines.size() >= room_)
            return false;
        lines.push_back(json::parse(line));
        return true;
    }
    bool closed() const override { return gone; }
    void read_all() { room_ += lines.size(), lines.clear(); }

    bool begun = false, gone = false;
    std::vector<json> lines;

private:
    size_t room_;
};

PublishedEvent event(uint32_t rule, const std::string& reason, int* renders = nullptr)
{
    return {rule, reason, [=](bool packets) {
                if (renders)
                    ++*renders;
                return json{{"event", {{"rule", rule}, {"data", packets}}}}.dump();
            }};
}

TEST(EventHub, FiltersByRuleAndReasonAndRendersOncePerKind)
{
    EventHub hub;
    auto all = std::make_shared<FakeOutput>(100), one = std::make_shared<FakeOutput>(100),
         drops = std::make_shared<FakeOutput>(100), pkts = std::make_shared<FakeOutput>(100);
    hub.subscribe(all, {});
    hub.subscribe(one, {1, std::nullopt, false});
    hub.subscribe(drops, {std::nullopt, std::string("rule_drop"), false});
    hub.subscribe(pkts, {std::nullopt, std::nullopt, true});
    int renders = 0;
    hub.publish(event(1, "rule_pass", &renders));
    EXPECT_EQ(renders, 2); // plain once, with data once
    hub.publish(event(2, "rule_drop"));
    EXPECT_EQ(all->lines.size(), 2u);
    ASSERT_EQ(one->lines.size(), 1u);
    EXPECT_EQ(one->lines[0]["event"]["rule"], 1);
    ASSERT_EQ(drops->lines.size(), 1u);
    EXPECT_EQ(drops->lines[0]["event"]["rule"], 2);
    EXPECT_EQ(pkts->lines[0]["event"]["data"], true);
    EXPECT_EQ(all->lines[0]["event"]["data"], false);
    EXPECT_EQ(hub.counters().monitors, 4u);
    all->gone = true;
    hub.publish(event(3, "rule_pass"));
    EXPECT_EQ(hub.counters().monitors, 3u); // the closed one is forgotten
}

TEST(EventHub, SlowMonitorLosesEventsAndHearsHowMany)
{
    EventHub hub;
    auto slow = std::make_shared<FakeOutput>(2), fast = std::make_shared<FakeOutput>(1000);
    hub.subscribe(slow, {});
    hub.subscribe(fast, {});
    for (uint32_t i = 0; i < 10; i++)
        hub.publish(event(i, "rule_pass"));
    EXPECT_EQ(fast->lines.size(), 10u); // the slow one held up nobody
    EXPECT_EQ(slow->lines.size(), 2u);
    EXPECT_EQ(hub.counters().lost, 8u);
    slow->read_all();
    hub.publish(event(99, "rule_pass"));
    ASSERT_EQ(slow->lines.size(), 2u);
    EXPECT_EQ(slow->lines[0], (json{{"lost", 8}}));
    EXPECT_EQ(slow->lines[1]["event"]["rule"], 99);
}

TEST(FiveTuple, DecodesWhatTheCutFrameHolds)
{
    auto f4 = build_frame(frame("198.51.100.7", "203.0.113.9", 17, 4242, 53));
    auto t = inspect::decode_five_tuple(f4);
    EXPECT_EQ(t.family, 4);
    EXPECT_EQ(inspect::address_text(t, true), "198.51.100.7");
    EXPECT_EQ(inspect::address_text(t, false), "203.0.113.9");
    EXPECT_EQ(t.proto, 17);
    EXPECT_TRUE(t.has_ports);
    EXPECT_EQ(t.sport, 4242);
    EXPECT_EQ(t.dport, 53);
    // Cut inside the UDP header: addresses yes, ports no.
    t = inspect::decode_five_tuple(std::span(f4).first(14 + 20 + 2));
    EXPECT_EQ(t.family, 4);
    EXPECT_FALSE(t.has_ports);
    FrameSpec s6 = frame("2001:db8::1", "2001:db8::2", 6, 1000, 443);
    s6.vlans = {VlanTag{0x8100, 5, 0}};
    t = inspect::decode_five_tuple(build_frame(s6));
    EXPECT_EQ(t.family, 6);
    EXPECT_EQ(inspect::address_text(t, false), "2001:db8::2");
    EXPECT_EQ(t.dport, 443);
    EXPECT_EQ(inspect::decode_five_tuple(std::span(f4).first(10)).family, 0);
}

TEST(MonitorOutput, LineAndComment)
{
    const json ev = {{"time", 0.5},          {"interface", "dut0"}, {"rule", 3},
                     {"rule_text", "priority=0 proto=udp action=drop sample=1"},
                     {"verdict", "drop"},    {"reason", "rule_drop"}, {"family", "ipv4"},
                     {"src", "10.0.0.1"},    {"dst", "10.0.0.2"},    {"proto", 17},
                     {"sport", 1000},        {"dport", 53},          {"len", 60}};
    const std::string line = ctl::format_event(ev);
    EXPECT_NE(line.find(" dut0 rule 3 [priority=0 proto=udp action=drop sample=1] drop rule_drop "
                        "udp 10.0.0.1:1000 > 10.0.0.2:53 len 60"),
              std::string::npos)
        << line;
    EXPECT_EQ(ctl::capture_comment(ev), "rule=3 verdict=drop reason=rule_drop");
    json def = ev;
    def.erase("rule");
    def.erase("rule_text");
    EXPECT_NE(ctl::format_event(def).find(" dut0 default drop "), std::string::npos);
    EXPECT_EQ(ctl::capture_comment(def), "rule=none verdict=drop reason=rule_drop");
}

uint32_t u32_at(const std::string& b, size_t at)
{
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
}

TEST(Pcapng, BlocksArePaddedAndCarryTheComment)
{
    std::ostringstream out;
    ctl::PcapngWriter w(out, 256, "test");
    const std::vector<uint8_t> pkt = {1, 2, 3, 4, 5};
    w.packet(1'700'000'000'123'456'789ull, pkt, 60, "rule=1");
    const std::string b = out.str();
    ASSERT_EQ(b.size() % 4, 0u);
    EXPECT_EQ(u32_at(b, 0), 0x0A0D0D0Au);
    EXPECT_EQ(u32_at(b, 8), 0x1A2B3C4Du);
    // Walk the blocks: each total length is at both ends.
    std::vector<uint32_t> types;
    size_t at = 0;
    while (at < b.size()) {
        const uint32_t len = u32_at(b, at + 4);
        ASSERT_EQ(len % 4, 0u);
        ASSERT_LE(at + len, b.size());
        EXPECT_EQ(u32_at(b, at + len - 4), len);
        types.push_back(u32_at(b, at));
        at += len;
    }
    EXPECT_EQ(types, (std::vector<uint32_t>{0x0A0D0D0A, 1, 6}));
    EXPECT_NE(b.find("rule=1"), std::string::npos);
    EXPECT_EQ(w.packets(), 1u);
}

TEST(Pcapng, TsharkReadsItWhenInstalled)
{
    if (std::system("command -v tshark >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "tshark is not installed (scripts/setup.sh installs it)";
    TempDir dir("xdpfw-pcapng");
    const std::string file = dir / "t.pcapng";
    {
        std::ofstream f(file, std::ios::binary);
        ctl::PcapngWriter w(f, 256, "test");
        const auto f4 = build_frame(frame("198.51.100.7", "203.0.113.9", 17, 4242, 53));
        for (int i = 0; i < 3; i++)
            w.packet(1'700'000'000'000'000'000ull + i, std::span(f4).first(30), uint32_t(f4.size()),
                     "rule=" + std::to_string(i));
        w.packet(1'700'000'000'000'000'009ull, f4, uint32_t(f4.size()), "rule=9 verdict=drop");
    }
    const std::string cmd = "tshark -r " + file +
                            " -T fields -e frame.comment -e frame.len -e udp.dstport 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string text;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p))
        text.append(buf, n);
    ASSERT_EQ(pclose(p), 0) << text;
    std::istringstream lines(text);
    std::vector<std::string> got;
    for (std::string l; std::getline(lines, l);)
        if (l.rfind("Running as", 0) != 0)
            got.push_back(l);
    ASSERT_EQ(got.size(), 4u) << text;
    EXPECT_EQ(got[0].substr(0, 7), "rule=0\t");
    EXPECT_EQ(got[3], "rule=9 verdict=drop\t" + std::to_string(build_frame(frame("198.51.100.7", "203.0.113.9", 17, 4242, 53)).size()) + "\t53");
}

} // namespace
} // namespace xdpfw::test
