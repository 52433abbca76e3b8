// SPDX-License-Identifier: GPL-2.0-only
// Events end to end: sample= rules in a running xdpfwd, monitors on the
// control socket (filters, several at once, a stalled one losing events
// without holding up the others), `xdpfwctl monitor`, and `xdpfwctl
// capture` read back by tshark.
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <sstream>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr uint16_t kDropPort = 7401, kPassPort = 7402;

class Events : public DaemonLabTest {
protected:
    // Rule 1 drops kDropPort, rule 2 passes kPassPort; both sample every packet.
    void add_rules()
    {
        for (const auto& words :
             {fmt::format("id=1 proto=udp dport={} action=drop sample=1", kDropPort),
              fmt::format("id=2 proto=udp dport={} action=pass sample=1", kPassPort)}) {
            std::vector<std::string> args = {"rule", "add"};
            std::istringstream in(words);
            for (std::string w; in >> w;)
                args.push_back(w);
            const CtlResult r = lab->daemon.ctl(args);
            ASSERT_EQ(r.code, 0) << r.err;
        }
    }

    // A monitor on a raw connection: the request, then its ok response.
    std::unique_ptr<ControlConnection> monitor(const json& filter)
    {
        auto c = std::make_unique<ControlConnection>(lab->daemon.socket_path());
        json req = filter;
        req["cmd"] = "monitor";
        req["id"] = 5;
        EXPECT_TRUE(c->send(req.dump() + "\n"));
        const auto line = c->read_line(5s);
        EXPECT_TRUE(line) << "no response to monitor";
        if (line) {
            EXPECT_TRUE(json::parse(*line).value("ok", false)) << *line;
        }
        return c;
    }

    // Event objects until want arrived (counting those the stream says it
    // lost) or nothing came for `quiet`.
    static std::vector<json> events(ControlConnection& c, size_t want,
                                    std::chrono::milliseconds quiet = 2s, uint64_t* lost = nullptr)
    {
        std::vector<json> out;
        uint64_t gone = 0;
        while (out.size() + gone < want) {
            const auto line = c.read_line(quiet);
            if (!line)
                break;
            const json j = json::parse(*line);
            if (j.contains("event"))
                out.push_back(j["event"]);
            if (j.contains("lost"))
                gone = j["lost"].get<uint64_t>();
        }
        if (lost)
            *lost = gone;
        return out;
    }
};

// Labels are copied from the store when an event after a commit needs
// them: each event names the rule text of a version at least as new as the
// one that decided it, and `stats` (which reads the hub's counters under the
// store's lock) keeps answering while a monitor renders events and commits
// change the labels.
TEST_F(Events, LabelsFollowCommitsWhileStatsRun)
{
    ASSERT_NO_FATAL_FAILURE(add_rules());
    auto all = monitor({{"rule", 1}});
    std::atomic<bool> stop{false};
    std::thread sender([&] {
        while (!stop) // as fast as it goes: the monitor may lose some
            send_udp(lab->peer, DaemonLab::dut4, kDropPort, 50);
    });
    ControlConnection ctl(lab->daemon.socket_path());
    std::map<uint64_t, int> comment_of_version; // version -> i of comment=v<i>
    bool answered = true;
    for (int i = 0; i < 100 && answered; ++i) {
        const json replace = {{"id", 100 + i}, {"cmd", "rule.replace"}, {"rule_id", 1},
                              {"rule", fmt::format("proto=udp dport={} action=drop sample=1 "
                                                   "comment=v{}",
                                                   kDropPort, i)}};
        const json stats = {{"id", 200 + i}, {"cmd", "stats"}};
        // Sent together: `stats` takes the store's lock right after the
        // commit, while the event thread may wait for it to copy labels.
        ASSERT_TRUE(ctl.send(replace.dump() + "\n" + stats.dump() + "\n"));
        for (const json& req : {replace, stats}) {
            const auto line = ctl.read_line(10s);
            answered = answered && line.has_value();
            if (!line)
                break;
            const json r = json::parse(*line);
            EXPECT_TRUE(r.value("ok", false)) << *line;
            if (req["cmd"] == "rule.replace" && r.contains("version"))
                comment_of_version[r["version"].get<uint64_t>()] = i;
        }
        std::this_thread::sleep_for(5ms);
    }
    stop = true;
    sender.join();
    ASSERT_TRUE(answered) << "a command got no answer within 10 s while events were rendered";

    const auto got = events(*all, 100000, 1s);
    ASSERT_GE(got.size(), 10u);
    size_t checked = 0;
    for (const json& e : got) {
        // Decided by a replaced version: the label is that version's text
        // or a later one's, never an older one.
        const auto own = comment_of_version.find(e.value("version", uint64_t{0}));
        if (own == comment_of_version.end())
            continue;
        const std::string text = e.value("rule_text", "");
        const auto at = text.find("comment=\"v"); // the rule's text quotes the comment
        ASSERT_NE(at, std::string::npos) << e;
        EXPECT_GE(std::stoi(text.substr(at + 10)), own->second) << e;
        ++checked;
    }
    EXPECT_GT(checked, 0u) << "no event came from a replaced version";
    // Events after the last commit carry its text.
    ASSERT_EQ(send_udp(lab->peer, DaemonLab::dut4, kDropPort, 5), 5u);
    std::vector<json> after; // events only: the stream may first report what the flood lost
    while (after.size() < 5) {
        const auto line = all->read_line(5s);
        if (!line)
            break;
        if (const json j = json::parse(*line); j.contains("event"))
            after.push_back(j["event"]);
    }
    ASSERT_EQ(after.size(), 5u);
    for (const json& e : after)
        EXPECT_NE(e.value("rule_text", "").find("comment=\"v99\""), std::string::npos) << e;
}

TEST_F(Events, MonitorsFilterByRuleAndReasonSeveralAtOnce)
{
    ASSERT_NO_FATAL_FAILURE(add_rules());
    auto all = monitor({});
    auto rule1 = monitor({{"rule", 1}});
    auto passes = monitor({{"reason", "rule_pass"}});
    ASSERT_EQ(send_udp(lab->peer, DaemonLab::dut4, kDropPort, 20), 20u);
    ASSERT_EQ(send_udp(lab->peer, DaemonLab::dut4, kPassPort, 30), 30u);

    const auto got_all = events(*all, 50);
    const auto got1 = events(*rule1, 20);
    const auto got_pass = events(*passes, 30);
    EXPECT_EQ(got_all.size(), 50u);
    ASSERT_EQ(got1.size(), 20u);
    ASSERT_EQ(got_pass.size(), 30u);
    for (const json& e : got1) {
        EXPECT_EQ(e["rule"], 1);
        EXPECT_EQ(e["verdict"], "drop");
        EXPECT_EQ(e["reason"], "rule_drop");
        EXPECT_EQ(e["interface"], "dut0");
        EXPECT_EQ(e["src"], DaemonLab::peer4);
        EXPECT_EQ(e["dst"], DaemonLab::dut4);
        EXPECT_EQ(e["proto"], 17);
        EXPECT_EQ(e["dport"], kDropPort);
        EXPECT_NE(e.value("rule_text", "").find("sample=1"), std::string::npos) << e;
        EXPECT_FALSE(e.contains("data")); // frames only when asked ("packets")
    }
    for (const json& e : got_pass) {
        EXPECT_EQ(e["rule"], 2);
        EXPECT_EQ(e["reason"], "rule_pass");
    }
    // Filters that match nothing stay quiet; nothing was lost.
    EXPECT_TRUE(events(*rule1, 1, 300ms).empty());
    const json st = lab->daemon.checked({{"cmd", "stats"}})["events"];
    EXPECT_EQ(st["ring_lost"], 0) << st;
    EXPECT_EQ(st["monitor_lost"], 0) << st;
    EXPECT_EQ(st["monitors"], 3) << st;
    EXPECT_GE(st["sent"].get<uint64_t>(), 50u) << st;

    // A reason that does not exist is refused, not silently matched by nothing.
    const json bad = lab->daemon.request({{"cmd", "monitor"}, {"reason", "rule_dorp"}});
    EXPECT_FALSE(bad.value("ok", true)) << bad;
}

// A monitor that never reads loses events (counted, told when it reads
// again); the one that reads gets all of them, and commands still answer.
TEST_F(Events, StalledMonitorLosesEventsAndSlowsNobody)
{
    ASSERT_NO_FATAL_FAILURE(add_rules());
    auto stalled = monitor({});
    auto reader = monitor({{"rule", 1}});
    constexpr size_t kPackets = 6000; // ~2.4 MB of event lines: past the 1 MiB queue
    uint64_t reader_lost = 0; // were the reader itself too slow under load
    auto got = std::async(std::launch::async,
                          [&] { return events(*reader, kPackets, 3s, &reader_lost).size(); });
    EXPECT_EQ(send_udp(lab->peer, DaemonLab::dut4, kDropPort, kPackets), kPackets);
    const auto t0 = std::chrono::steady_clock::now();
    const json st = lab->daemon.checked({{"cmd", "stats"}})["events"];
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "stats waited on a monitor";
    const size_t read = got.get();
    const json after = lab->daemon.checked({{"cmd", "stats"}})["events"];
    EXPECT_GT(after["monitor_lost"].get<uint64_t>(), 0u) << after;
    // Every packet the rule saw (a veth may drop some of a burst before
    // XDP) is an event the reader got, or one the ring or its queue lost.
    const uint64_t seen = lab->daemon.rule_packets(1);
    EXPECT_GT(seen, kPackets / 2);
    // (LE: losses after the reader's last event are not reported to it.)
    EXPECT_LE(read + reader_lost + after["ring_lost"].get<uint64_t>(), seen) << after;
    (void)st;

    // The stalled monitor reads now: its backlog, then how many it lost.
    ASSERT_EQ(send_udp(lab->peer, DaemonLab::dut4, kDropPort, 1), 1u);
    uint64_t lost = 0;
    size_t backlog = 0;
    for (auto line = stalled->read_line(2s); line; line = stalled->read_line(1s)) {
        const json j = json::parse(*line);
        if (j.contains("lost"))
            lost = j["lost"].get<uint64_t>();
        backlog += j.contains("event");
    }
    EXPECT_GT(lost, 0u);
    // The reader was not held to the stalled monitor's pace (on a loaded
    // machine it may lose some too: it is a monitor like any other).
    EXPECT_GT(read, backlog);
    EXPECT_LE(lost, after["monitor_lost"].get<uint64_t>());
}

TEST_F(Events, XdpfwctlMonitorPrintsOneLinePerEvent)
{
    ASSERT_NO_FATAL_FAILURE(add_rules());
    auto run = std::async(std::launch::async, [&] {
        return lab->daemon.ctl({"monitor", "--rule", "2", "--count", "5"});
    });
    // The monitor connects at some point after the launch; send until it
    // has its five events.
    for (int i = 0; i < 50 && run.wait_for(100ms) != std::future_status::ready; i++)
        send_udp(lab->peer, DaemonLab::dut4, kPassPort, 2);
    ASSERT_EQ(run.wait_for(10s), std::future_status::ready);
    const CtlResult r = run.get();
    ASSERT_EQ(r.code, 0) << r.err;
    std::istringstream in(r.out);
    int lines = 0;
    for (std::string l; std::getline(in, l); lines++) {
        EXPECT_NE(l.find(" dut0 rule 2 [priority=0 proto=udp dport=7402 action=pass sample=1] "
                         "pass rule_pass udp 10.99.1.2:"),
                  std::string::npos)
            << l;
        EXPECT_NE(l.find(fmt::format("> {}:{}", DaemonLab::dut4, kPassPort)), std::string::npos) << l;
    }
    EXPECT_EQ(lines, 5);
}

TEST_F(Events, CaptureIsReadByTshark)
{
    ASSERT_NO_FATAL_FAILURE(add_rules());
    TempDir dir("xdpfw-cap");
    const std::string file = dir / "cap.pcapng";
    constexpr int kCount = 12;
    auto run = std::async(std::launch::async, [&] {
        return lab->daemon.ctl({"capture", "-w", file, "--rule", "1", "--count",
                                std::to_string(kCount), "--duration", "20"});
    });
    for (int i = 0; i < 50 && run.wait_for(100ms) != std::future_status::ready; i++) {
        send_udp(lab->peer, DaemonLab::dut4, kPassPort, 1); // rule 2: not captured
        send_udp(lab->peer, DaemonLab::dut4, kDropPort, 3);
    }
    ASSERT_EQ(run.wait_for(20s), std::future_status::ready);
    const CtlResult r = run.get();
    ASSERT_EQ(r.code, 0) << r.err;
    const CmdResult t = lab::run(
        "tshark -r " + file +
        " -T fields -E separator=, -e frame.comment -e ip.src -e ip.dst -e ip.proto"
        " -e udp.srcport -e udp.dstport 2>/dev/null");
    ASSERT_TRUE(t.ok()) << t.output;
    std::istringstream in(t.output);
    int packets = 0;
    for (std::string l; std::getline(in, l); packets++) {
        std::vector<std::string> f;
        std::istringstream fields(l);
        for (std::string x; std::getline(fields, x, ',');)
            f.push_back(x);
        ASSERT_EQ(f.size(), 6u) << l;
        EXPECT_EQ(f[0], "rule=1 verdict=drop reason=rule_drop");
        EXPECT_EQ(f[1], DaemonLab::peer4);
        EXPECT_EQ(f[2], DaemonLab::dut4);
        EXPECT_EQ(f[3], "17");
        EXPECT_FALSE(f[4].empty());
        EXPECT_EQ(f[5], std::to_string(kDropPort));
    }
    EXPECT_EQ(packets, kCount) << t.output;
}

} // namespace
} // namespace xdpfw::test
