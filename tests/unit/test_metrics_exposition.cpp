// SPDX-License-Identifier: GPL-2.0-only
// The Prometheus text writer (escaping, HELP/TYPE, histograms), the metrics
// address parser and its config key and flag, and the daemon's families
// rendered over a fake DataplaneView.
#include "apps/xdpfwd/config.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/metrics/daemon_metrics.hpp"
#include "lib/metrics/exposition.hpp"
#include "lib/metrics/histogram.hpp"
#include "lib/metrics/listen_address.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace xdpfw::metrics {
namespace {

bool contains(const std::string& text, const std::string& part)
{
    return text.find(part) != std::string::npos;
}

TEST(MetricsExposition, EscapesLabelValuesAndHelp)
{
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_help("back\\slash \"quoted\"\nnext"), "back\\\\slash \"quoted\"\\nnext");

    Exposition x;
    x.begin("xdpfw_test_total", MetricType::counter, "Help with a \\ and\na line feed");
    x.sample({{"comment", "say \"hi\"\\\n"}, {"id", "7"}}, uint64_t(42));
    EXPECT_EQ(x.text(), "# HELP xdpfw_test_total Help with a \\\\ and\\na line feed\n"
                        "# TYPE xdpfw_test_total counter\n"
                        "xdpfw_test_total{comment=\"say \\\"hi\\\"\\\\\\n\",id=\"7\"} 42\n");
}

TEST(MetricsExposition, FamiliesAndValues)
{
    Exposition x;
    x.begin("xdpfw_version", MetricType::gauge, "A gauge");
    x.sample({}, uint64_t(18446744073709551615ull)); // exact, not rounded through a double
    x.begin("xdpfw_ratio", MetricType::gauge, "");
    x.sample({{"k", "a"}}, 0.25);
    x.sample({{"k", "b"}}, std::numeric_limits<double>::infinity());
    x.sample({{"k", "c"}}, -std::numeric_limits<double>::infinity());
    x.sample({{"k", "d"}}, std::nan(""));
    EXPECT_EQ(x.text(), "# HELP xdpfw_version A gauge\n# TYPE xdpfw_version gauge\n"
                        "xdpfw_version 18446744073709551615\n"
                        "# HELP xdpfw_ratio \n# TYPE xdpfw_ratio gauge\n"
                        "xdpfw_ratio{k=\"a\"} 0.25\nxdpfw_ratio{k=\"b\"} +Inf\n"
                        "xdpfw_ratio{k=\"c\"} -Inf\nxdpfw_ratio{k=\"d\"} NaN\n");
}

TEST(MetricsExposition, Histogram)
{
    Histogram h({0.001, 0.01, 0.1});
    for (double v : {0.0005, 0.001, 0.002, 0.05, 3.0})
        h.observe(v);
    const HistogramSnapshot s = h.snapshot();
    EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4}));
    EXPECT_EQ(s.count, 5u);
    EXPECT_DOUBLE_EQ(s.sum, 3.0535);

    Exposition x;
    x.begin("xdpfw_commit_duration_seconds", MetricType::histogram, "Commits");
    x.histogram({{"kind", "x"}}, s);
    EXPECT_EQ(x.text(), "# HELP xdpfw_commit_duration_seconds Commits\n"
                        "# TYPE xdpfw_commit_duration_seconds histogram\n"
                        "xdpfw_commit_duration_seconds_bucket{kind=\"x\",le=\"0.001\"} 2\n"
                        "xdpfw_commit_duration_seconds_bucket{kind=\"x\",le=\"0.01\"} 3\n"
                        "xdpfw_commit_duration_seconds_bucket{kind=\"x\",le=\"0.1\"} 4\n"
                        "xdpfw_commit_duration_seconds_bucket{kind=\"x\",le=\"+Inf\"} 5\n"
                        "xdpfw_commit_duration_seconds_sum{kind=\"x\"} 3.0535\n"
                        "xdpfw_commit_duration_seconds_count{kind=\"x\"} 5\n");

    EXPECT_THROW(Histogram({0.1, 0.1}), std::invalid_argument);
    EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
}

TEST(MetricsExposition, RefusesMisuse)
{
    Exposition x;
    EXPECT_THROW(x.sample({}, uint64_t(1)), std::logic_error); // before any family
    EXPECT_THROW(x.begin("xdpfw_packets", MetricType::counter, ""), std::logic_error);
    EXPECT_THROW(x.begin("xdpfw_level_total", MetricType::gauge, ""), std::logic_error);
    EXPECT_THROW(x.begin("9lives", MetricType::gauge, ""), std::logic_error);
    EXPECT_THROW(x.begin("xdpfw-dash", MetricType::gauge, ""), std::logic_error);
    x.begin("xdpfw_a_total", MetricType::counter, "");
    EXPECT_THROW(x.sample({{"bad-label", "v"}}, uint64_t(1)), std::logic_error);
    EXPECT_THROW(x.sample({{"__reserved", "v"}}, uint64_t(1)), std::logic_error);
    EXPECT_THROW(x.histogram({}, HistogramSnapshot{}), std::logic_error);
    EXPECT_THROW(x.begin("xdpfw_a_total", MetricType::counter, ""), std::logic_error);
    x.begin("xdpfw_h_seconds", MetricType::histogram, "");
    EXPECT_THROW(x.sample({}, 1.0), std::logic_error);
    EXPECT_THROW(x.histogram({{"le", "1"}}, HistogramSnapshot{}), std::logic_error);
}

TEST(MetricsAddress, Parses)
{
    EXPECT_EQ(parse_listen_address("127.0.0.1:9469"), (ListenAddress{"127.0.0.1", 9469}));
    EXPECT_EQ(parse_listen_address("0.0.0.0:1"), (ListenAddress{"0.0.0.0", 1}));
    EXPECT_EQ(parse_listen_address("[::1]:65535"), (ListenAddress{"::1", 65535}));
    EXPECT_EQ(parse_listen_address("[::1]:9469").str(), "[::1]:9469");
    EXPECT_EQ(parse_listen_address("10.0.0.1:80").str(), "10.0.0.1:80");
}

TEST(MetricsAddress, ErrorsSayWhatIsWrong)
{
    for (const auto& [text, words] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"", {"empty address", "IPV4:PORT"}},
             {"127.0.0.1", {"'127.0.0.1' has no port", "127.0.0.1:9469"}},
             {"127.0.0.1:", {"has no port"}},
             {":9469", {"has no host"}},
             {"127.0.0.1:0", {"port '0'", "1..65535"}},
             {"127.0.0.1:65536", {"port '65536'", "1..65535"}},
             {"127.0.0.1:http", {"port 'http'"}},
             {"127.0.0.1:-1", {"port '-1'"}},
             {"localhost:9469", {"'localhost'", "numeric IPv4"}},
             {"300.1.1.1:9469", {"'300.1.1.1'", "numeric IPv4"}},
             {"::1:9469", {"IPv6 address goes in brackets"}},
             {"[::1:9469", {"no ']'"}},
             {"[::1]9469", {"has no port"}},
             {"[::1]:", {"has no port"}},
             {"[nope]:9469", {"'nope'", "not an IPv6 address"}},
         }) {
        try {
            parse_listen_address(text);
            ADD_FAILURE() << "'" << text << "' accepted";
        } catch (const std::invalid_argument& e) {
            for (const std::string& w : words)
                EXPECT_TRUE(contains(e.what(), w)) << text << ": " << e.what();
        }
    }
}

TEST(MetricsAddress, ConfigKeyAndFlag)
{
    EXPECT_FALSE(parse_daemon_config("instance: x\n", "x.yaml").metrics);
    EXPECT_EQ(parse_daemon_config("metrics: 127.0.0.1:9469\n", "x.yaml").metrics,
              (ListenAddress{"127.0.0.1", 9469}));
    try {
        parse_daemon_config("metrics: 127.0.0.1\n", "x.yaml");
        ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).rfind("x.yaml: metrics: '127.0.0.1' has no port", 0), 0u)
            << e.what();
    }

    int code = 0;
    const char* good[] = {"xdpfwd", "-i", "eth0", "--metrics", "[::1]:9469"};
    auto c = parse_daemon_args(5, good, &code);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->metrics, (ListenAddress{"::1", 9469}));

    const char* bad[] = {"xdpfwd", "-i", "eth0", "--metrics", "127.0.0.1:99999"};
    testing::internal::CaptureStderr();
    EXPECT_FALSE(parse_daemon_args(5, bad, &code));
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 64);
    EXPECT_TRUE(contains(err, "--metrics: metrics: port '99999' in '127.0.0.1:99999' is not a "
                              "number 1..65535"))
        << err;
}

// Counters from fixed numbers: rule id * 10 packets, reasons by index.
class FakeView : public DataplaneView {
public:
    std::string instance() const override { return "t"; }
    std::vector<InterfaceStatus> interfaces() const override { return {}; }
    bool adopted() const override { return false; }
    double uptime_seconds() const override { return 1; }
    CounterSample rule_counter(uint32_t id) const override { return {id * 10ull, id * 1000ull, 0, 0}; }
    std::vector<std::pair<std::string, CounterSample>> reason_counters() const override
    {
        return {{"rule_drop", {5, 500, 0, 0}}, {"default_pass", {6, 600, 0, 0}}};
    }
    std::vector<std::string> detach() override { return {}; }
    nlohmann::json memory() const override
    {
        return {{"kernel_map_bytes", 123456}, {"daemon_rss_bytes", 7890}};
    }
};

Policy sample_policy()
{
    Policy p;
    for (const auto& [id, text] : std::vector<std::pair<uint32_t, const char*>>{
             {3, "priority=5 src=10.0.0.0/8 action=drop"},
             {1, "priority=5 proto=udp dport=53 action=pass"},
             {2, "action=count"}}) {
        p.rules.push_back(parse_rule(text, "test"));
        p.rules.back().id = id;
    }
    p.sets["blocked"] = {Prefix::parse("192.0.2.0/24"), Prefix::parse("198.51.100.7/32")};
    p.sets["empty"];
    return p;
}

TEST(MetricsDaemon, RendersTheLivePolicyAndCounters)
{
    DaemonMetrics m;
    m.live(sample_policy(), 7, 0.002);
    m.live(sample_policy(), 8, 0.2);
    FakeView view;
    const std::string page = m.render(view, {{"eth0", 2, "native", false}}, nullptr);

    // Evaluation order (priority, id), with labels in a fixed order.
    const auto r2 = page.find("xdpfw_rule_packets_total{id=\"2\",priority=\"0\",action=\"count\",comment=\"\"} 20\n");
    const auto r1 = page.find("xdpfw_rule_packets_total{id=\"1\",priority=\"5\",action=\"pass\",comment=\"\"} 10\n");
    const auto r3 = page.find("xdpfw_rule_packets_total{id=\"3\",priority=\"5\",action=\"drop\",comment=\"\"} 30\n");
    ASSERT_NE(r2, std::string::npos) << page;
    ASSERT_NE(r1, std::string::npos) << page;
    ASSERT_NE(r3, std::string::npos) << page;
    EXPECT_LT(r2, r1);
    EXPECT_LT(r1, r3);
    for (const char* line :
         {"# TYPE xdpfw_rule_packets_total counter\n",
          "xdpfw_rule_bytes_total{id=\"3\",priority=\"5\",action=\"drop\",comment=\"\"} 3000\n",
          "xdpfw_reason_packets_total{reason=\"rule_drop\"} 5\n",
          "xdpfw_reason_bytes_total{reason=\"default_pass\"} 600\n",
          "# TYPE xdpfw_commit_version gauge\nxdpfw_commit_version 8\n",
          "xdpfw_commit_duration_seconds_bucket{le=\"0.0025\"} 1\n",
          "xdpfw_commit_duration_seconds_bucket{le=\"0.25\"} 2\n",
          "xdpfw_commit_duration_seconds_count 2\n",
          "xdpfw_set_prefixes{set=\"blocked\"} 2\n", "xdpfw_set_prefixes{set=\"empty\"} 0\n",
          "xdpfw_kernel_map_bytes 123456\n", "xdpfw_daemon_rss_bytes 7890\n",
          "xdpfw_interface_info{iface=\"eth0\",mode=\"native\"} 1\n"})
        EXPECT_TRUE(contains(page, line)) << line << "\n" << page;
    EXPECT_FALSE(contains(page, "xdpfw_xsk")) << "no engine, no engine families";
    EXPECT_FALSE(contains(page, "xdpfw_inspect")) << page;

    // Adopted at start: the version changes, no duration is observed.
    m.live(sample_policy(), 9);
    const std::string again = m.render(view, {}, nullptr);
    EXPECT_TRUE(contains(again, "xdpfw_commit_version 9\n"));
    EXPECT_TRUE(contains(again, "xdpfw_commit_duration_seconds_count 2\n"));
}

TEST(MetricsDaemon, CommitsCopyTheLabelsOnlyWhenAScrapeComes)
{
    DaemonMetrics m;
    Policy live = sample_policy();
    uint64_t live_version = 3;
    int reads = 0;
    m.live(live, live_version);
    m.set_reader([&](const auto& f) {
        ++reads;
        f(live, live_version);
    });
    FakeView view;
    EXPECT_TRUE(contains(m.render(view, {}, nullptr), "xdpfw_commit_version 3\n"));
    EXPECT_EQ(reads, 0) << "the labels of version 3 are current";

    // Two commits: neither reads the policy; the scrape after them reads
    // it once, and sees the second.
    live.rules[0].comment = "first";
    m.committed(++live_version, 0.001);
    live.rules[0].comment = "second";
    m.committed(++live_version, 0.001);
    EXPECT_EQ(reads, 0);
    const std::string page = m.render(view, {}, nullptr);
    EXPECT_EQ(reads, 1);
    EXPECT_TRUE(contains(page, "xdpfw_commit_version 5\n")) << page;
    EXPECT_TRUE(contains(page, "comment=\"second\"")) << page;
    EXPECT_TRUE(contains(page, "xdpfw_commit_duration_seconds_count 2\n")) << page;
    m.render(view, {}, nullptr);
    EXPECT_EQ(reads, 1) << "nothing committed since";
}

TEST(MetricsDaemon, RendersEngineCounters)
{
    Policy p = sample_policy();
    inspect::InspectRule ir;
    ir.id = 4;
    ir.priority = 1;
    ir.action = inspect::Verdict::forward;
    p.inspect.push_back(ir);
    DaemonMetrics m;
    m.live(p, 1);
    EngineSample e;
    xsk::WorkerStats w;
    w.ifname = "eth0";
    w.queue = 3;
    w.running = true;
    w.rx_packets = 11;
    w.kernel.rx_ring_full = 2;
    w.kernel.rx_dropped = 6;
    w.kernel.rx_fill_ring_empty = 6; // copy mode: the same 6 frames as rx_dropped
    w.fill_short = 3;
    w.tx_busy = 1;
    e.engine.workers.push_back(w);
    e.engine.rules.push_back({4, 9, 900, 0, 9});
    e.inspect.packets = 11;
    e.inspect.dns_malformed[1] = 5;
    FakeView view;
    const std::string page = m.render(view, {}, &e);
    for (const char* line :
         {"xdpfw_xsk_worker_running{iface=\"eth0\",queue=\"3\",bind=\"copy\"} 1\n",
          "xdpfw_xsk_rx_packets_total{iface=\"eth0\",queue=\"3\"} 11\n",
          "xdpfw_xsk_drops_total{iface=\"eth0\",queue=\"3\",reason=\"rx_ring_full\"} 2\n",
          "xdpfw_xsk_drops_total{iface=\"eth0\",queue=\"3\",reason=\"tx_busy\"} 1\n",
          "xdpfw_xsk_drops_total{iface=\"eth0\",queue=\"3\",reason=\"rx_dropped\"} 6\n",
          "xdpfw_xsk_ring_events_total{iface=\"eth0\",queue=\"3\",event=\"fill_ring_empty\"} 6\n",
          "xdpfw_xsk_ring_events_total{iface=\"eth0\",queue=\"3\",event=\"fill_short\"} 3\n",
          "xdpfw_inspect_rule_packets_total{id=\"4\",priority=\"1\",action=\"forward\"} 9\n",
          "xdpfw_inspect_rule_forwarded_packets_total{id=\"4\",priority=\"1\",action=\"forward\"} 9\n",
          "xdpfw_inspect_packets_total 11\n"})
        EXPECT_TRUE(contains(page, line)) << line << "\n" << page;
    // The drops add up to the frames lost (2 + 6 + 1): the fill ring's
    // empties and retries are ring events, not a second count of a frame.
    for (const char* event : {"fill_ring_empty", "fill_short", "rx_invalid_descs"})
        EXPECT_FALSE(contains(page, std::string("reason=\"") + event + "\"")) << event << "\n"
                                                                           << page;
    const std::string dns_reason =
        std::string("xdpfw_inspect_dns_malformed_total{reason=\"") +
        inspect::dns_status_name(inspect::DnsStatus(1)) + "\"} 5\n";
    EXPECT_TRUE(contains(page, dns_reason)) << page;
}

} // namespace
} // namespace xdpfw::metrics
