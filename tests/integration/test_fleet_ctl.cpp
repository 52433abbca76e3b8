// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl --etcd without nodes: load, rule and set changes land in etcd as
// whole policies (read back with lib/fleet), bad input never does, and an
// unchanged set's chunks are not written again.
#include "lib/fleet/publish.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/etcd_server.hpp"
#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>

namespace xdpfw::test {
namespace {

class FleetCtl : public ::testing::Test {
protected:
    CtlResult ctl(std::vector<std::string> args)
    {
        std::vector<std::string> all = {"--etcd", etcd.url(), "--etcd-prefix", "/xdpfw/c"};
        all.insert(all.end(), args.begin(), args.end());
        return run_ctl(all);
    }
    Policy live()
    {
        fleet::EtcdClient c(etcd.client_options());
        auto p = fleet::read_policy(c, {"/xdpfw/c"});
        return p ? p->policy : Policy{};
    }
    EtcdServer etcd;
    TempDir dir{"xdpfw-fctl"};
};

TEST_F(FleetCtl, ChangesArePushedWhole)
{
    std::string big = "sets:\n  big:\n";
    for (int i = 0; i < 50000; ++i)
        big += "    - 20." + std::to_string(i >> 8) + "." + std::to_string(i & 0xff) + ".0/24\n";
    big += "rules:\n  - priority=10 src=@big action=drop\n";
    CtlResult r = ctl({"load", dir.write("p.yaml", big).string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_GE(r.json()["chunks_written"].get<size_t>(), 2u);
    EXPECT_EQ(live().sets.at("big").prefixes.size(), 50000u);

    r = ctl({"rule", "add", "priority=20", "proto=udp", "dport=53", "action=drop"});
    ASSERT_EQ(r.code, 0) << r.err;
    Policy p = live();
    ASSERT_EQ(p.rules.size(), 2u);
    EXPECT_EQ(p.rules[1].id, 2u);
    r = ctl({"set", "add", "big", "198.51.100.0/24", "192.0.2.1"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(live().sets.at("big").prefixes.size(), 50002u);
    r = ctl({"set", "del", "big", "198.51.100.0/24"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(live().sets.at("big").prefixes.size(), 50001u);
    r = ctl({"rule", "del", "1"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(live().rules.size(), 1u);

    // The set changed: only its changed chunk is new.
    r = ctl({"load", dir.write("p.yaml", big).string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.json()["chunks_written"], 1);
    // The same load again: every chunk is already there.
    r = ctl({"load", dir.write("p.yaml", big).string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.json()["chunks_written"], 0);
    // Nothing bad reaches etcd.
    const Policy before = live();
    EXPECT_EQ(ctl({"rule", "add", "proto=nope"}).code, 1);
    EXPECT_EQ(ctl({"rule", "del", "99"}).code, 1);
    EXPECT_EQ(ctl({"set", "add", "big", "300.1.1.1"}).code, 1);
    EXPECT_EQ(ctl({"load", dir.write("bad.yaml", "rules:\n  - src=@nope action=drop\n").string()}).code, 1);
    EXPECT_EQ(live(), before);
    // etcd gone: exit 2.
    etcd.kill();
    EXPECT_EQ(ctl({"fleet", "status"}).code, 2);
}

} // namespace
} // namespace xdpfw::test
