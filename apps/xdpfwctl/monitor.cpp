// SPDX-License-Identifier: GPL-2.0-only
// monitor and capture: a Stream read until a limit or a signal.
#include "apps/xdpfwctl/monitor.hpp"

#include "apps/xdpfwctl/client.hpp"
#include "apps/xdpfwctl/pcapng.hpp"
#include "lib/protocol/stream.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <fstream>
#include <vector>

namespace xdpfw::ctl {
namespace {

using json = nlohmann::json;

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_stop_signal(int)
{
    stop_requested = 1;
}

// SIGINT and SIGTERM end the stream cleanly (capture's file complete);
// the previous dispositions come back afterwards.
class StopSignals {
public:
    StopSignals()
    {
        stop_requested = 0;
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~StopSignals()
    {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

private:
    struct sigaction old_int_ {}, old_term_ {};
};

std::string endpoint(const json& ev, const char* addr, const char* port)
{
    std::string a = ev.value(addr, "");
    if (a.find(':') != std::string::npos)
        a = "[" + a + "]";
    return ev.contains(port) ? a + ":" + std::to_string(ev[port].get<unsigned>()) : a;
}

std::string proto_text(const json& ev)
{
    const unsigned p = ev.value("proto", 0u);
    switch (p) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    default: return std::to_string(p);
    }
}

std::string clock_text(double unix_seconds)
{
    const auto whole = time_t(std::floor(unix_seconds));
    tm t{};
    localtime_r(&whole, &t);
    return fmt::format("{:02}:{:02}:{:02}.{:06}", t.tm_hour, t.tm_min, t.tm_sec,
                       int((unix_seconds - double(whole)) * 1e6));
}

std::vector<uint8_t> unhex(const std::string& s)
{
    std::vector<uint8_t> out(s.size() / 2);
    for (size_t i = 0; i < out.size(); i++)
        out[i] = uint8_t(std::stoul(s.substr(2 * i, 2), nullptr, 16));
    return out;
}

// Events until a limit; each goes to on_event. Returns the events lost.
template <typename F>
uint64_t read_stream(const StreamArgs& a, const std::string& socket, double timeout,
                     std::ostream& err, F&& on_event)
{
    protocol::MonitorRequest m{a.rule, a.reason, a.kind == StreamArgs::Kind::capture};
    StopSignals signals;
    Stream stream(socket, protocol::monitor_request(m), timeout);
    const auto start = std::chrono::steady_clock::now();
    uint64_t seen = 0, lost = 0;
    while (!stop_requested && (!a.count || seen < *a.count)) {
        double wait = 0.5;
        if (a.duration) {
            const double left =
                *a.duration -
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (left <= 0)
                break;
            wait = std::min(wait, left);
        }
        const std::optional<json> line = stream.next(wait);
        if (!line)
            continue;
        if (line->contains("lost")) {
            lost = (*line)["lost"].get<uint64_t>();
            err << "xdpfwctl: " << lost << " events lost so far (the stream was read too slowly)\n";
        }
        if (line->contains("event")) {
            on_event(*line);
            ++seen;
        }
    }
    return lost;
}

} // namespace

std::string format_event(const json& ev)
{
    std::string who = "default";
    if (ev.contains("rule")) {
        who = "rule " + std::to_string(ev["rule"].get<uint32_t>());
        if (ev.contains("rule_text"))
            who += " [" + ev["rule_text"].get<std::string>() + "]";
    }
    std::string flow;
    if (ev.contains("src"))
        flow = fmt::format("{} {} > {}", proto_text(ev), endpoint(ev, "src", "sport"),
                           endpoint(ev, "dst", "dport"));
    else
        flow = fmt::format("ethertype 0x{:04x}", ev.value("ethertype", 0u));
    return fmt::format("{} {} {} {} {} {} len {}", clock_text(ev.value("time", 0.0)),
                       ev.value("interface", "?"), who, ev.value("verdict", "?"),
                       ev.value("reason", "?"), flow, ev.value("len", 0u));
}

std::string capture_comment(const json& ev)
{
    const std::string rule =
        ev.contains("rule") ? std::to_string(ev["rule"].get<uint32_t>()) : std::string("none");
    return fmt::format("rule={} verdict={} reason={}", rule, ev.value("verdict", "?"),
                       ev.value("reason", "?"));
}

void add_stream_commands(CLI::App& app, StreamArgs& a, bool& json_out)
{
    auto* mon = app.add_subcommand(
        "monitor", "print sampled packets as they happen (rules with sample=N; docs/RULES.md)");
    mon->add_flag("--json", json_out, "one JSON object per line, as the daemon sends them");
    mon->add_option("--rule", a.rule, "only events of this rule id");
    mon->add_option("--reason", a.reason, "only events of this reason (rule_drop, default_pass, ...)");
    mon->add_option("--count", a.count, "stop after this many events")->check(CLI::PositiveNumber);
    mon->callback([&a] { a.kind = StreamArgs::Kind::monitor; });

    auto* cap = app.add_subcommand("capture", "write sampled packets to a pcapng file");
    cap->add_option("-w", a.file, "the pcapng file to write")->required()->type_name("FILE");
    cap->add_option("--count", a.count, "stop after this many packets")->check(CLI::PositiveNumber);
    cap->add_option("--duration", a.duration, "stop after this many seconds")
        ->check(CLI::PositiveNumber);
    cap->add_option("--rule", a.rule, "only packets of this rule id");
    cap->callback([&a] { a.kind = StreamArgs::Kind::capture; });
}

int run_stream(const StreamArgs& a, const std::string& socket, double timeout, bool json_out,
               std::ostream& out, std::ostream& err)
{
    if (a.kind == StreamArgs::Kind::monitor) {
        read_stream(a, socket, timeout, err, [&](const json& line) {
            out << (json_out ? line["event"].dump() : format_event(line["event"])) << "\n";
            out.flush();
        });
        return 0;
    }
    std::ofstream file(a.file, std::ios::binary | std::ios::trunc);
    if (!file)
        throw ClientError(ClientError::Kind::local, "io_error", "cannot write " + a.file);
    PcapngWriter w(file, 256 /* XDPFW_EVENT_SNAP_MAX: events carry no more */, "xdpfwctl capture");
    const uint64_t lost = read_stream(a, socket, timeout, err, [&](const json& line) {
        const json& ev = line["event"];
        const std::vector<uint8_t> bytes = unhex(ev.value("data", ""));
        w.packet(uint64_t(ev.value("time", 0.0) * 1e9), bytes, ev.value("len", 0u),
                 capture_comment(ev));
        file.flush();
    });
    file.close();
    if (!file)
        throw ClientError(ClientError::Kind::local, "io_error", "writing " + a.file + " failed");
    err << "xdpfwctl: " << w.packets() << " packets written to " << a.file;
    if (lost)
        err << " (" << lost << " lost)";
    err << "\n";
    return 0;
}

} // namespace xdpfw::ctl
