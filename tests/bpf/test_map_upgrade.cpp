// SPDX-License-Identifier: GPL-2.0-only
// MapUpgrade carries the rule counters to the new maps: shared by pin when
// the layout is this build's, else copied, also from the per-CPU
// xdpfw_rule_stats of builds before xdpfw_rule_counters.
#include "lib/kernel/loader.hpp"
#include "lib/kernel/map_upgrade.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "testing/bpffs_dir.hpp"
#include "xdpfw_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace xdpfw {
namespace {

class MapUpgradeCounters : public test::BpffsDirTest {
protected:
    MapUpgradeCounters() : BpffsDirTest("upgrade") {}

    LoadOptions options(uint32_t max_rules) const
    {
        LoadOptions o = small_load_options();
        o.caps.max_rules = max_rules;
        o.pin_dir = dir();
        return o;
    }
    std::string dir() const { return root + "/maps"; }

    // The new object, as the daemon loads it: on the carried pins, else
    // (they do not fit) on fresh maps.
    static XdpfwObject load_new(MapUpgrade& u, const LoadOptions& o)
    {
        try {
            return XdpfwObject::load(o);
        } catch (const BpfError&) {
            u.unlink_carried();
            return XdpfwObject::load(o);
        }
    }

    static int ncpus() { return libbpf_num_possible_cpus(); }

    // Counts rule id's packets on every CPU of the object's map: cpu + 1
    // packets of 100 bytes on CPU cpu. Returns the sum.
    static xdpfw_counter count_on_every_cpu(const XdpfwObject& obj, uint32_t id)
    {
        const bpf_map* m = obj.skel()->maps.xdpfw_rule_counters;
        std::vector<xdpfw_counter> value(bpf_map__value_size(m) / sizeof(xdpfw_counter));
        xdpfw_counter sum{};
        for (uint32_t cpu = 0; cpu < bpf_map__max_entries(m); cpu++) {
            EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(m), &cpu, value.data()), 0);
            value.at(id) = {cpu + 1, 100ull * (cpu + 1)};
            EXPECT_EQ(bpf_map_update_elem(bpf_map__fd(m), &cpu, value.data(), BPF_ANY), 0);
            sum.packets += cpu + 1;
            sum.bytes += 100ull * (cpu + 1);
        }
        return sum;
    }

    static bool shares(const MapUpgrade& u, const XdpfwObject& obj, const char* name)
    {
        const auto s = u.shared_maps(obj);
        return std::find(s.begin(), s.end(), name) != s.end();
    }
};

TEST_F(MapUpgradeCounters, SameLayoutIsSharedNotCopied)
{
    xdpfw_counter want{};
    {
        XdpfwObject old = XdpfwObject::load(options(64));
        EXPECT_EQ(bpf_map__max_entries(old.skel()->maps.xdpfw_rule_counters), uint32_t(ncpus()));
        want = count_on_every_cpu(old, 5);
        EXPECT_EQ(PolicyMaps(old).rule_counter(5).packets, want.packets);
    }
    MapUpgrade u = MapUpgrade::begin(dir());
    LoadOptions o = options(64);
    o.caps.max_v6_prefixes = 2048; // another layout, the same counters
    XdpfwObject obj = load_new(u, o);
    EXPECT_TRUE(shares(u, obj, "xdpfw_rule_counters"));
    EXPECT_EQ(u.copy_counters(obj, {5}), 0u) << "a shared map is not copied into itself";
    const xdpfw_counter got = PolicyMaps(obj).rule_counter(5);
    EXPECT_EQ(got.packets, want.packets);
    EXPECT_EQ(got.bytes, want.bytes);
    u.finish();
}

TEST_F(MapUpgradeCounters, OtherMaxRulesAreCopied)
{
    xdpfw_counter want{};
    {
        XdpfwObject old = XdpfwObject::load(options(64));
        want = count_on_every_cpu(old, 5);
        count_on_every_cpu(old, 40); // not a rule of the policy: left behind
    }
    MapUpgrade u = MapUpgrade::begin(dir());
    XdpfwObject obj = load_new(u, options(128));
    EXPECT_FALSE(shares(u, obj, "xdpfw_rule_counters"));
    EXPECT_EQ(u.copy_counters(obj, {5, 7}), 2u);
    PolicyMaps maps(obj);
    EXPECT_EQ(maps.rule_counter(5).packets, want.packets);
    EXPECT_EQ(maps.rule_counter(5).bytes, want.bytes);
    EXPECT_EQ(maps.rule_counter(7).packets, 0u);
    EXPECT_EQ(maps.rule_counter(40).packets, 0u);
    u.finish();
}

// The pins of a build before xdpfw_rule_counters: its rule counters are a
// per-CPU array xdpfw_rule_stats, one counter per rule id.
TEST_F(MapUpgradeCounters, PerCpuRuleStatsOfAnOlderBuildAreCopied)
{
    ASSERT_EQ(::mkdir(dir().c_str(), 0700), 0) << std::strerror(errno);
    {
        const UniqueFd old(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "xdpfw_rule_stats", 4,
                                          sizeof(xdpfw_counter), 64, nullptr));
        ASSERT_GE(old.get(), 0) << std::strerror(errno);
        std::vector<xdpfw_counter> per(ncpus());
        for (int cpu = 0; cpu < ncpus(); cpu++)
            per[cpu] = {uint64_t(cpu) + 3, 60ull * (cpu + 3)};
        const uint32_t id = 9;
        ASSERT_EQ(bpf_map_update_elem(old.get(), &id, per.data(), BPF_ANY), 0);
        ASSERT_EQ(bpf_obj_pin(old.get(), (dir() + "/xdpfw_rule_stats").c_str()), 0)
            << std::strerror(errno);
    }
    uint64_t packets = 0, bytes = 0;
    for (int cpu = 0; cpu < ncpus(); cpu++) {
        packets += cpu + 3;
        bytes += 60ull * (cpu + 3);
    }
    MapUpgrade u = MapUpgrade::begin(dir());
    XdpfwObject obj = load_new(u, options(64));
    EXPECT_EQ(u.copy_counters(obj, {9, 2}), 2u);
    PolicyMaps maps(obj);
    EXPECT_EQ(maps.rule_counter(9).packets, packets);
    EXPECT_EQ(maps.rule_counter(9).bytes, bytes);
    EXPECT_EQ(maps.rule_counter(2).packets, 0u);
    u.finish();
    EXPECT_FALSE(std::filesystem::exists(dir() + "-old"));
}

// The daemon reads what the program counted, on whichever CPU it ran, and
// a reset clears every CPU's count.
TEST_F(MapUpgradeCounters, ReadsSumTheCpusAndResetClearsThem)
{
    XdpfwObject obj = XdpfwObject::load(options(64));
    PolicyMaps maps(obj);
    const xdpfw_counter want = count_on_every_cpu(obj, 63);
    EXPECT_EQ(maps.rule_counter(63).packets, want.packets);
    EXPECT_EQ(maps.all_rule_counters().at(63).bytes, want.bytes);
    maps.reset_rule_counter(63);
    EXPECT_EQ(maps.rule_counter(63).packets, 0u);
    EXPECT_EQ(maps.rule_counter(63).bytes, 0u);
    EXPECT_THROW(maps.rule_counter(64), BpfError);
    EXPECT_THROW(maps.reset_rule_counter(64), BpfError);
}

} // namespace
} // namespace xdpfw
