// SPDX-License-Identifier: GPL-2.0-only
// Connection tracking with a real daemon and real sockets (docs/RULES.md,
// ct=): under `default: drop` with established/related passed and new
// TCP/22 passed, the DUT's own TCP, UDP and ICMP flows (IPv4 and IPv6) get
// their replies (the tc egress program records them), the peer can open
// nothing but TCP/22, and after `ct flush` replies drop until the flow is
// opened again.
#include "testing/daemon_runner.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string kXdpfwd = std::string(XDPFW_BINARY_DIR) + "/bin/xdpfwd";

constexpr const char* kPolicy = R"(
default: drop
rules:
  - priority=1 ct=established,related action=pass
  - priority=10 ct=new proto=tcp dport=22 action=pass
)";

// addr:port as a sockaddr (IPv4 or IPv6 literal).
socklen_t sockaddr_of(const std::string& addr, uint16_t port, sockaddr_storage& ss)
{
    ss = {};
    if (addr.find(':') == std::string::npos) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        inet_pton(AF_INET, addr.c_str(), &s->sin_addr);
        return sizeof(*s);
    }
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    inet_pton(AF_INET6, addr.c_str(), &s->sin6_addr);
    return sizeof(*s);
}

int family_of(const std::string& addr)
{
    return addr.find(':') == std::string::npos ? AF_INET : AF_INET6;
}

bool readable(int fd, std::chrono::milliseconds wait)
{
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, int(wait.count())) == 1;
}

// A UDP socket in ns bound to addr:port.
int udp_socket(const lab::NetNs& ns, const std::string& addr, uint16_t port)
{
    const int fd = lab::socket_in(ns, family_of(addr), SOCK_DGRAM, 0);
    sockaddr_storage ss;
    const socklen_t len = sockaddr_of(addr, port, ss);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len))
        throw std::runtime_error("bind udp " + addr);
    return fd;
}

bool send_to(int fd, const std::string& addr, uint16_t port)
{
    sockaddr_storage ss;
    const socklen_t len = sockaddr_of(addr, port, ss);
    return sendto(fd, "ct", 2, 0, reinterpret_cast<sockaddr*>(&ss), len) == 2;
}

// Receives one datagram within wait; true if one came.
bool receive(int fd, std::chrono::milliseconds wait)
{
    char buf[64];
    return readable(fd, wait) && recv(fd, buf, sizeof(buf), 0) > 0;
}

// Echoes every datagram on addr:port in ns back to its sender.
class UdpEcho {
public:
    UdpEcho(const lab::NetNs& ns, const std::string& addr, uint16_t port)
        : fd_(udp_socket(ns, addr, port)), thread_([this] { loop(); })
    {
    }
    ~UdpEcho()
    {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    int fd() const { return fd_; }

private:
    void loop()
    {
        while (!stop_) {
            if (!readable(fd_, 50ms))
                continue;
            char buf[64];
            sockaddr_storage from{};
            socklen_t len = sizeof(from);
            const ssize_t n = recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
            if (n > 0)
                sendto(fd_, buf, size_t(n), 0, reinterpret_cast<sockaddr*>(&from), len);
        }
    }
    int fd_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// A connected TCP pair: client in `from`, the accepted end in `to`.
struct TcpPair {
    int client = -1, server = -1, listener = -1;
    ~TcpPair()
    {
        for (int fd : {client, server, listener})
            if (fd >= 0)
                close(fd);
    }
};

std::unique_ptr<TcpPair> tcp_pair(const lab::NetNs& from, const lab::NetNs& to,
                                  const std::string& to_addr, uint16_t port)
{
    auto p = std::make_unique<TcpPair>();
    p->listener = lab::socket_in(to, family_of(to_addr), SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(p->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_storage ss;
    const socklen_t len = sockaddr_of(to_addr, port, ss);
    if (bind(p->listener, reinterpret_cast<sockaddr*>(&ss), len) || listen(p->listener, 4))
        throw std::runtime_error("listen " + to_addr);
    p->client = lab::socket_in(from, family_of(to_addr), SOCK_STREAM, 0);
    timeval tv{3, 0};
    setsockopt(p->client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(p->client, reinterpret_cast<sockaddr*>(&ss), len))
        return nullptr;
    if (!readable(p->listener, 3s))
        return nullptr;
    p->server = accept(p->listener, nullptr, nullptr);
    return p->server >= 0 ? std::move(p) : nullptr;
}

// Sends a few bytes from one end; true when the other end reads them in wait.
bool tcp_bytes(int from, int to, std::chrono::milliseconds wait)
{
    if (send(from, "data", 4, MSG_NOSIGNAL) != 4)
        return false;
    char buf[16];
    return readable(to, wait) && recv(to, buf, sizeof(buf), 0) > 0;
}

class DaemonCt : public ::testing::Test {
protected:
    void SetUp() override
    {
        lab_ = std::make_unique<DaemonLab>(kXdpfwd, std::vector<std::string>{"--ct-max-flows", "65536"});
        const std::string path = lab_->daemon.dir() + "/ct.yaml";
        std::ofstream(path) << kPolicy;
        const CtlResult r = lab_->daemon.ctl({"load", path});
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }
    void TearDown() override
    {
        if (HasFailure() && lab_)
            std::cerr << "---- xdpfwd log\n" << lab_->daemon.log() << "----\n";
        lab_.reset();
    }
    json ct_stats() { return lab_->daemon.checked({{"cmd", "stats"}}).at("ct"); }
    void flush()
    {
        const CtlResult r = lab_->daemon.ctl({"ct", "flush"});
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    std::unique_ptr<DaemonLab> lab_;
};

TEST_F(DaemonCt, OwnFlowsGetRepliesThePeerOpensOnlyTcp22)
{
    const lab::NetNs& dut = lab_->dut;
    const lab::NetNs& peer = lab_->peer;
    for (const auto& [d, p] : {std::pair{DaemonLab::dut4, DaemonLab::peer4},
                               std::pair{DaemonLab::dut6, DaemonLab::peer6}}) {
        SCOPED_TRACE(p);
        // The DUT's own flows: TCP (with data both ways), UDP, ICMP echo.
        auto out = tcp_pair(dut, peer, p, 5001);
        ASSERT_NE(out, nullptr) << "TCP connect from the DUT failed";
        EXPECT_TRUE(tcp_bytes(out->server, out->client, 2s));
        EXPECT_TRUE(tcp_bytes(out->client, out->server, 2s));
        UdpEcho echo(peer, p, 5353);
        const int u = udp_socket(dut, d, 0);
        for (int i = 0; i < 3; i++) {
            ASSERT_TRUE(send_to(u, p, 5353));
            EXPECT_TRUE(receive(u, 2s)) << "UDP reply " << i;
        }
        close(u);
        EXPECT_EQ(lab::ping(dut, p, 3), 3);

        // The peer: TCP/22 only.
        lab::TcpListener ssh(dut, d, 22), web(dut, d, 8080);
        EXPECT_EQ(lab::tcp_connect(peer, d, 22, 2s), lab::TcpOutcome::connected);
        EXPECT_EQ(lab::tcp_connect(peer, d, 8080, 1500ms), lab::TcpOutcome::timed_out);
        lab::UdpReceiver rx(dut, d, 6000);
        lab::send_udp(peer, d, 6000, 5);
        EXPECT_EQ(rx.receive(5, 1s), 0u);
        EXPECT_EQ(lab::ping(peer, d, 2), 0);
    }
    const json ct = ct_stats();
    EXPECT_TRUE(ct.at("table").get<bool>());
    EXPECT_EQ(ct.at("max_flows").get<uint64_t>(), 65536u);
    EXPECT_GE(ct.at("insertions").get<uint64_t>(), 8u);
    EXPECT_GT(ct.at("lookups").get<uint64_t>(), 20u);
    const json list = lab_->daemon.checked({{"cmd", "ct.list"}});
    EXPECT_GE(list.at("flows").size(), 4u) << list.dump();
    const CtlResult human = lab_->daemon.ctl({"ct", "list"});
    EXPECT_EQ(human.code, 0);
    EXPECT_NE(human.out.find("udp"), std::string::npos) << human.out;
    EXPECT_NE(human.out.find("tcp"), std::string::npos) << human.out;
}

TEST_F(DaemonCt, AfterFlushRepliesDropUntilTheFlowReopens)
{
    const lab::NetNs& dut = lab_->dut;
    const lab::NetNs& peer = lab_->peer;
    auto tcp = tcp_pair(dut, peer, DaemonLab::peer4, 5002);
    ASSERT_NE(tcp, nullptr);
    ASSERT_TRUE(tcp_bytes(tcp->server, tcp->client, 2s));
    UdpEcho echo(peer, DaemonLab::peer4, 5354);
    const int u = udp_socket(dut, DaemonLab::dut4, 0);
    ASSERT_TRUE(send_to(u, DaemonLab::peer4, 5354));
    ASSERT_TRUE(receive(u, 2s));

    ASSERT_NO_FATAL_FAILURE(flush());
    EXPECT_EQ(ct_stats().at("flushes").get<uint64_t>(), 1u);
    // The peer's side of both flows is now a stranger's: dropped.
    EXPECT_FALSE(tcp_bytes(tcp->server, tcp->client, 1500ms));
    sockaddr_storage ss;
    sockaddr_in mine{};
    socklen_t len = sizeof(mine);
    getsockname(u, reinterpret_cast<sockaddr*>(&mine), &len);
    const socklen_t to = sockaddr_of(DaemonLab::dut4, ntohs(mine.sin_port), ss);
    ASSERT_EQ(sendto(echo.fd(), "x", 1, 0, reinterpret_cast<sockaddr*>(&ss), to), 1);
    EXPECT_FALSE(receive(u, 1s));
    // Opened again: a datagram from the DUT, a new TCP connection.
    ASSERT_TRUE(send_to(u, DaemonLab::peer4, 5354));
    EXPECT_TRUE(receive(u, 2s));
    close(u);
    auto again = tcp_pair(dut, peer, DaemonLab::peer4, 5003);
    ASSERT_NE(again, nullptr);
    EXPECT_TRUE(tcp_bytes(again->server, again->client, 2s));
}

// An ethtool flag of a veth end: GRO on (it then takes frames
// XDP-redirected to it without an XDP program of its own), TX checksum
// offload off (a redirected frame must carry a finished checksum).
void set_ethtool(const lab::NetNs& ns, const std::string& ifname, uint32_t cmd, uint32_t value)
{
    const int fd = lab::socket_in(ns, AF_INET, SOCK_DGRAM, 0);
    ethtool_value ev{};
    ev.cmd = cmd;
    ev.data = value;
    ifreq req{};
    std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    req.ifr_data = reinterpret_cast<char*>(&ev);
    const int rc = ioctl(fd, SIOCETHTOOL, &req);
    close(fd);
    if (rc != 0)
        throw std::runtime_error("ethtool command on " + ifname);
}

// Inline two-port mode: client -- fwa [xdpfw] fwb -- server, xdpfw
// redirecting between its ports like a bridge. The client reaches the
// server; the server reaches the client only through flows the client
// opened.
TEST(DaemonCtInline, ClientReachesServerOnlyThroughItsOwnFlows)
{
    const char* client4 = "10.99.7.1";
    const char* server4 = "10.99.7.2";
    lab::NetNs client, fw, server;
    lab::VethPair left({&client, "client0", client4, ""}, {&fw, "fwa", "", ""});
    lab::VethPair right({&fw, "fwb", "", ""}, {&server, "server0", server4, ""});
    // Addresses of one /24 across the box: each end knows the other's MAC.
    lab::run_in_checked(client, fmt::format("ip neigh replace {} lladdr {} dev client0 nud permanent",
                                            server4, right.mac_b()));
    lab::run_in_checked(server, fmt::format("ip neigh replace {} lladdr {} dev server0 nud permanent",
                                            client4, left.mac_a()));
    for (const auto& [ns, dev] : {std::pair{&client, "client0"}, std::pair{&server, "server0"}}) {
        set_ethtool(*ns, dev, ETHTOOL_SGRO, 1);
        set_ethtool(*ns, dev, ETHTOOL_STXCSUM, 0);
    }
    DaemonOptions o;
    o.xdpfwd = kXdpfwd;
    o.ns = &fw;
    o.interfaces = {"fwa", "fwb"};
    o.extra_args = {"--ct-max-flows", "65536"};
    DaemonProcess d(o);
    // The box forwards at all: a plain two-way redirect first.
    const std::string plain = d.dir() + "/plain.yaml";
    std::ofstream(plain) << "default: drop\nrules:\n  - priority=1 iif=fwb action=redirect:fwa\n"
                            "  - priority=2 iif=fwa action=redirect:fwb\n";
    ASSERT_EQ(d.ctl({"load", plain}).code, 0);
    ASSERT_EQ(lab::ping(client, server4, 2), 2) << "the inline lab does not forward";
    const std::string path = d.dir() + "/inline.yaml";
    std::ofstream(path) << R"(
default: drop
rules:
  - priority=1 iif=fwb ct=established,related action=redirect:fwa
  - priority=2 iif=fwa action=redirect:fwb
)";
    const CtlResult r = d.ctl({"load", path});
    ASSERT_EQ(r.code, 0) << r.out << r.err;

    auto tcp = tcp_pair(client, server, server4, 8000);
    ASSERT_NE(tcp, nullptr) << d.log();
    EXPECT_TRUE(tcp_bytes(tcp->server, tcp->client, 2s));
    UdpEcho echo(server, server4, 5355);
    const int u = udp_socket(client, client4, 0);
    ASSERT_TRUE(send_to(u, server4, 5355));
    EXPECT_TRUE(receive(u, 2s));
    close(u);
    EXPECT_EQ(lab::ping(client, server4, 2), 2);
    // The server opens nothing towards the client.
    lab::TcpListener web(client, client4, 8080);
    EXPECT_EQ(lab::tcp_connect(server, client4, 8080, 1500ms), lab::TcpOutcome::timed_out);
    lab::UdpReceiver rx(client, client4, 6001);
    lab::send_udp(server, client4, 6001, 5);
    EXPECT_EQ(rx.receive(5, 1s), 0u);
    EXPECT_EQ(lab::ping(server, client4, 2), 0);
}

} // namespace
} // namespace xdpfw::test
