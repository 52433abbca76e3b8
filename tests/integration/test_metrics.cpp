// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd's metrics endpoint seen by the real tools: Debian's Prometheus
// server scrapes it and gives a rule's counter back through its query API,
// and `promtool check metrics` accepts the page. All on the loopback of the
// daemon's namespace. Also: the counters carry on across a daemon restart.
#include "lib/base/unique_fd.hpp"
#include "testing/daemon_lab_test.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/http_get.hpp"
#include "testing/spawn.hpp"
#include "testing/temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Fresh namespaces: nothing else listens on their loopback.
constexpr uint16_t kMetricsPort = 9469, kPrometheusPort = 9090, kDropPort = 7301;
constexpr const char* kLoopback = "127.0.0.1";

// `prometheus` in ns, its own process group, a data directory of its own;
// the destructor kills the group (also when the test failed half way).
class PrometheusProcess {
public:
    PrometheusProcess(const NetNs& ns, const TempDir& dir, uint16_t target_port)
        : log_(dir / "prometheus.log")
    {
        const auto config = dir.write(
            "prometheus.yml",
            fmt::format("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: xdpfwd\n    static_configs:\n"
                        "      - targets: ['{}:{}']\n",
                        kLoopback, target_port));
        pid_ = spawn_logged({"nsenter", "--net=" + ns.path(), "prometheus",
                             "--config.file=" + config.string(),
                             "--storage.tsdb.path=" + (dir / "tsdb"),
                             fmt::format("--web.listen-address={}:{}", kLoopback, kPrometheusPort),
                             "--log.level=warn"},
                            log_, true, "prometheus");
    }

    ~PrometheusProcess()
    {
        if (reaped_)
            return;
        ::kill(-pid_, SIGTERM);
        const auto deadline = Clock::now() + 5s;
        while (Clock::now() < deadline && !reap(WNOHANG))
            std::this_thread::sleep_for(20ms);
        if (!reaped_) {
            ::kill(-pid_, SIGKILL);
            reap(0);
        }
    }

    PrometheusProcess(const PrometheusProcess&) = delete;
    PrometheusProcess& operator=(const PrometheusProcess&) = delete;

    bool running() { return !reaped_ && !reap(WNOHANG); }

    std::string log() const
    {
        std::ifstream in(log_);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    // True once the process is gone (and its pid no longer ours to signal).
    bool reap(int flags)
    {
        if (::waitpid(pid_, nullptr, flags) == pid_)
            reaped_ = true;
        return reaped_;
    }

    std::string log_;
    pid_t pid_ = -1;
    bool reaped_ = false;
};

// One instant query; the first result's value, or nullopt (no series yet,
// or Prometheus not up yet).
std::optional<std::string> query_value(const std::string& promql)
{
    const HttpReply r = http_get(kLoopback, kPrometheusPort, "/api/v1/query?query=" + url_encode(promql), 2s);
    if (r.status != 200)
        return std::nullopt;
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || j.value("status", "") != "success" || j["data"]["result"].empty())
        return std::nullopt;
    return j["data"]["result"][0]["value"][1].get<std::string>();
}

// The value of the first sample line of page starting with prefix.
std::optional<uint64_t> page_value(const std::string& page, const std::string& prefix)
{
    std::istringstream in(page);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(prefix, 0) == 0)
            return std::stoull(line.substr(line.rfind(' ') + 1));
    return std::nullopt;
}

class Metrics : public ::testing::Test {
protected:
    // The daemon with --metrics (and more), and a rule that drops kDropPort.
    void start(std::vector<std::string> more = {})
    {
        more.insert(more.begin(), {"--metrics", fmt::format("{}:{}", kLoopback, kMetricsPort)});
        lab = std::make_unique<DaemonLab>(kXdpfwd, more);
        CtlResult r = lab->daemon.ctl({"rule", "add", "proto=udp", fmt::format("dport={}", kDropPort),
                                       "action=drop", "--json"});
        ASSERT_EQ(r.code, 0) << r.err;
        rule_id = r.json().at("rule_id").get<uint32_t>();
    }
    void TearDown() override
    {
        if (HasFailure() && lab)
            std::cerr << "---- xdpfwd log\n" << lab->daemon.log() << "----\n";
        lab.reset();
    }

    // promtool's verdict on page (exit status 0: no problems).
    void expect_promtool_passes(const std::string& page)
    {
        TempDir dir("xdpfw-page");
        const CmdResult check =
            run(fmt::format("promtool check metrics < {}", dir.write("page.txt", page).string()));
        EXPECT_EQ(check.status, 0) << check.output << "\n" << page;
    }

    // GET /metrics from inside the daemon's namespace.
    HttpReply scrape()
    {
        EnterNetns in(lab->dut);
        return http_get(kLoopback, kMetricsPort, "/metrics");
    }

    // Sends n datagrams that the rule drops and waits for its counter.
    uint64_t send_dropped(size_t n)
    {
        const uint64_t before = lab->daemon.rule_packets(rule_id);
        send_udp(lab->peer, DaemonLab::dut4, kDropPort, n);
        const auto deadline = Clock::now() + 5s;
        uint64_t now = before;
        while ((now = lab->daemon.rule_packets(rule_id)) < before + n && Clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        return now;
    }

    std::unique_ptr<DaemonLab> lab;
    uint32_t rule_id = 0;
};

TEST_F(Metrics, PrometheusScrapesTheRuleCounter)
{
    ASSERT_NO_FATAL_FAILURE(start());
    const uint64_t packets = send_dropped(25);
    ASSERT_GE(packets, 25u);
    const HttpReply page = scrape();
    ASSERT_EQ(page.status, 200) << page.error;
    expect_promtool_passes(page.body);

    TempDir dir("xdpfw-prom");
    PrometheusProcess prom(lab->dut, dir, kMetricsPort);
    const std::string promql = fmt::format("xdpfw_rule_packets_total{{id=\"{}\"}}", rule_id);
    std::optional<std::string> value;
    const auto deadline = Clock::now() + 20s;
    {
        EnterNetns in(lab->dut);
        while (Clock::now() < deadline && prom.running()) {
            value = query_value(promql);
            if (value && *value == std::to_string(packets))
                break;
            std::this_thread::sleep_for(200ms);
        }
    }
    ASSERT_TRUE(value) << "Prometheus never returned " << promql << "; its log:\n" << prom.log();
    EXPECT_EQ(*value, std::to_string(packets)) << prom.log();
}

TEST_F(Metrics, CountersCarryOnAcrossARestart)
{
    ASSERT_NO_FATAL_FAILURE(start());
    send_dropped(10);
    const std::string series = fmt::format(
        "xdpfw_rule_packets_total{{id=\"{}\",priority=\"0\",action=\"drop\",comment=\"\"}} ", rule_id);
    HttpReply before = scrape();
    ASSERT_EQ(before.status, 200) << before.error;
    const auto packets = page_value(before.body, series);
    const auto default_pass = page_value(before.body, "xdpfw_reason_packets_total{reason=\"default_pass\"} ");
    ASSERT_TRUE(packets && default_pass) << before.body;
    EXPECT_GE(*packets, 10u);
    const auto version = page_value(before.body, "xdpfw_commit_version ");

    lab->daemon.kill(); // pins and attachment stay; the restart adopts them
    lab->daemon.start();
    HttpReply after = scrape();
    ASSERT_EQ(after.status, 200) << after.error;
    EXPECT_GE(page_value(after.body, series).value_or(0), *packets) << after.body;
    EXPECT_GE(page_value(after.body, "xdpfw_reason_packets_total{reason=\"default_pass\"} ").value_or(0),
              *default_pass);
    EXPECT_EQ(page_value(after.body, "xdpfw_commit_version "), version) << "adopted, not recommitted";
    EXPECT_EQ(page_value(after.body, "xdpfw_commit_duration_seconds_count "), 0u)
        << "nothing committed since this start";

    // A rule id used again starts from zero: Prometheus reads it as a reset.
    ASSERT_EQ(lab->daemon.ctl({"rule", "del", std::to_string(rule_id)}).code, 0);
    CtlResult r = lab->daemon.ctl({"rule", "add", fmt::format("id={}", rule_id), "proto=udp",
                                   fmt::format("dport={}", kDropPort), "action=drop", "--json"});
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    HttpReply reused = scrape();
    EXPECT_EQ(page_value(reused.body, series), 0u) << reused.body;
    EXPECT_EQ(page_value(reused.body, "xdpfw_commit_duration_seconds_count "), 2u);
}

// Scrapers that connect and stall (up to the connection cap) hold up
// neither the control socket nor another scrape once they time out.
TEST_F(Metrics, StalledScrapersBlockNothing)
{
    ASSERT_NO_FATAL_FAILURE(start());
    std::vector<UniqueFd> stalled;
    for (int i = 0; i < 10; ++i) { // more than the cap of 8
        UniqueFd fd(socket_in(lab->dut, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(kMetricsPort);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
        ASSERT_EQ(::send(fd.get(), "GET /metr", 9, MSG_NOSIGNAL), 9);
        stalled.push_back(std::move(fd));
    }
    const auto t0 = Clock::now();
    EXPECT_GE(lab->daemon.version(), 2u);
    EXPECT_LT(Clock::now() - t0, 1s) << "the control socket answered late";
    send_dropped(3);
    EXPECT_GE(lab->daemon.rule_packets(rule_id), 3u);
    EXPECT_EQ(scrape().status, 0) << "at the cap a scraper is closed at once";
    stalled.clear();
    // Room again once the server has seen them go.
    const auto deadline = Clock::now() + 3s;
    int status = 0;
    while ((status = scrape().status) != 200 && Clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    EXPECT_EQ(status, 200);
}

// With the AF_XDP engine: its worker and inspection families, lint-clean.
TEST_F(Metrics, EngineFamilies)
{
    ASSERT_NO_FATAL_FAILURE(start({"--xsk", "host"}));
    DaemonProcess& d = lab->daemon;
    ASSERT_EQ(d.ctl({"inspect", "add", "priority=1", "dns_suffix=evil.example", "action=drop"}).code, 0);
    ASSERT_EQ(d.ctl({"rule", "add", "priority=1", "proto=udp", "dport=53", "action=xsk"}).code, 0);
    const HttpReply page = scrape();
    ASSERT_EQ(page.status, 200) << page.error;
    for (const char* line :
         {"xdpfw_xsk_worker_running{iface=\"dut0\",queue=\"0\",bind=\"copy\"} 1\n",
          "xdpfw_xsk_rx_packets_total{iface=\"dut0\",queue=\"0\"} ",
          "xdpfw_xsk_drops_total{iface=\"dut0\",queue=\"0\",reason=\"rx_ring_full\"} 0\n",
          "xdpfw_inspect_rule_packets_total{id=\"1\",priority=\"1\",action=\"drop\"} 0\n",
          "xdpfw_rule_packets_total{id=\"2\",priority=\"1\",action=\"xsk\",comment=\"\"} 0\n",
          "xdpfw_inspect_packets_total 0\n"})
        EXPECT_NE(page.body.find(line), std::string::npos) << line << "\n" << page.body;
    expect_promtool_passes(page.body);
}

} // namespace
} // namespace xdpfw::test
