// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-pktgen end to end: frames sent from one veth end (BPF_PROG_RUN live
// frames) are captured at the other end with a packet socket and checked
// (count, rotation through the ranges, checksums recomputed here, VLAN tag,
// size), the kernel stack accepts the UDP datagrams, --rate holds roughly,
// bad options are refused by name; and scripts/pktgen.sh's refusal without
// the kernel pktgen module plus its dry-run mapping.
#include "lib/compiler/compiler.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "testing/frame_io.hpp"
#include "testing/live_frames.hpp"
#include "testing/netns.hpp"
#include "testing/packet_builder.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTx4 = "10.99.8.1";
constexpr const char* kRx4 = "10.99.8.2";
constexpr const char* kTx6 = "fd00:99::8:1";
constexpr const char* kRx6 = "fd00:99::8:2";
// Source MAC of generated frames: tells them apart from what the namespaces
// send by themselves (neighbour discovery, MLD).
constexpr const char* kGenMac = "02:99:00:00:00:01";

std::string pktgen_binary()
{
    return std::string(XDPFW_BINARY_DIR) + "/bench/xdpfw-pktgen";
}

std::string pktgen_script()
{
    return std::string(XDPFW_SOURCE_DIR) + "/scripts/pktgen.sh";
}

uint16_t rd16(const uint8_t* p)
{
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// One captured frame, parsed. The VLAN id comes from the frame or, when the
// receive path moved the tag into metadata, from PACKET_AUXDATA.
struct Captured {
    std::vector<uint8_t> bytes;
    std::optional<uint16_t> vlan;
    size_t wire_len = 0; // with the VLAN tag, as sent
};

struct Parsed {
    int family = 0; // 4 or 6
    std::string src, dst;
    uint8_t proto = 0;
    uint16_t sport = 0, dport = 0;
    uint8_t tcp_flags = 0;
    std::optional<uint16_t> vlan;
    size_t wire_len = 0;
    std::string error; // empty: headers consistent and every checksum valid
};

std::string addr_text(int af, const uint8_t* p)
{
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(af, p, buf, sizeof buf);
    return buf;
}

bool csum_ok(uint32_t sum)
{
    return csum_fold(sum) == 0xffff;
}

// Recomputes every checksum of the frame from scratch.
Parsed parse(const Captured& c)
{
    Parsed r;
    r.vlan = c.vlan;
    r.wire_len = c.wire_len;
    const std::vector<uint8_t>& f = c.bytes;
    size_t off = 12;
    if (f.size() < 14)
        return r.error = "short Ethernet header", r;
    uint16_t type = rd16(&f[off]);
    if (type == ETH_P_8021Q) {
        if (f.size() < 18)
            return r.error = "short VLAN tag", r;
        r.vlan = rd16(&f[14]) & 0xfff;
        off += 4;
        type = rd16(&f[off]);
    }
    off += 2;
    const uint8_t* ip = f.data() + off;
    const size_t avail = f.size() - off;
    size_t l4_off = 0, l4_len = 0;
    uint32_t pseudo = 0;
    if (type == ETH_P_IP) {
        r.family = 4;
        if (avail < 20 || (ip[0] >> 4) != 4 || (ip[0] & 0xf) != 5)
            return r.error = "bad IPv4 header", r;
        const size_t tot = rd16(ip + 2);
        if (tot > avail || tot < 20)
            return r.error = fmt::format("IPv4 total length {} vs {} bytes", tot, avail), r;
        if (!csum_ok(csum_partial(ip, 20, 0)))
            return r.error = "IPv4 header checksum", r;
        r.src = addr_text(AF_INET, ip + 12);
        r.dst = addr_text(AF_INET, ip + 16);
        r.proto = ip[9];
        l4_off = 20;
        l4_len = tot - 20;
        if (r.proto != IPPROTO_ICMP) {
            pseudo = csum_partial(ip + 12, 8, 0);
            pseudo += r.proto;
            pseudo += static_cast<uint32_t>(l4_len);
        }
    } else if (type == ETH_P_IPV6) {
        r.family = 6;
        if (avail < 40 || (ip[0] >> 4) != 6)
            return r.error = "bad IPv6 header", r;
        l4_len = rd16(ip + 4);
        if (40 + l4_len > avail)
            return r.error = "IPv6 payload length", r;
        r.src = addr_text(AF_INET6, ip + 8);
        r.dst = addr_text(AF_INET6, ip + 24);
        r.proto = ip[6];
        l4_off = 40;
        pseudo = csum_partial(ip + 8, 32, 0);
        pseudo += static_cast<uint32_t>(l4_len);
        pseudo += r.proto;
    } else {
        return r.error = fmt::format("ethertype {:#06x}", type), r;
    }
    const uint8_t* l4 = ip + l4_off;
    if (r.proto == IPPROTO_UDP || r.proto == IPPROTO_TCP) {
        if (l4_len < (r.proto == IPPROTO_UDP ? 8u : 20u))
            return r.error = "short L4 header", r;
        r.sport = rd16(l4);
        r.dport = rd16(l4 + 2);
        if (r.proto == IPPROTO_TCP)
            r.tcp_flags = l4[13];
        if (r.proto == IPPROTO_UDP && rd16(l4 + 6) == 0)
            return r.error = "UDP checksum 0 (none)", r;
        if (r.proto == IPPROTO_UDP && rd16(l4 + 4) != l4_len)
            return r.error = "UDP length", r;
    }
    if (!csum_ok(csum_partial(l4, l4_len, pseudo)))
        return r.error = fmt::format("L4 (protocol {}) checksum", r.proto), r;
    return r;
}

// AF_PACKET socket on an interface inside a namespace keeping the frames
// whose source MAC is kGenMac.
class FrameCapture {
public:
    FrameCapture(const NetNs& ns, int ifindex)
    {
        fd_ = socket_in(ns, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        int one = 1;
        EXPECT_EQ(setsockopt(fd_, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one), 0);
        int buf = 32 << 20; // a full-speed burst must not overflow it
        EXPECT_EQ(setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf), 0);
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_ALL);
        sll.sll_ifindex = ifindex;
        if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
            throw std::runtime_error(std::string("bind packet socket: ") + strerror(errno));
    }
    ~FrameCapture() { close(fd_); }
    FrameCapture(const FrameCapture&) = delete;
    FrameCapture& operator=(const FrameCapture&) = delete;

    // Frames until `want` arrived or nothing came for `idle`.
    std::vector<Captured> receive(size_t want, std::chrono::milliseconds idle)
    {
        static const uint8_t gen_mac[6] = {0x02, 0x99, 0, 0, 0, 0x01};
        std::vector<Captured> out;
        std::vector<uint8_t> buf(65536);
        alignas(tpacket_auxdata) char control[CMSG_SPACE(sizeof(tpacket_auxdata)) + 64];
        while (out.size() < want) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(idle.count())) <= 0)
                break;
            iovec iov{buf.data(), buf.size()};
            sockaddr_ll from{};
            msghdr m{};
            m.msg_name = &from;
            m.msg_namelen = sizeof from;
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = control;
            m.msg_controllen = sizeof control;
            const ssize_t n = recvmsg(fd_, &m, 0);
            if (n < 0)
                break;
            if (from.sll_pkttype == PACKET_OUTGOING || n < 14 || memcmp(buf.data() + 6, gen_mac, 6))
                continue;
            Captured c;
            c.bytes.assign(buf.begin(), buf.begin() + n);
            c.wire_len = static_cast<size_t>(n);
            for (cmsghdr* h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
                if (h->cmsg_level != SOL_PACKET || h->cmsg_type != PACKET_AUXDATA)
                    continue;
                tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(h), sizeof aux);
                if (aux.tp_status & TP_STATUS_VLAN_VALID) {
                    c.vlan = aux.tp_vlan_tci & 0xfff;
                    c.wire_len += 4;
                }
            }
            out.push_back(std::move(c));
        }
        return out;
    }

private:
    int fd_ = -1;
};

// tx --veth--> rx; rx runs xdpfw with an empty pass-all policy, which gives
// the veth the XDP program it needs to take redirected frames.
class PktgenTest : public ::testing::Test {
protected:
    PktgenTest()
        : link({&tx, "pgtx0", kTx4, kTx6}, {&rx, "pgrx0", kRx4, kRx6}),
          obj(XdpfwObject::load(small_load_options())), maps(std::make_unique<PolicyMaps>(obj))
    {
        init_logging(spdlog::level::warn);
        EnterNetns in(rx);
        Policy pass_all;
        pass_all.default_action = ActionType::pass;
        auto resolve = [](const std::string& name) -> uint32_t { return if_nametoindex(name.c_str()); };
        maps->commit(compile(pass_all, {.caps = obj.options().caps, .resolve = resolve}), 1);
        attachment.emplace(XdpAttachment::attach(obj, "pgrx0"));
    }

    void SetUp() override
    {
        ASSERT_TRUE(std::filesystem::exists(pktgen_binary()))
            << pktgen_binary() << " is missing: build the xdpfw-pktgen target";
    }

    // Runs xdpfw-pktgen in tx with --dev pgtx0 and args.
    CmdResult pktgen(const std::string& args)
    {
        return run_in(tx, pktgen_binary() + " --dev pgtx0 " + args + " 2>&1");
    }

    nlohmann::json pktgen_json(const std::string& args)
    {
        CmdResult r = run_in(tx, pktgen_binary() + " --dev pgtx0 --json " + args);
        EXPECT_TRUE(r.ok()) << args << "\n" << r.output;
        if (!r.ok())
            return nlohmann::json::object();
        return nlohmann::json::parse(r.output.substr(r.output.rfind('{')));
    }

    std::string flow_args(const std::string& args)
    {
        return fmt::format("--src-mac {} --dst-mac {} {}", kGenMac, link.mac_b(), args);
    }

    uint64_t udp_csum_errors(int family)
    {
        // "Udp: ... InCsumErrors ..." / "Udp6InCsumErrors N".
        if (family == 4) {
            const std::string snmp = run_in_checked(rx, "cat /proc/net/snmp");
            const auto names = snmp.find("Udp: ");
            const auto values = snmp.find("Udp: ", names + 1);
            std::istringstream n(snmp.substr(names, snmp.find('\n', names) - names));
            std::istringstream v(snmp.substr(values, snmp.find('\n', values) - values));
            std::string key, val;
            while (n >> key && v >> val)
                if (key == "InCsumErrors")
                    return std::stoull(val);
            ADD_FAILURE() << "no Udp InCsumErrors in /proc/net/snmp";
            return 0;
        }
        const std::string snmp6 = run_in_checked(rx, "cat /proc/net/snmp6");
        const auto at = snmp6.find("Udp6InCsumErrors");
        if (at == std::string::npos) {
            ADD_FAILURE() << "no Udp6InCsumErrors in /proc/net/snmp6";
            return 0;
        }
        return std::stoull(snmp6.substr(snmp6.find_first_of("0123456789", at + 16)));
    }

    NetNs tx, rx;
    VethPair link;
    XdpfwObject obj;
    std::unique_ptr<PolicyMaps> maps;
    std::optional<XdpAttachment> attachment;
};

struct FlowCase {
    const char* name;
    std::string args;          // flow options
    std::vector<std::string> srcs, dsts; // every address of the ranges, in order
    uint16_t sport0, sports, dport0, dports; // first port and how many
    int family;
    uint8_t proto;
    std::optional<uint16_t> vlan;
    size_t size;
    uint8_t tcp_flags = 0;
};

std::vector<std::string> v4_range(const std::string& prefix, int first, int n)
{
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
        out.push_back(prefix + std::to_string(first + i));
    return out;
}

std::vector<std::string> v6_range(const std::string& prefix, int first, int n)
{
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
        out.push_back(fmt::format("{}{:x}", prefix, first + i));
    return out;
}

class PktgenFlowTest : public PktgenTest, public ::testing::WithParamInterface<FlowCase> {};

// Frame i must carry value i mod n of every range (the rewriter's rotation),
// in arrival order (one CPU, one veth queue: order is kept).
TEST_P(PktgenFlowTest, FramesRotateThroughRangesWithValidChecksums)
{
    XDPFW_NEED_LIVE_FRAMES();
    const FlowCase& fc = GetParam();
    constexpr size_t kFrames = 600;
    FrameCapture cap(rx, link.ifindex_b());
    auto j = pktgen_json(flow_args(fc.args) + " --count " + std::to_string(kFrames));
    ASSERT_EQ(j.value("packets", 0u), kFrames) << j.dump();
    EXPECT_GT(j.value("pps", 0.0), 0.0);

    const auto frames = cap.receive(kFrames, 1000ms);
    ASSERT_EQ(frames.size(), kFrames);
    std::set<std::string> srcs, dsts;
    std::set<uint16_t> sports, dports;
    for (size_t i = 0; i < frames.size(); ++i) {
        const Parsed p = parse(frames[i]);
        ASSERT_EQ(p.error, "") << "frame " << i;
        ASSERT_EQ(p.family, fc.family);
        ASSERT_EQ(p.proto, fc.proto);
        ASSERT_EQ(p.vlan, fc.vlan) << "frame " << i;
        ASSERT_EQ(p.wire_len, fc.size) << "frame " << i;
        ASSERT_EQ(p.src, fc.srcs[i % fc.srcs.size()]) << "frame " << i;
        ASSERT_EQ(p.dst, fc.dsts[i % fc.dsts.size()]) << "frame " << i;
        if (fc.proto == IPPROTO_UDP || fc.proto == IPPROTO_TCP) {
            ASSERT_EQ(p.sport, fc.sport0 + i % fc.sports) << "frame " << i;
            ASSERT_EQ(p.dport, fc.dport0 + i % fc.dports) << "frame " << i;
        }
        if (fc.proto == IPPROTO_TCP) {
            ASSERT_EQ(p.tcp_flags, fc.tcp_flags);
        }
        srcs.insert(p.src);
        dsts.insert(p.dst);
        sports.insert(p.sport);
        dports.insert(p.dport);
    }
    EXPECT_EQ(srcs.size(), fc.srcs.size());
    EXPECT_EQ(dsts.size(), fc.dsts.size());
    if (fc.proto == IPPROTO_UDP || fc.proto == IPPROTO_TCP) {
        EXPECT_EQ(sports.size(), fc.sports);
        EXPECT_EQ(dports.size(), fc.dports);
    }

    // The checker itself must notice a broken checksum.
    Captured broken = frames.back();
    broken.bytes[broken.bytes.size() - 1] ^= 0x5a;
    EXPECT_NE(parse(broken).error, "");
}

INSTANTIATE_TEST_SUITE_P(
    Flows, PktgenFlowTest,
    ::testing::Values(
        FlowCase{"udp4", "--src 10.99.9.1-10.99.9.7 --dst 10.99.10.250-10.99.11.4 --sport 1000-1012 --dport 53",
                 v4_range("10.99.9.", 1, 7),
                 {"10.99.10.250", "10.99.10.251", "10.99.10.252", "10.99.10.253", "10.99.10.254",
                  "10.99.10.255", "10.99.11.0", "10.99.11.1", "10.99.11.2", "10.99.11.3", "10.99.11.4"},
                 1000, 13, 53, 1, 4, IPPROTO_UDP, std::nullopt, 60},
        // --sources: 9 sources from one address, across an octet boundary.
        FlowCase{"udp4_sources", "--src 10.99.9.250 --sources 9 --dst 10.99.12.9 --sport 1000-1002 --dport 53",
                 {"10.99.9.250", "10.99.9.251", "10.99.9.252", "10.99.9.253", "10.99.9.254",
                  "10.99.9.255", "10.99.10.0", "10.99.10.1", "10.99.10.2"},
                 {"10.99.12.9"}, 1000, 3, 53, 1, 4, IPPROTO_UDP, std::nullopt, 60},
        FlowCase{"tcp4_vlan", "--proto tcp --tcp-flags SYN,ACK --vlan 42 --src 10.99.9.0/29 --dst 10.99.12.9 "
                              "--sport 40000 --dport 1-5 --size 128",
                 v4_range("10.99.9.", 0, 8), {"10.99.12.9"}, 40000, 1, 1, 5, 4, IPPROTO_TCP, 42, 128, 0x12},
        FlowCase{"icmp4", "--proto icmp --src 10.99.9.5 --dst 10.99.13.1-10.99.13.3 --size 100",
                 {"10.99.9.5"}, v4_range("10.99.13.", 1, 3), 0, 1, 0, 1, 4, IPPROTO_ICMP, std::nullopt, 100},
        FlowCase{"udp6_vlan", "--family 6 --vlan 7 --src fd00:99::9:fffe-fd00:99::a:3 --dst fd00:99::8:2 "
                              "--sport 5000-5002 --dport 7000-7010 --size 200",
                 {"fd00:99::9:fffe", "fd00:99::9:ffff", "fd00:99::a:0", "fd00:99::a:1", "fd00:99::a:2",
                  "fd00:99::a:3"},
                 {"fd00:99::8:2"},
                 5000, 3, 7000, 11, 6, IPPROTO_UDP, 7, 200},
        FlowCase{"tcp6", "--family 6 --proto tcp --src fd00:99::1:0/126 --dst fd00:99::2:1-fd00:99::2:5 "
                         "--dport 443",
                 v6_range("fd00:99::1:", 0, 4), v6_range("fd00:99::2:", 1, 5), 1024, 1, 443, 1, 6,
                 IPPROTO_TCP, std::nullopt, 74, 0x02},
        FlowCase{"icmp6", "--family 6 --proto icmp --src fd00:99::3:1-fd00:99::3:3 --dst fd00:99::8:2 --size 90",
                 v6_range("fd00:99::3:", 1, 3), {"fd00:99::8:2"}, 0, 1, 0, 1, 6, IPPROTO_ICMPV6,
                 std::nullopt, 90}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(PktgenTest, KernelStackAcceptsTheDatagrams)
{
    XDPFW_NEED_LIVE_FRAMES();
    // Few enough for the socket's default receive buffer: a datagram from a
    // redirected XDP frame is charged a whole page, and the receiver reads
    // only after xdpfw-pktgen is done.
    constexpr size_t kFrames = 40;
    UdpReceiver rx4(rx, kRx4, 9100), rx6(rx, kRx6, 9100);
    const uint64_t err4 = udp_csum_errors(4), err6 = udp_csum_errors(6);
    auto j4 = pktgen_json(flow_args(fmt::format(
        "--src 10.99.8.10-10.99.8.19 --dst {} --sport 2000-2099 --dport 9100 --size 333 --count {}", kRx4,
        kFrames)));
    EXPECT_EQ(j4.value("packets", 0u), kFrames);
    EXPECT_EQ(rx4.receive(kFrames, 3s), kFrames);
    auto j6 = pktgen_json(flow_args(fmt::format(
        "--src fd00:99::8:10-fd00:99::8:1f --dst {} --sport 3000-3099 --dport 9100 --size 77 --count {}",
        kRx6, kFrames)));
    EXPECT_EQ(j6.value("packets", 0u), kFrames);
    EXPECT_EQ(rx6.receive(kFrames, 3s), kFrames);
    EXPECT_EQ(udp_csum_errors(4), err4);
    EXPECT_EQ(udp_csum_errors(6), err6);
}

TEST_F(PktgenTest, RateLimitIsRoughlyHeld)
{
    XDPFW_NEED_LIVE_FRAMES();
    // One frame per call below 1000 pps; bursts above. Full speed would take
    // a few ms for either, so the lower bounds are what shows the limit.
    const auto slow = pktgen_json(flow_args("--count 150 --rate 500"));
    EXPECT_EQ(slow.value("packets", 0u), 150u);
    EXPECT_GE(slow.value("seconds", 0.0), 0.25);
    EXPECT_LT(slow.value("seconds", 0.0), 3.0);
    EXPECT_LT(slow.value("pps", 0.0), 600.0);

    const auto burst = pktgen_json(flow_args("--count 20000 --rate 40000"));
    EXPECT_EQ(burst.value("packets", 0u), 20000u);
    EXPECT_GE(burst.value("seconds", 0.0), 0.4);
    EXPECT_LT(burst.value("seconds", 0.0), 5.0);
    EXPECT_LT(burst.value("pps", 0.0), 48000.0);
}

TEST_F(PktgenTest, DurationEndsOnTime)
{
    XDPFW_NEED_LIVE_FRAMES();
    const auto j = pktgen_json(flow_args("--duration 0.5 --rate 2000 --cpu 0 --batch 16"));
    EXPECT_GE(j.value("seconds", 0.0), 0.45);
    EXPECT_LT(j.value("seconds", 0.0), 2.0);
    EXPECT_GE(j.value("packets", 0u), 500u);
    EXPECT_LE(j.value("packets", 0u), 1100u);
}

TEST_F(PktgenTest, BadOptionsAreRefusedByName)
{
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"--count 1 --src 10.99.0.5-10.99.0.1", "--src 10.99.0.5-10.99.0.1: the range ends before it starts"},
        {"--count 1 --src 10.99.0.300", "is not an IPv4 or IPv6 address"},
        {"--count 1 --src 10.99.0.1/24", "host bits are set"},
        {"--count 1 --family 4 --dst fd00:99::1", "--dst fd00:99::1: not an IPv4 address"},
        {"--count 1 --family 6 --src fd00::/64", "more than 2^32 addresses"},
        {"--count 1 --sources 0", "--sources 0: between 1 and 2^32 addresses"},
        {"--count 1 --src 10.99.0.1-10.99.0.5 --sources 9", "--sources 9: the range 10.99.0.1 (+4 more)"},
        {"--count 1 --src 255.255.255.250 --sources 10", "--sources 10: runs past the last address"},
        {"--count 1 --proto icmp --dport 5", "ICMP has no ports"},
        {"--count 1 --proto sctp", "--proto sctp: not one of udp, tcp, icmp"},
        {"--count 1 --tcp-flags SYN", "--tcp-flags: the protocol is udp, not tcp"},
        {"--count 1 --proto tcp --tcp-flags SYN,BOGUS", "'bogus' is not a TCP flag"},
        {"--count 1 --sport 70000", "--sport 70000: '70000' is not a port"},
        {"--count 1 --dport 9-3", "--dport 9-3: the range ends before it starts"},
        {"--count 1 --vlan 4096", "--vlan 4096: VLAN ids are 0..4095"},
        {"--count 1 --size 30", "--size 30: a udp/IPv4 frame needs at least 42 bytes"},
        {"--count 1 --size 1600", "--size 1600: at most 1514 bytes"},
        {"--count 1 --dst-mac 02:00:zz:00:00:01", "--dst-mac 02:00:zz:00:00:01: not a MAC address"},
        {"--count 1 --batch 300", "--batch 300: must be 1..256"},
        {"--count 1 --cpu 4096", "--cpu 4096"},
        {"--count 0", "--count 0: send at least one frame"},
        {"--duration 0", "--duration 0: must be more than 0 seconds"},
        {"", "give --count N or --duration SECONDS"},
        {"--count 5 --duration 1", "excludes"},
    };
    for (const auto& [args, want] : cases) {
        const CmdResult r = pktgen(args);
        EXPECT_NE(r.status, 0) << args;
        EXPECT_NE(r.output.find(want), std::string::npos) << args << "\n" << r.output;
        EXPECT_EQ(r.output.find("sent "), std::string::npos) << args << "\n" << r.output;
    }
    const CmdResult nodev = run_in(tx, pktgen_binary() + " --dev veth9 --count 1 2>&1");
    EXPECT_EQ(nodev.status, 2);
    EXPECT_NE(nodev.output.find("--dev veth9: no such interface"), std::string::npos) << nodev.output;
    run_in_checked(tx, "ip link set dev pgtx0 down");
    const CmdResult down = pktgen("--count 1");
    EXPECT_NE(down.output.find("--dev pgtx0: interface is down"), std::string::npos) << down.output;
}

TEST(PktgenScript, RefusesWithoutTheKernelModule)
{
    const CmdResult r = run("PKTGEN_PROC=/nonexistent/pktgen " + pktgen_script() +
                            " --dev eth0 --dst 10.99.0.1 --count 10 2>&1");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("kernel pktgen module not available; use xdpfw-pktgen"), std::string::npos)
        << r.output;
}

TEST(PktgenScript, DryRunMapsFlowOptionsOntoPgset)
{
    const CmdResult r = run(pktgen_script() +
                            " --dry-run --dev eth0 --dst-mac 02:00:00:00:00:02 --src 10.99.0.1-10.99.0.9 "
                            "--dst 10.99.1.1 --sport 1000-1009 --dport 53 --vlan 5 --size 128 "
                            "--count 1000 --rate 1000 --threads 2 2>&1");
    ASSERT_EQ(r.status, 0) << r.output;
    for (const char* want : {"kpktgend_0: add_device eth0@0", "kpktgend_1: add_device eth0@1",
                             "eth0@0: src_min 10.99.0.1", "eth0@0: src_max 10.99.0.9",
                             "eth0@0: dst_min 10.99.1.1", "eth0@0: dst_max 10.99.1.1",
                             "eth0@0: udp_src_min 1000", "eth0@0: udp_src_max 1009",
                             "eth0@0: udp_dst_min 53", "eth0@0: vlan_id 5", "eth0@0: pkt_size 128",
                             "eth0@0: count 500", "eth0@0: delay 2000000", "eth0@0: dst_mac 02:00:00:00:00:02",
                             "eth0@1: count 500", "pgctrl: start"})
        EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
    const CmdResult bad = run(pktgen_script() + " --dry-run --dev eth0 --proto tcp --count 1 2>&1");
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.output.find("--proto tcp"), std::string::npos) << bad.output;
}

// ctest -L bench runs this alone (pktgen_smoke): a few frames end to end.
class PktgenSmoke : public PktgenTest {};

TEST_F(PktgenSmoke, SendsAFewFrames)
{
    XDPFW_NEED_LIVE_FRAMES();
    FrameCapture cap(rx, link.ifindex_b());
    const auto j = pktgen_json(flow_args("--count 5 --src 10.99.8.10-10.99.8.11"));
    EXPECT_EQ(j.value("packets", 0u), 5u);
    const auto frames = cap.receive(5, 1000ms);
    ASSERT_EQ(frames.size(), 5u);
    for (const auto& f : frames)
        EXPECT_EQ(parse(f).error, "");
    const CmdResult text = pktgen(flow_args("--count 3"));
    EXPECT_TRUE(text.ok()) << text.output;
    EXPECT_NE(text.output.find("sent 3 packets in"), std::string::npos) << text.output;
}

} // namespace
} // namespace xdpfw::test
