// SPDX-License-Identifier: GPL-2.0-only
// The AF_XDP engine on veth pairs with the real xdpfw program: frames an
// action=xsk rule sends to the workers are inspected (a test inspector that
// drops a byte pattern), allowed ones leave byte-identical through the paired
// port (inline) or reach a local socket through the host device (host mode),
// blocked ones never arrive, other traffic is untouched, counters add up,
// and a stopped engine hands its queues back to the rule's fallback.
#include "testing/packet_builder.hpp"
#include "lib/xsk/engine.hpp"
#include "lib/xsk/host_tun.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/frame_io.hpp"
#include "testing/policy_text.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gtest/gtest.h>
#include <xdpfw/abi.h>

#include "xdpfw_bpf.skel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using xsk::Engine;
using xsk::EngineConfig;
using xsk::ForwardMode;

constexpr uint16_t kInspected = 5000; // matched by the action=xsk rule
constexpr uint16_t kOther = 6000;     // not matched: default pass
constexpr uint32_t kPatternRule = 7;
const std::vector<uint8_t> kPattern = {0xde, 0xad, 0xbe, 0xef};

// Drops frames containing kPattern (rule 7); flags frames whose payload
// starts with "MALFORMED" (and forwards them), like a DNS parser that gave up.
class PatternInspector : public xsk::Inspector {
public:
    xsk::InspectResult inspect(std::span<const uint8_t> f) override
    {
        xsk::InspectResult r;
        if (std::search(f.begin(), f.end(), kPattern.begin(), kPattern.end()) != f.end()) {
            r.verdict = xsk::Verdict::drop;
            r.rule_id = kPatternRule;
        }
        static const std::string bad = "MALFORMED";
        r.malformed = std::search(f.begin(), f.end(), bad.begin(), bad.end()) != f.end();
        return r;
    }
};

xsk::InspectorFactory pattern_inspector()
{
    return [] { return std::make_unique<PatternInspector>(); };
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

xsk::XskMapFds map_fds(const FwInstance& fw)
{
    return {bpf_map__fd(fw.obj.skel()->maps.xdpfw_xsks),
            bpf_map__fd(fw.obj.skel()->maps.xdpfw_xsk_ports)};
}

// A UDP frame from src to dst (addresses and MACs) with this payload.
std::vector<uint8_t> udp_frame(const VethEnd& from, const std::string& from_mac, const VethEnd& to,
                               const std::string& to_mac, uint16_t dport,
                               std::vector<uint8_t> payload)
{
    FrameSpec s = test::frame(from.ipv4, to.ipv4, 17, 4000, dport);
    s.src_mac = parse_mac(from_mac);
    s.dst_mac = parse_mac(to_mac);
    s.payload = std::move(payload);
    return build_frame(s);
}

// An engine on fw's maps with the pattern inspector, started in fw's namespace.
std::unique_ptr<Engine> start_engine(const FwInstance& fw, EngineConfig c)
{
    c.socket.ring_size = 256;
    EnterNetns in(fw.ns);
    auto e = std::make_unique<Engine>(c, map_fds(fw), pattern_inspector());
    e->start();
    return e;
}

Policy xsk_policy(const std::string& fallback)
{
    return make_policy({"priority=1 proto=udp dport=5000 action=xsk fallback=" + fallback});
}

xsk::WorkerStats worker(const xsk::EngineStats& s, const std::string& ifname)
{
    for (const auto& w : s.workers)
        if (w.ifname == ifname && w.queue == 0)
            return w;
    ADD_FAILURE() << "no worker for " << ifname;
    return {};
}

// Waits until the worker of ifname has received want frames.
xsk::WorkerStats wait_rx(const Engine& e, const std::string& ifname, uint64_t want)
{
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    xsk::WorkerStats w;
    do {
        w = worker(e.stats(), ifname);
        if (w.rx_packets >= want)
            break;
        std::this_thread::sleep_for(5ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return w;
}

// src (s0) -> [a0 | fw | a1] -> dst (d0): the worker of a0 forwards out of a1.
class XskInline : public ::testing::Test {
protected:
    XskInline()
        : left({&src, "s0", "10.99.30.1", ""}, {&fw_ns, "a0", "", ""}),
          right({&fw_ns, "a1", "", ""}, {&dst, "d0", "10.99.30.2", ""}), fw(fw_ns)
    {
        fw.attach("a0");
        fw.attach("a1");
        fw.commit(xsk_policy("drop"));
    }

    std::vector<uint8_t> frame(uint16_t dport, std::vector<uint8_t> payload)
    {
        return udp_frame(left.a(), left.mac_a(), right.b(), right.mac_b(), dport,
                         std::move(payload));
    }

    std::unique_ptr<Engine> engine()
    {
        EngineConfig c;
        c.interfaces = {"a0", "a1"};
        c.mode = ForwardMode::inline_;
        c.pairs = {{"a0", "a1"}};
        return start_engine(fw, c);
    }

    NetNs src, fw_ns, dst;
    VethPair left, right;
    FwInstance fw;
};

TEST_F(XskInline, AllowedFramesLeaveThePairedPortByteIdenticalBlockedNever)
{
    auto e = engine();
    FrameCapture out(dst, "d0", kInspected);
    FrameCapture local(fw_ns, "a0", kOther);
    FrameCapture consumed(fw_ns, "a0", kInspected);
    FrameSender tx(src, "s0");

    std::vector<std::vector<uint8_t>> allowed, blocked, other;
    for (int i = 0; i < 20; ++i)
        allowed.push_back(frame(kInspected, bytes_of("allowed payload #" + std::to_string(i))));
    for (int i = 0; i < 10; ++i) {
        auto p = bytes_of("blocked " + std::to_string(i) + " ");
        p.insert(p.end(), kPattern.begin(), kPattern.end());
        blocked.push_back(frame(kInspected, p));
    }
    for (int i = 0; i < 5; ++i)
        other.push_back(frame(kOther, bytes_of("not inspected " + std::to_string(i))));
    for (size_t i = 0; i < 20; ++i) {
        tx.send(allowed[i]);
        if (i < blocked.size())
            tx.send(blocked[i]);
        if (i < other.size())
            tx.send(other[i]);
    }

    ASSERT_EQ(out.wait_for(20, 5s), 20u);
    EXPECT_EQ(local.wait_for(5, 5s), 5u);
    auto w = wait_rx(*e, "a0", 30);
    std::this_thread::sleep_for(200ms); // anything extra would show up now
    auto got = out.frames();
    ASSERT_EQ(got.size(), 20u) << "blocked frames reached the receiver";
    for (size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i], allowed[i]) << "frame " << i << " changed on the way";
    // Not matched by the xsk rule: passed to a0's stack as it was sent.
    auto l = local.frames();
    ASSERT_EQ(l.size(), 5u);
    for (size_t i = 0; i < l.size(); ++i)
        EXPECT_EQ(l[i], other[i]);
    // The xsk frames were taken by the socket: a0's stack never saw them.
    EXPECT_EQ(consumed.count(), 0u);

    w = worker(e->stats(), "a0");
    EXPECT_TRUE(w.running);
    EXPECT_FALSE(w.zero_copy); // veth: copy mode
    EXPECT_EQ(w.rx_packets, 30u);
    EXPECT_EQ(w.forwarded, 20u);
    EXPECT_EQ(w.dropped_verdict, 10u);
    EXPECT_EQ(w.tx_busy + w.tx_errors + w.invalid_desc, 0u);
    EXPECT_EQ(fw.reason_packets(XDPFW_REASON_RULE_XSK), 30u);
    const auto s = e->stats();
    ASSERT_EQ(s.rules.size(), 1u);
    EXPECT_EQ(s.rules[0].rule_id, kPatternRule);
    EXPECT_EQ(s.rules[0].packets, 10u);
    EXPECT_EQ(s.rules[0].dropped, 10u);
    // tx completions arrive after the frames left.
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (worker(e->stats(), "a0").tx_packets < 20 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_EQ(worker(e->stats(), "a0").tx_packets, 20u);
}

TEST_F(XskInline, StoppedEngineFallsBackToTheRuleVerdict)
{
    auto e = engine();
    FrameCapture out(dst, "d0", kInspected);
    FrameSender tx(src, "s0");
    tx.send(frame(kInspected, bytes_of("first")));
    ASSERT_EQ(out.wait_for(1, 5s), 1u);

    e->stop();
    EXPECT_FALSE(e->running());
    const uint64_t no_socket = fw.reason_packets(XDPFW_REASON_XSK_NO_SOCKET);
    for (int i = 0; i < 5; ++i)
        tx.send(frame(kInspected, bytes_of("while stopped")));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (fw.reason_packets(XDPFW_REASON_XSK_NO_SOCKET) < no_socket + 5 &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_EQ(fw.reason_packets(XDPFW_REASON_XSK_NO_SOCKET), no_socket + 5);
    EXPECT_EQ(out.count(), 1u) << "fallback=drop: nothing may pass while no socket is bound";

    {
        EnterNetns in(fw_ns); // the engine resolves its interfaces where it is started
        e->start();
    }
    tx.send(frame(kInspected, bytes_of("after restart")));
    EXPECT_EQ(out.wait_for(2, 5s), 2u);
    const auto w = wait_rx(*e, "a0", 2);
    EXPECT_EQ(w.rx_packets, 2u) << "counters carry on across a restart";
    EXPECT_EQ(w.forwarded, 2u);
}

// src (s0) -> h0 in fw; the worker of h0 hands allowed frames to fw's stack.
class XskHost : public ::testing::Test {
protected:
    XskHost()
        : link({&src, "s0", "10.99.31.1", "fd00:99::31:1"},
               {&fw_ns, "h0", "10.99.31.2", "fd00:99::31:2"}),
          fw(fw_ns)
    {
        fw.attach("h0");
    }

    std::vector<uint8_t> frame(uint16_t dport, std::vector<uint8_t> payload)
    {
        return udp_frame(link.a(), link.mac_a(), link.b(), link.mac_b(), dport, std::move(payload));
    }

    std::unique_ptr<Engine> engine(bool busy_poll = false)
    {
        EngineConfig c;
        c.interfaces = {"h0"};
        c.mode = ForwardMode::host;
        c.host_device = "xdpfwt-host";
        if (busy_poll) {
            c.socket.busy_poll = true;
            c.socket.batch = 16;
            c.cpus = {0};
        }
        return start_engine(fw, c);
    }

    NetNs src, fw_ns;
    VethPair link;
    FwInstance fw;
};

TEST_F(XskHost, AllowedDatagramsReachTheLocalSocketBlockedNever)
{
    fw.commit(xsk_policy("drop"));
    auto e = engine();
    FrameSender tx(src, "s0");
    int rx = socket_in(fw_ns, AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kInspected);
    inet_pton(AF_INET, "10.99.31.2", &sa.sin_addr);
    ASSERT_EQ(bind(rx, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    timeval tv{0, 200000};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    UdpReceiver other_rx(fw_ns, "10.99.31.2", kOther);

    std::vector<std::string> allowed;
    for (int i = 0; i < 10; ++i) {
        allowed.push_back("host allowed " + std::to_string(i));
        tx.send(frame(kInspected, bytes_of(allowed.back())));
        auto p = bytes_of("blocked ");
        p.insert(p.end(), kPattern.begin(), kPattern.end());
        tx.send(frame(kInspected, p));
        tx.send(frame(kOther, bytes_of("other")));
    }
    std::vector<std::string> got;
    char buf[2048];
    // Until the ten allowed ones are in, then one more timeout for strays.
    for (int tries = 0; tries < 50; ++tries) {
        const ssize_t n = recv(rx, buf, sizeof(buf), 0);
        if (n >= 0)
            got.emplace_back(buf, size_t(n));
        else if (got.size() >= allowed.size())
            break;
    }
    close(rx);
    EXPECT_EQ(got, allowed) << "payloads must arrive unchanged and blocked ones never";
    EXPECT_EQ(other_rx.receive(10, 5s), 10u);

    const auto w = wait_rx(*e, "h0", 20);
    EXPECT_EQ(w.rx_packets, 20u);
    EXPECT_EQ(w.forwarded, 10u);
    EXPECT_EQ(w.tx_packets, 10u);
    EXPECT_EQ(w.dropped_verdict, 10u);
    EXPECT_EQ(w.host_non_ip + w.tx_errors + w.tx_busy, 0u);
}

TEST_F(XskHost, Ipv6DatagramsReachTheLocalSocketToo)
{
    fw.commit(xsk_policy("drop"));
    auto e = engine();
    FrameSender tx(src, "s0");
    UdpReceiver rx(fw_ns, "fd00:99::31:2", kInspected);
    auto v6 = [&](const std::string& payload) {
        FrameSpec s = test::frame("fd00:99::31:1", "fd00:99::31:2", 17, 4000, kInspected);
        s.src_mac = parse_mac(link.mac_a());
        s.dst_mac = parse_mac(link.mac_b());
        s.payload = bytes_of(payload);
        return build_frame(s);
    };
    for (int i = 0; i < 3; ++i)
        tx.send(v6("v6 allowed"));
    tx.send(v6("v6 blocked \xde\xad\xbe\xef"));
    EXPECT_EQ(rx.receive(4, 3s), 3u);
    const auto w = wait_rx(*e, "h0", 4);
    EXPECT_EQ(w.forwarded, 3u);
    EXPECT_EQ(w.dropped_verdict, 1u);
}

TEST_F(XskHost, BusyPollingPinnedWorkerDelivers)
{
    fw.commit(xsk_policy("drop"));
    auto e = engine(true); // busy polling, batch 16, worker pinned to CPU 0
    FrameSender tx(src, "s0");
    UdpReceiver rx(fw_ns, "10.99.31.2", kInspected);
    for (int i = 0; i < 40; ++i)
        tx.send(frame(kInspected, bytes_of("busy " + std::to_string(i))));
    EXPECT_EQ(rx.receive(40, 5s), 40u);
    const auto w = wait_rx(*e, "h0", 40);
    EXPECT_EQ(w.rx_packets, 40u);
    EXPECT_EQ(w.forwarded, 40u);
}

TEST_F(XskHost, MalformedPayloadsAreCountedAndForwarded)
{
    fw.commit(xsk_policy("drop"));
    auto e = engine();
    FrameSender tx(src, "s0");
    UdpReceiver rx(fw_ns, "10.99.31.2", kInspected);
    for (int i = 0; i < 4; ++i)
        tx.send(frame(kInspected, bytes_of("MALFORMED question")));
    EXPECT_EQ(rx.receive(4, 5s), 4u);
    const auto w = wait_rx(*e, "h0", 4);
    EXPECT_EQ(w.malformed, 4u);
    EXPECT_EQ(w.forwarded, 4u);
}

// Stop and restart under a steady stream: no crash, every frame is either
// received by a worker or given the fallback (pass) while no socket is
// bound, the receiver gets them all, and counters only grow.
TEST_F(XskHost, RestartUnderTrafficKeepsCountersConsistent)
{
    fw.commit(xsk_policy("pass"));
    auto e = engine();
    UdpSink rx(fw_ns, "10.99.31.2", kInspected); // drains as it goes: no buffer overflow
    std::atomic<bool> stop{false};
    std::atomic<size_t> sent{0};
    std::thread sender([&] {
        FrameSender tx(src, "s0");
        const auto f = frame(kInspected, bytes_of("stream"));
        while (!stop) {
            tx.send(f);
            ++sent;
            std::this_thread::sleep_for(500us);
        }
    });
    uint64_t last_rx = 0;
    for (int round = 0; round < 4; ++round) {
        std::this_thread::sleep_for(150ms);
        e->stop();
        const auto w = worker(e->stats(), "h0");
        EXPECT_GE(w.rx_packets, last_rx);
        last_rx = w.rx_packets;
        std::this_thread::sleep_for(100ms);
        EnterNetns in(fw_ns);
        e->start();
    }
    std::this_thread::sleep_for(150ms);
    stop = true;
    sender.join();
    const size_t total = sent;
    const size_t received = rx.wait_for(total, 10s);
    e->stop();
    const auto w = worker(e->stats(), "h0");
    const uint64_t via_xsk = fw.reason_packets(XDPFW_REASON_RULE_XSK);
    const uint64_t fallback = fw.reason_packets(XDPFW_REASON_XSK_NO_SOCKET);
    EXPECT_EQ(via_xsk + fallback, total);
    EXPECT_GT(fallback, 0u);
    EXPECT_GT(w.rx_packets, 0u);
    // What the program redirected either reached a worker or is in the
    // kernel's drop counters of a socket, once: fill_ring_empty counts frames
    // rx_dropped already has (FillRingEmptyIsNotASecondDrop).
    EXPECT_EQ(via_xsk, w.rx_packets + w.kernel.rx_dropped + w.kernel.rx_ring_full);
    EXPECT_EQ(w.rx_packets, w.forwarded + w.dropped_verdict);
    EXPECT_EQ(received, fallback + w.forwarded);
}

// A socket nobody drains, in copy mode (veth): the fill ring's ring_size
// frames take the first ring_size frames, and each frame after them is lost
// once, counted in rx_dropped; fill_ring_empty counts the very same frames
// (net/xdp/xsk.c: the copy fails to get a buffer, both go up), and the rx
// ring never overflows first. So frames lost = rx_ring_full + rx_dropped,
// never + fill_ring_empty (docs/DAEMON.md, "AF_XDP engine").
TEST_F(XskHost, FillRingEmptyIsNotASecondDrop)
{
    fw.commit(xsk_policy("drop"));
    xsk::SocketOptions o;
    o.ring_size = 64;
    o.zero_copy = xsk::ZeroCopy::off;
    std::unique_ptr<xsk::XskSocket> s;
    uint32_t ifindex = 0;
    {
        EnterNetns in(fw_ns);
        s = xsk::XskSocket::create("h0", 0, o);
        ifindex = if_nametoindex("h0");
    }
    const xsk::XskMapFds m = map_fds(fw);
    const uint32_t slot = 0;
    const int fd = s->fd();
    ASSERT_EQ(bpf_map_update_elem(m.xsks, &slot, &fd, BPF_ANY), 0);
    ASSERT_EQ(bpf_map_update_elem(m.ports, &ifindex, &slot, BPF_ANY), 0);

    constexpr uint32_t kFrames = 100;
    FrameSender tx(src, "s0");
    for (uint32_t i = 0; i < kFrames; i++)
        tx.send(frame(kInspected, bytes_of("frame " + std::to_string(i))));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (fw.reason_packets(XDPFW_REASON_RULE_XSK) < kFrames &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    ASSERT_EQ(fw.reason_packets(XDPFW_REASON_RULE_XSK), kFrames);
    EXPECT_EQ(fw.reason_packets(XDPFW_REASON_XSK_NO_SOCKET), 0u);

    uint32_t idx = 0;
    const uint32_t queued = xsk_ring_cons__peek(s->rx(), kFrames, &idx);
    const xsk::KernelRingStats k = s->kernel_stats();
    EXPECT_EQ(queued, o.ring_size);
    EXPECT_EQ(k.rx_ring_full, 0u);
    EXPECT_EQ(k.rx_dropped, kFrames - o.ring_size);
    EXPECT_EQ(k.rx_fill_ring_empty, kFrames - o.ring_size) << "the same frames as rx_dropped";
    EXPECT_EQ(queued + k.rx_dropped + k.rx_ring_full, kFrames);
    bpf_map_delete_elem(m.xsks, &slot);
    bpf_map_delete_elem(m.ports, &ifindex);
}

TEST(XskConfig, BadConfigurationsAreRefusedByName)
{
    EngineConfig c;
    EXPECT_THROW(xsk::validate_engine_config(c), std::invalid_argument);
    c.interfaces = {"a0", "a1"};
    c.mode = ForwardMode::inline_;
    c.pairs = {{"a0", "b9"}};
    try {
        xsk::validate_engine_config(c);
        ADD_FAILURE() << "unknown pair member accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("b9"), std::string::npos) << e.what();
    }
    c.pairs = {{"a0", "a1"}};
    EXPECT_NO_THROW(xsk::validate_engine_config(c));
    c.pairs.clear();
    EXPECT_THROW(xsk::validate_engine_config(c), std::invalid_argument); // unpaired
    c.mode = ForwardMode::host;
    c.host_device = "a0";
    EXPECT_THROW(xsk::validate_engine_config(c), std::invalid_argument);
    EXPECT_THROW(xsk::parse_forward_mode("bridge"), std::invalid_argument);
    EXPECT_THROW(xsk::parse_zero_copy("maybe"), std::invalid_argument);
}

TEST(XskHostTun, L3OffsetSeesThroughVlanTags)
{
    FrameSpec s = test::frame("10.99.0.1", "10.99.0.2");
    s.vlans = {VlanTag{0x88a8, 10}, VlanTag{0x8100, 20}};
    auto f = build_frame(s);
    size_t off = 0;
    int version = 0;
    ASSERT_TRUE(xsk::l3_offset(f, &off, &version));
    EXPECT_EQ(off, 22u);
    EXPECT_EQ(version, 4);
    FrameSpec arp;
    arp.family = Family::other;
    EXPECT_FALSE(xsk::l3_offset(build_frame(arp), &off, &version));
    EXPECT_FALSE(xsk::l3_offset(std::vector<uint8_t>(10), &off, &version));
}

} // namespace
} // namespace xdpfw::test
