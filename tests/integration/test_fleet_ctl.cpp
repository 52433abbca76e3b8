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
    EXPECT_EQ(live().sets.at("big").prefixes().size(), 50000u);

    r = ctl({"rule", "add", "priority=20", "proto=udp", "dport=53", "action=drop"});
    ASSERT_EQ(r.code, 0) << r.err;
    Policy p = live();
    ASSERT_EQ(p.rules.size(), 2u);
    EXPECT_EQ(p.rules[1].id, 2u);
    r = ctl({"set", "add", "big", "198.51.100.0/24", "192.0.2.1"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(live().sets.at("big").prefixes().size(), 50002u);
    r = ctl({"set", "del", "big", "198.51.100.0/24"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(live().sets.at("big").prefixes().size(), 50001u);
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

namespace xdpfw::test {
namespace {

// What a node does with its chunk cache (lib/fleet/publish.hpp): the first
// manifest reads every chunk; after a one-prefix change only the changed
// chunk is read, the rest come from the cache, and the policy is the same
// as one read without it.
TEST_F(FleetCtl, NodesReadOnlyNewChunks)
{
    std::string big = "sets:\n  big:\n";
    for (int i = 0; i < 50000; ++i)
        big += "    - 20." + std::to_string(i >> 8) + "." + std::to_string(i & 0xff) + ".0/24\n";
    big += "rules:\n  - priority=10 src=@big action=drop\n";
    ASSERT_EQ(ctl({"load", dir.write("p.yaml", big).string()}).code, 0);
    fleet::EtcdClient c(etcd.client_options());
    const fleet::FleetKeys keys{"/xdpfw/c"};
    fleet::ChunkCache cache;
    fleet::FleetPolicy first = fleet::open_policy(c, keys, *c.get(keys.policy()), &cache);
    EXPECT_EQ(first.chunks_reused, 0u);
    ASSERT_GE(first.chunks_read, 2u);
    EXPECT_EQ(cache.size(), first.chunks_read);
    // 198.51.100.0/24 sorts last: only the last chunk changes.
    ASSERT_EQ(ctl({"set", "add", "big", "198.51.100.0/24"}).code, 0);
    fleet::FleetPolicy next = fleet::open_policy(c, keys, *c.get(keys.policy()), &cache);
    EXPECT_EQ(next.chunks_read, 1u);
    EXPECT_EQ(next.chunks_reused, first.chunks_read - 1);
    EXPECT_EQ(next.policy, fleet::read_policy(c, keys)->policy);
    EXPECT_EQ(next.policy.sets.at("big").prefixes().size(), 50001u);
    EXPECT_EQ(cache.size(), first.chunks_read);
}

} // namespace
} // namespace xdpfw::test
