// SPDX-License-Identifier: GPL-2.0-only
// The test topology support on its own: namespaces, a veth pair, real UDP,
// TCP and ICMP traffic across it, and cleanup.
#include "testing/netns.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <net/if.h>
#include <unistd.h>

namespace xdpfw::test {
namespace {

using namespace std::chrono_literals;

bool ns_listed(const std::string& name)
{
    return run("ip netns list").output.find(name) != std::string::npos;
}

TEST(NetnsSupport, TrafficCrossesVethPair)
{
    NetNs a, b;
    VethPair veth({&a, "xa0", "10.99.1.1", "fd00:99::1"}, {&b, "xb0", "10.99.1.2", "fd00:99::2"});
    EXPECT_GT(veth.ifindex_a(), 0);
    EXPECT_GT(veth.ifindex_b(), 0);
    // Interfaces exist only inside the namespaces.
    EXPECT_FALSE(run("ip link show xa0").ok());

    EXPECT_EQ(ping(b, "10.99.1.1", 2), 2);
    EXPECT_EQ(ping(b, "fd00:99::1", 2), 2);

    UdpReceiver rx4(a, "10.99.1.1", 4000);
    UdpReceiver rx6(a, "fd00:99::1", 4000);
    EXPECT_EQ(send_udp(b, "10.99.1.1", 4000, 5), 5u);
    EXPECT_EQ(send_udp(b, "fd00:99::1", 4000, 5), 5u);
    EXPECT_EQ(rx4.receive(5, 1s), 5u);
    EXPECT_EQ(rx6.receive(5, 1s), 5u);
    EXPECT_EQ(rx4.receive(1, 50ms), 0u); // nothing extra

    // The frame counter on the receiving interface sees the same datagrams.
    UdpFrameCounter frames(a, "xa0", 4001);
    send_udp(b, "fd00:99::1", 4001, 3);
    EXPECT_EQ(frames.receive(3, 1s), 3u);

    TcpListener listener(a, "fd00:99::1", 5000);
    EXPECT_EQ(tcp_connect(b, "fd00:99::1", 5000, 1s), TcpOutcome::connected);
    EXPECT_EQ(tcp_connect(b, "10.99.1.1", 5001, 1s), TcpOutcome::refused);
    EXPECT_EQ(listener.accept_pending(), 1u);
}

TEST(NetnsSupport, NamespacesAreDeletedWithTheirOwner)
{
    std::string name;
    {
        NetNs ns;
        name = ns.name();
        EXPECT_EQ(name.rfind("xdpfwt-" + std::to_string(getpid()) + "-", 0), 0u) << name;
        EXPECT_TRUE(ns_listed(name));
        auto live = live_namespaces();
        EXPECT_NE(std::find(live.begin(), live.end(), ns.path()), live.end());
        EXPECT_TRUE(run_in(ns, "ip link show lo | grep -q UP").ok());
    }
    EXPECT_FALSE(ns_listed(name));
    EXPECT_TRUE(live_namespaces().empty());
}

TEST(NetnsSupport, EnterNetnsSwitchesTheThreadOnly)
{
    NetNs a, b;
    VethPair veth({&a, "xa0", "10.99.1.1", ""}, {&b, "xb0", "10.99.1.2", ""});
    EXPECT_EQ(ifindex_in(a, "xa0"), veth.ifindex_a());
    {
        EnterNetns in(a);
        EXPECT_TRUE(if_nametoindex("xa0") > 0);
    }
    EXPECT_EQ(if_nametoindex("xa0"), 0u);
}

TEST(NetnsSupport, RefusesAddressesOutsideTheTestRanges)
{
    NetNs a, b;
    EXPECT_THROW(VethPair({&a, "xa0", "192.168.1.1", ""}, {&b, "xb0", "10.99.1.2", ""}),
                 std::invalid_argument);
    EXPECT_THROW(send_udp(a, "192.0.2.1", 53, 1), std::invalid_argument);
    EXPECT_THROW(send_udp(a, "2001:db8::1", 53, 1), std::invalid_argument);
    EXPECT_THROW(send_udp(a, "not-an-address", 53, 1), std::invalid_argument);
    EXPECT_THROW(VethPair({&a, "a-name-that-is-too-long", "", ""}, {&b, "xb0", "", ""}),
                 std::invalid_argument);
}

} // namespace
} // namespace xdpfw::test
