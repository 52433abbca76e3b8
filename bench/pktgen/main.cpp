// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-pktgen: command line, flow set-up and the report (text or JSON).
#include "bench/pktgen/flow.hpp"
#include "bench/pktgen/live_sender.hpp"

#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

namespace {

using namespace xdpfw;
using namespace xdpfw::pktgen;

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int)
{
    g_stop = 1;
}

// No SA_RESTART: the signal must interrupt a running BPF_PROG_RUN (the
// kernel ends the run with EINTR and the frames sent so far are counted).
void install_stop_handlers()
{
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

struct Args {
    std::string dev;
    std::string src_mac, dst_mac;
    std::optional<int> family;
    std::string src, dst;
    std::optional<uint64_t> sources;
    std::string sport, dport;
    std::string proto = "udp";
    std::string tcp_flags;
    std::optional<int> vlan;
    size_t size = 0;
    uint64_t count = 0;
    double duration = 0;
    uint64_t rate = 0;
    int cpu = -1;
    uint32_t batch = 64;
    bool json = false;
};

Family family_of(const std::string& text)
{
    return text.find(':') != std::string::npos ? Family::ipv6 : Family::ipv4;
}

// Benchmarking addresses (RFC 2544 / RFC 5180) when none are given.
constexpr const char* default_src4 = "198.18.0.1";
constexpr const char* default_dst4 = "198.19.0.1";
constexpr const char* default_src6 = "2001:2::1";
constexpr const char* default_dst6 = "2001:2::2";

Flow make_flow(const Args& a, const InterfaceInfo& ifc)
{
    Flow f;
    f.proto = parse_l4(a.proto, "--proto");
    if (a.family) {
        if (*a.family != 4 && *a.family != 6)
            throw std::invalid_argument("--family " + std::to_string(*a.family) + ": must be 4 or 6");
        f.family = *a.family == 4 ? Family::ipv4 : Family::ipv6;
    } else if (!a.src.empty()) {
        f.family = family_of(a.src);
    } else if (!a.dst.empty()) {
        f.family = family_of(a.dst);
    }
    const bool v4 = f.family == Family::ipv4;
    f.src = parse_addr_range(a.src.empty() ? (v4 ? default_src4 : default_src6) : a.src, "--src");
    f.dst = parse_addr_range(a.dst.empty() ? (v4 ? default_dst4 : default_dst6) : a.dst, "--dst");
    if (a.sources)
        f.src = with_count(f.src, *a.sources, "--sources");

    if (f.proto == L4::icmp && (!a.sport.empty() || !a.dport.empty()))
        throw std::invalid_argument("--sport/--dport: ICMP has no ports");
    if (!a.sport.empty())
        f.sport = parse_port_range(a.sport, "--sport");
    if (!a.dport.empty())
        f.dport = parse_port_range(a.dport, "--dport");
    if (!a.tcp_flags.empty()) {
        if (f.proto != L4::tcp)
            throw std::invalid_argument(std::string("--tcp-flags: the protocol is ") +
                                        l4_name(f.proto) + ", not tcp");
        f.tcp_flags = parse_tcp_flags(a.tcp_flags, "--tcp-flags");
    }
    if (a.vlan) {
        if (*a.vlan < 0 || *a.vlan > 4095)
            throw std::invalid_argument("--vlan " + std::to_string(*a.vlan) + ": VLAN ids are 0..4095");
        f.vlan = static_cast<uint16_t>(*a.vlan);
    }
    f.src_mac = a.src_mac.empty() ? ifc.mac : parse_mac(a.src_mac, "--src-mac");
    if (!a.dst_mac.empty())
        f.dst_mac = parse_mac(a.dst_mac, "--dst-mac");
    f.frame_size = a.size;
    // The receiving end drops frames longer than its MTU plus the Ethernet
    // header (veth also allows one VLAN tag; a NIC counts the tag against
    // the MTU unless told otherwise).
    validate(f, ifc.mtu + 14 + (f.vlan ? 4 : 0));
    return f;
}

std::string describe_range(const pktgen::AddrRange& r)
{
    std::string s = format_addr(r.family, r.first);
    if (r.count > 1)
        s += fmt::format(" (+{} more)", r.count - 1);
    return s;
}

std::string describe_ports(const pktgen::PortRange& p)
{
    return p.count > 1 ? fmt::format("{}-{}", p.first, p.first + p.count - 1)
                       : std::to_string(p.first);
}

std::string describe(const Flow& f, const InterfaceInfo& ifc)
{
    std::string s = fmt::format("{} {}/{}", ifc.name, l4_name(f.proto),
                                f.family == Family::ipv4 ? "ipv4" : "ipv6");
    if (f.vlan)
        s += fmt::format(" vlan {}", *f.vlan);
    s += fmt::format(", {} -> {}", describe_range(f.src), describe_range(f.dst));
    if (f.proto != L4::icmp)
        s += fmt::format(", ports {} -> {}", describe_ports(f.sport), describe_ports(f.dport));
    s += fmt::format(", {}-byte frames, {} -> {}", frame_size(f), format_mac(f.src_mac),
                     format_mac(f.dst_mac));
    return s;
}

// The options into a; --count and --duration exclude each other.
void add_options(CLI::App& app, Args& a)
{
    app.add_option("--dev", a.dev, "sending interface (in this network namespace)")->required();
    app.add_option("--src-mac", a.src_mac, "source MAC (default: the interface's)");
    app.add_option("--dst-mac", a.dst_mac, "destination MAC (default: broadcast)");
    app.add_option("--family", a.family, "4 or 6 (default: from --src/--dst, else 4)");
    app.add_option("--src", a.src, "source addresses: A, A-B or A/LEN (default 198.18.0.1, 2001:2::1)");
    app.add_option("--sources", a.sources,
                   "rotate through this many source addresses from --src's first (default: "
                   "--src's size)");
    app.add_option("--dst", a.dst, "destination addresses: A, A-B or A/LEN (default 198.19.0.1, 2001:2::2)");
    app.add_option("--sport", a.sport, "source ports P or P-Q (default 1024)");
    app.add_option("--dport", a.dport, "destination ports P or P-Q (default 9)");
    app.add_option("--proto", a.proto, "udp, tcp or icmp (default udp)");
    app.add_option("--tcp-flags", a.tcp_flags, "TCP flags: SYN,ACK,... or none or 0x12 (default SYN)");
    app.add_option("--vlan", a.vlan, "add an 802.1Q tag with this VLAN id");
    app.add_option("--size", a.size, "frame size in bytes without FCS (default max(60, headers))");
    auto* count = app.add_option("--count", a.count, "frames to send");
    auto* duration = app.add_option("--duration", a.duration, "seconds to send for");
    app.add_option("--rate", a.rate, "frames per second, 0 = full speed (default 0)");
    app.add_option("--cpu", a.cpu, "pin the sender to this CPU");
    app.add_option("--batch", a.batch, "frames per kernel batch, 1..256 (default 64)");
    app.add_flag("--json", a.json, "print the result as one JSON object");
    count->excludes(duration);
    duration->excludes(count);
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"xdpfw-pktgen: generates Ethernet/IPv4/IPv6 UDP, TCP or ICMP frames with rotating "
                 "address and port ranges through BPF_PROG_RUN live frames (XDP redirect out of "
                 "--dev). The receiving end of a veth needs an XDP program (or GRO) to accept "
                 "redirected frames. See docs/BENCHMARKS.md."};
    Args a;
    add_options(app, a);
    CLI11_PARSE(app, argc, argv);

    try {
        const bool count = app.count("--count") > 0, duration = app.count("--duration") > 0;
        if (!count && !duration)
            throw std::invalid_argument("give --count N or --duration SECONDS");
        if (count && a.count == 0)
            throw std::invalid_argument("--count 0: send at least one frame");
        if (duration && !(a.duration > 0))
            throw std::invalid_argument("--duration " + fmt::format("{}", a.duration) +
                                        ": must be more than 0 seconds");

        const InterfaceInfo ifc = query_interface(a.dev);
        if (!ifc.up)
            throw std::invalid_argument("--dev " + ifc.name + ": interface is down");
        const Flow flow = make_flow(a, ifc);

        init_logging(spdlog::level::warn); // libbpf messages to stderr, never into --json
        LiveSender sender(flow, ifc.ifindex);
        SendOptions so;
        so.count = a.count;
        so.duration = a.duration;
        so.rate = a.rate;
        so.batch = a.batch;
        so.cpu = a.cpu;
        prepare_sender(so);
        if (!a.json)
            std::cout << "sending: " << describe(flow, ifc) << std::endl;
        install_stop_handlers();
        const SendResult r = sender.run(so, &g_stop);

        const size_t size = frame_size(flow);
        if (a.json) {
            nlohmann::json j = {{"packets", r.packets},
                                {"seconds", r.seconds},
                                {"pps", r.pps()},
                                {"frame_size", size},
                                {"bits_per_second", r.pps() * static_cast<double>(size) * 8},
                                {"dev", ifc.name},
                                {"interrupted", r.interrupted}};
            std::cout << j.dump() << std::endl;
        } else {
            std::cout << fmt::format("sent {} packets in {:.3f} s: {:.0f} pps, {:.1f} Mbit/s{}",
                                     r.packets, r.seconds, r.pps(),
                                     r.pps() * static_cast<double>(size) * 8 / 1e6,
                                     r.interrupted ? " (interrupted)" : "")
                      << std::endl;
        }
        return 0;
    } catch (const std::invalid_argument& e) {
        // Bad usage: exit 2, as CLI11's own parse errors are non-zero too.
        std::cerr << "xdpfw-pktgen: " << e.what() << std::endl;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "xdpfw-pktgen: " << e.what() << std::endl;
        return 1;
    }
}
