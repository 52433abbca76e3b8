// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd's capability check: names, what each configuration needs, and the
// error that names every missing capability with its reason.
#include "apps/xdpfwd/capabilities.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace xdpfw {
namespace {

uint64_t bits(std::initializer_list<int> caps)
{
    uint64_t b = 0;
    for (int c : caps)
        b |= uint64_t{1} << c;
    return b;
}

std::string message(const DaemonConfig& c, const ProcessPrivileges& p)
{
    return missing_capabilities_message(missing_capabilities(c, p));
}

TEST(Capabilities, Names)
{
    EXPECT_EQ(capability_name(CAP_SYS_ADMIN), "CAP_SYS_ADMIN");
    EXPECT_EQ(capability_name(CAP_NET_ADMIN), "CAP_NET_ADMIN");
    EXPECT_EQ(capability_name(CAP_NET_RAW), "CAP_NET_RAW");
    EXPECT_EQ(capability_name(CAP_BPF), "CAP_BPF");
    EXPECT_EQ(capability_name(CAP_PERFMON), "CAP_PERFMON");
    EXPECT_EQ(capability_name(CAP_IPC_LOCK), "CAP_IPC_LOCK");
    EXPECT_EQ(capability_name(CAP_CHOWN), "CAP_CHOWN");
    EXPECT_EQ(capability_name(CAP_NET_BIND_SERVICE), "CAP_NET_BIND_SERVICE");
    EXPECT_EQ(capability_name(63), "CAP_63");
}

TEST(Capabilities, MinimalSetIsEnoughWithoutOptionalFeatures)
{
    DaemonConfig c;
    ProcessPrivileges p{bits({CAP_SYS_ADMIN, CAP_NET_ADMIN}), false};
    EXPECT_TRUE(missing_capabilities(c, p).empty());
    EXPECT_EQ(message(c, p), "");
}

TEST(Capabilities, NamesEachMissingOneWithItsReason)
{
    DaemonConfig c;
    ProcessPrivileges p{bits({CAP_BPF, CAP_PERFMON}), false};
    const std::string m = message(c, p);
    EXPECT_EQ(m.rfind("xdpfwd: missing capabilities: CAP_SYS_ADMIN (", 0), 0u) << m;
    EXPECT_NE(m.find("BPF_MAP_GET_FD_BY_ID"), std::string::npos) << m;
    EXPECT_NE(m.find("CAP_BPF and CAP_PERFMON are not enough"), std::string::npos) << m;
    EXPECT_NE(m.find(", CAP_NET_ADMIN (attaching the XDP program to the interfaces)"),
              std::string::npos)
        << m;
}

TEST(Capabilities, AfXdpNeedsNetRawAndLockedMemory)
{
    DaemonConfig c;
    c.xsk_enabled = true;
    ProcessPrivileges limited{bits({CAP_SYS_ADMIN, CAP_NET_ADMIN}), false};
    EXPECT_EQ(message(c, limited),
              "xdpfwd: missing capabilities: CAP_NET_RAW (AF_XDP sockets, needed with --xsk), "
              "CAP_IPC_LOCK (the AF_XDP UMEM with --xsk, charged to RLIMIT_MEMLOCK without it; "
              "or set the limit to unlimited)");
    // An unlimited RLIMIT_MEMLOCK (LimitMEMLOCK=infinity) replaces CAP_IPC_LOCK.
    ProcessPrivileges unlimited{bits({CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW}), true};
    EXPECT_TRUE(missing_capabilities(c, unlimited).empty());
    // Without the engine neither is needed.
    c.xsk_enabled = false;
    EXPECT_TRUE(missing_capabilities(c, limited).empty());
}

TEST(Capabilities, SocketGroupOutsideOurGroupsNeedsChown)
{
    DaemonConfig c;
    ProcessPrivileges p{bits({CAP_SYS_ADMIN, CAP_NET_ADMIN}), true};
    c.socket_group = "4242424"; // no process is in this group
    const auto missing = missing_capabilities(c, p);
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0].cap, CAP_CHOWN);
    EXPECT_NE(missing[0].why.find("4242424"), std::string::npos);
    c.socket_group = std::to_string(::getegid()); // our own group: plain chown works
    EXPECT_TRUE(missing_capabilities(c, p).empty());
}

TEST(Capabilities, PrivilegedMetricsPortNeedsBindService)
{
    DaemonConfig c;
    ProcessPrivileges p{bits({CAP_SYS_ADMIN, CAP_NET_ADMIN}), true};
    c.metrics = metrics::ListenAddress{};
    c.metrics->port = 9469;
    EXPECT_TRUE(missing_capabilities(c, p).empty());
    c.metrics->port = 80;
    const auto missing = missing_capabilities(c, p);
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0].cap, CAP_NET_BIND_SERVICE);
}

TEST(Capabilities, CurrentReadsTheEffectiveSet)
{
    // Whatever runs the unit tier: the bits agree with /proc/self/status.
    const ProcessPrivileges p = ProcessPrivileges::current();
    std::ifstream in("/proc/self/status");
    std::string line;
    bool seen = false;
    while (std::getline(in, line)) {
        if (line.rfind("CapEff:", 0) == 0) {
            EXPECT_EQ(p.effective, std::stoull(line.substr(7), nullptr, 16)) << line;
            seen = true;
        }
    }
    EXPECT_TRUE(seen);
}

} // namespace
} // namespace xdpfw
