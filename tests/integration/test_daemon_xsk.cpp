// SPDX-License-Identifier: GPL-2.0-only
// The AF_XDP path through a real xdpfwd: an action=xsk rule sends traffic to
// the workers, inspection rules added with xdpfwctl (DNS suffix, hex and
// text patterns) keep blocked packets from the receiver while the others
// arrive byte-identical, in host mode (local sockets behind the TUN device)
// and inline mode (out of the paired veth); malformed DNS is counted; a
// stopped daemon leaves the queues to the rule's fallback; inspection rules
// survive a restart.
#include "testing/packet_builder.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/frame_io.hpp"
#include "testing/policy_text.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string kXdpfwd = std::string(XDPFW_BINARY_DIR) + "/bin/xdpfwd";
constexpr uint16_t kApp = 7100;   // inspected application port
constexpr uint16_t kPlain = 7200; // not matched by the xsk rule

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// A DNS query (one question, type A) for name.
std::vector<uint8_t> dns_query(const std::string& name, uint16_t id)
{
    std::vector<uint8_t> q = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos)
            dot = name.size();
        q.push_back(uint8_t(dot - start));
        q.insert(q.end(), name.begin() + long(start), name.begin() + long(dot));
        start = dot + 1;
    }
    for (uint8_t b : {0, 0, 1, 0, 1}) // end of name, type A, class IN
        q.push_back(b);
    return q;
}

std::vector<uint8_t> with_header(std::vector<uint8_t> body)
{
    std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    for (uint8_t b : body)
        q.push_back(b);
    return q;
}

// The rules the tests install through xdpfwctl.
const std::vector<std::vector<std::string>> kInspectRules = {
    {"priority=10", "dns_suffix=evil.example", "action=drop"},
    {"priority=20", "pattern=hex:deadbeef", "action=drop"},
    // As a shell would pass pattern=text:"GET /admin": quotes gone.
    {"priority=30", "pattern=text:GET /admin", "offset=0", "action=drop"},
};

void add_inspect_rules(DaemonProcess& d)
{
    for (const auto& words : kInspectRules) {
        std::vector<std::string> args = {"inspect", "add"};
        args.insert(args.end(), words.begin(), words.end());
        CtlResult r = d.ctl(args);
        ASSERT_EQ(r.code, 0) << r.err << r.out;
    }
}

json stats(DaemonProcess& d)
{
    CtlResult r = d.ctl({"stats", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.json();
}

// Waits until the engine has received want frames (all workers).
uint64_t wait_xsk_rx(DaemonProcess& d, uint64_t want)
{
    uint64_t rx = 0;
    for (int i = 0; i < 200; ++i) {
        rx = 0;
        const json st = stats(d);
        for (const json& w : st.at("xsk").at("workers"))
            rx += w.at("rx_packets").get<uint64_t>();
        if (rx >= want)
            break;
        std::this_thread::sleep_for(20ms);
    }
    if (rx != want)
        ADD_FAILURE() << "engine counters: " << stats(d).at("xsk").dump();
    return rx;
}

json inspect_rule(const json& list, uint32_t priority)
{
    for (const json& r : list.at("rules"))
        if (r.at("priority") == priority)
            return r;
    ADD_FAILURE() << "no inspection rule with priority " << priority << " in " << list.dump();
    return json::object();
}

// Datagram payloads on a UDP socket, until `want` arrived or a quiet 300 ms.
class PayloadReceiver {
public:
    PayloadReceiver(const NetNs& ns, const std::string& addr, uint16_t port)
    {
        fd_ = socket_in(ns, AF_INET, SOCK_DGRAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)))
            throw std::runtime_error("bind payload receiver");
        timeval tv{0, 300000};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~PayloadReceiver() { close(fd_); }
    std::vector<std::vector<uint8_t>> receive(size_t want)
    {
        std::vector<std::vector<uint8_t>> out;
        std::vector<uint8_t> buf(4096);
        for (int quiet = 0; quiet < 10;) {
            const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
            if (n < 0) {
                if (out.size() >= want)
                    break;
                ++quiet;
                continue;
            }
            out.emplace_back(buf.begin(), buf.begin() + n);
        }
        return out;
    }

private:
    int fd_ = -1;
};

class DaemonXskHost : public ::testing::Test {
protected:
    void SetUp() override
    {
        lab = std::make_unique<DaemonLab>(kXdpfwd, std::vector<std::string>{"--xsk", "host"});
    }
    void TearDown() override
    {
        if (HasFailure() && lab)
            std::cerr << "---- xdpfwd log\n" << lab->daemon.log() << "----\n";
        lab.reset();
    }
    std::vector<uint8_t> frame(uint16_t dport, std::vector<uint8_t> payload)
    {
        FrameSpec s = test::frame(DaemonLab::peer4, DaemonLab::dut4, 17, 4000, dport);
        s.src_mac = parse_mac(lab->link.mac_b());
        s.dst_mac = parse_mac(lab->link.mac_a());
        s.payload = std::move(payload);
        return build_frame(s);
    }
    std::unique_ptr<DaemonLab> lab;
};

TEST_F(DaemonXskHost, InspectionRulesDecideWhatReachesLocalSockets)
{
    DaemonProcess& d = lab->daemon;
    ASSERT_EQ(d.ctl({"rule", "add", "priority=1", "proto=udp", "dport=53", "action=xsk",
                     "fallback=drop"}).code, 0);
    ASSERT_EQ(d.ctl({"rule", "add", "priority=2", "proto=udp", "dport=7100", "action=xsk",
                     "fallback=drop"}).code, 0);
    add_inspect_rules(d);
    CtlResult listed = d.ctl({"inspect", "list"});
    ASSERT_EQ(listed.code, 0) << listed.err;
    EXPECT_NE(listed.out.find("pattern=text:\"GET /admin\" offset=0"), std::string::npos)
        << listed.out;

    PayloadReceiver dns(lab->dut, DaemonLab::dut4, 53), app(lab->dut, DaemonLab::dut4, kApp);
    UdpReceiver plain(lab->dut, DaemonLab::dut4, kPlain);
    FrameSender tx(lab->peer, "peer0");
    const std::vector<std::vector<uint8_t>> good_dns = {dns_query("good.example", 1),
                                                        dns_query("notevil.example", 2)};
    const auto blocked_app = bytes_of("xx\xde\xad\xbe\xef");
    const std::vector<std::vector<uint8_t>> good_app = {bytes_of("GET /index.html"),
                                                        bytes_of("POST GET /admin")};
    for (const auto& q : good_dns)
        tx.send(frame(53, q));
    tx.send(frame(53, dns_query("www.evil.example", 3)));
    tx.send(frame(53, dns_query("EVIL.example", 4)));
    for (const auto& p : good_app)
        tx.send(frame(kApp, p));
    tx.send(frame(kApp, blocked_app));
    tx.send(frame(kApp, bytes_of("GET /admin/users")));
    for (int i = 0; i < 3; ++i)
        tx.send(frame(kPlain, bytes_of("plain")));

    EXPECT_EQ(dns.receive(2), good_dns) << "blocked names must not arrive, others unchanged";
    EXPECT_EQ(app.receive(2), good_app);
    EXPECT_EQ(plain.receive(3, 2s), 3u);

    EXPECT_EQ(wait_xsk_rx(d, 8), 8u);
    const json st = stats(d);
    const json& x = st.at("xsk");
    EXPECT_EQ(x.at("mode"), "host");
    ASSERT_EQ(x.at("workers").size(), 1u);
    const json& w = x.at("workers")[0];
    EXPECT_EQ(w.at("interface"), "dut0");
    EXPECT_EQ(w.at("bind"), "copy");
    EXPECT_EQ(w.at("forwarded"), 4);
    EXPECT_EQ(w.at("dropped_verdict"), 4);
    EXPECT_EQ(w.at("tx_packets"), 4);
    for (const char* drop : {"rx_ring_full", "fill_ring_empty", "tx_busy", "invalid_desc"})
        EXPECT_TRUE(w.at("drops").contains(drop)) << drop;
    const json list = d.ctl({"inspect", "list", "--json"}).json();
    EXPECT_EQ(inspect_rule(list, 10).at("dropped"), 2);
    EXPECT_EQ(inspect_rule(list, 20).at("dropped"), 1);
    EXPECT_EQ(inspect_rule(list, 30).at("dropped"), 1);
    EXPECT_EQ(inspect_rule(list, 30).at("forwarded"), 0);
    EXPECT_EQ(st.at("reasons").at("rule_xsk").at("packets"), 8);
    // The human form shows the engine.
    CtlResult human = d.ctl({"stats"});
    EXPECT_NE(human.out.find("AF_XDP engine (host mode"), std::string::npos) << human.out;
}

TEST_F(DaemonXskHost, MalformedDnsIsCountedAndTheDaemonCarriesOn)
{
    DaemonProcess& d = lab->daemon;
    ASSERT_EQ(d.ctl({"rule", "add", "priority=1", "proto=udp", "dport=53", "action=xsk"}).code, 0);
    add_inspect_rules(d);
    FrameSender tx(lab->peer, "peer0");
    const std::vector<std::vector<uint8_t>> bad = {
        {0x12, 0x34, 0x01, 0x00, 0, 1},               // truncated header
        with_header({0xc0, 0x0c, 0, 1, 0, 1}),          // pointer to itself
        with_header({3, 'a', 'b', 'c', 0xc0, 0x0c}),    // a pointer after a label
        with_header({0x3f, 'a', 'b', 'c'}),             // label longer than what is left
        with_header({5, 'e', 'v', 'i', 'l'}),           // name without its end
    };
    for (const auto& p : bad)
        tx.send(frame(53, p));
    EXPECT_EQ(wait_xsk_rx(d, bad.size()), bad.size());
    const json x = stats(d).at("xsk");
    uint64_t malformed = 0;
    for (const auto& [name, n] : x.at("inspect").at("dns_malformed").items())
        malformed += n.get<uint64_t>();
    EXPECT_EQ(malformed, bad.size()) << x.dump();
    // Still answering and still inspecting.
    PayloadReceiver dns(lab->dut, DaemonLab::dut4, 53);
    tx.send(frame(53, dns_query("fine.example", 9)));
    EXPECT_EQ(dns.receive(1).size(), 1u);
}

// Inline: src (s0) -> [a0 | xdpfwd | a1] -> dst (d0).
class DaemonXskInline : public ::testing::Test {
protected:
    DaemonXskInline()
        : left({&src, "s0", "10.99.32.1", ""}, {&fw, "a0", "", ""}),
          right({&fw, "a1", "", ""}, {&dst, "d0", "10.99.32.2", ""})
    {
    }
    void TearDown() override
    {
        if (HasFailure() && daemon)
            std::cerr << "---- xdpfwd log\n" << daemon->log() << "----\n";
        daemon.reset();
    }
    void start()
    {
        DaemonOptions o;
        o.xdpfwd = kXdpfwd;
        o.ns = &fw;
        o.interfaces = {"a0", "a1"};
        o.extra_args = {"--xsk", "inline", "--xsk-pair", "a0:a1"};
        daemon = std::make_unique<DaemonProcess>(o);
    }
    std::vector<uint8_t> frame(uint16_t dport, std::vector<uint8_t> payload)
    {
        FrameSpec s = test::frame("10.99.32.1", "10.99.32.2", 17, 4000, dport);
        s.src_mac = parse_mac(left.mac_a());
        s.dst_mac = parse_mac(right.mac_b());
        s.payload = std::move(payload);
        return build_frame(s);
    }

    NetNs src, fw, dst;
    VethPair left, right;
    std::unique_ptr<DaemonProcess> daemon;
};

TEST_F(DaemonXskInline, AllowedFramesLeaveThePairByteIdenticalAndFallbackHoldsWhileStopped)
{
    start();
    ASSERT_EQ(daemon->ctl({"rule", "add", "priority=1", "iif=a0", "proto=udp", "action=xsk",
                           "fallback=drop"}).code, 0);
    add_inspect_rules(*daemon);
    FrameCapture out(dst, "d0", kApp), dns_out(dst, "d0", 53);
    FrameSender tx(src, "s0");
    std::vector<std::vector<uint8_t>> allowed;
    for (int i = 0; i < 5; ++i)
        allowed.push_back(frame(kApp, bytes_of("GET /page" + std::to_string(i))));
    for (const auto& f : allowed)
        tx.send(f);
    tx.send(frame(kApp, bytes_of("GET /admin")));
    const auto blocked = bytes_of("....\xde\xad\xbe\xef");
    tx.send(frame(kApp, blocked));
    const auto good_dns = frame(53, dns_query("example.org", 7));
    tx.send(good_dns);
    tx.send(frame(53, dns_query("x.evil.example", 8)));

    ASSERT_EQ(out.wait_for(5, 5s), 5u);
    ASSERT_EQ(dns_out.wait_for(1, 5s), 1u);
    EXPECT_EQ(wait_xsk_rx(*daemon, 9), 9u);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(out.frames(), allowed) << "blocked frames arrived or frames changed";
    EXPECT_EQ(dns_out.frames(), std::vector<std::vector<uint8_t>>{good_dns});
    const json x = stats(*daemon).at("xsk");
    EXPECT_EQ(x.at("mode"), "inline");
    EXPECT_EQ(x.at("workers").size(), 2u); // a0 and a1, queue 0 each

    // Inspection rules are state: they survive a restart.
    const uint64_t version = daemon->version();
    EXPECT_EQ(daemon->terminate(), 0);
    // No daemon: no socket, the rule's fallback (drop) applies.
    tx.send(frame(kApp, bytes_of("while stopped")));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(out.count(), 5u);
    daemon->start();
    EXPECT_EQ(daemon->version(), version);
    const json list = daemon->ctl({"inspect", "list", "--json"}).json();
    EXPECT_EQ(list.at("rules").size(), kInspectRules.size());
    const json reasons = stats(*daemon).at("reasons");
    EXPECT_GE(reasons.at("xsk_no_socket").at("packets").get<uint64_t>(), 1u);
    tx.send(frame(kApp, bytes_of("GET /admin")));
    tx.send(frame(kApp, bytes_of("after restart")));
    EXPECT_EQ(out.wait_for(6, 5s), 6u);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(out.count(), 6u);

    // A crash: the kernel closes the sockets and takes them out of the map.
    daemon->kill();
    tx.send(frame(kApp, bytes_of("after the crash")));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(out.count(), 6u) << "fallback=drop must hold after a crash too";
    daemon->start();
    tx.send(frame(kApp, bytes_of("after the second start")));
    EXPECT_EQ(out.wait_for(7, 5s), 7u);
}

TEST(DaemonXskConfig, BadXskOptionsAreRefusedByName)
{
    for (const auto& [args, word] :
         std::vector<std::pair<std::vector<std::string>, std::string>>{
             {{"--xsk", "bridge"}, "bridge"},
             {{"--xsk", "inline"}, "pair"},
             {{"--xsk", "host", "--xsk-interface", "eth9"}, "eth9"},
             {{"--xsk", "inline", "--xsk-pair", "lo"}, "IF1:IF2"},
             {{"--xsk", "host", "--xsk-ring-size", "100"}, "ring_size"},
         }) {
        std::string cmd = kXdpfwd + " --instance t --interface lo";
        for (const auto& a : args)
            cmd += " " + a;
        CmdResult r = run(cmd + " 2>&1");
        EXPECT_EQ(r.status, 64) << cmd << "\n" << r.output;
        EXPECT_NE(r.output.find(word), std::string::npos) << cmd << "\n" << r.output;
    }
}

} // namespace
} // namespace xdpfw::test
