// SPDX-License-Identifier: GPL-2.0-only
// Stage stops (LoadOptions::stop_after, bench/stages): the production program
// is exactly the program without them, and each stop returns XDP_DROP after
// its stage; the walk's stop leaves the rule counters alone.
#include "lib/compiler/compiler.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "testing/policy_text.hpp"
#include "xdpfw_bpf.skel.h"
#include "xdpfw_reference_bpf.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

namespace xdpfw {
namespace {

struct ProgShape {
    uint32_t xlated_len = 0;
    std::string tag;
};

ProgShape shape_of(int prog_fd)
{
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    EXPECT_EQ(bpf_obj_get_info_by_fd(prog_fd, &info, &len), 0);
    ProgShape s;
    s.xlated_len = info.xlated_prog_len;
    s.tag.assign(reinterpret_cast<const char*>(info.tag), sizeof(info.tag));
    return s;
}

int run(int prog_fd, const std::vector<uint8_t>& frame)
{
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
    EXPECT_EQ(bpf_prog_test_run_opts(prog_fd, &o), 0);
    return static_cast<int>(o.retval);
}

// The verifier does not make a rodata knob free (it keeps the knob's load and
// a branch whose target other paths reach), so the production build must not
// contain the stops at all: the program loaded without stop_after is the one
// built with xdpfw_stop_after() defined as 0, instruction for instruction.
TEST(StageStops, ProductionProgramIsTheOneWithoutStops)
{
    const XdpfwObject obj = XdpfwObject::load(small_load_options());
    std::unique_ptr<xdpfw_reference_bpf, void (*)(xdpfw_reference_bpf*)> ref(
        xdpfw_reference_bpf__open(), xdpfw_reference_bpf__destroy);
    ASSERT_TRUE(ref);
    static_assert(sizeof(*ref->rodata) == sizeof(*obj.skel()->rodata));
    std::memcpy(ref->rodata, obj.skel()->rodata, sizeof(*ref->rodata));
    share_maps(ref->obj, obj.skel());
    ASSERT_EQ(xdpfw_reference_bpf__load(ref.get()), 0);

    const ProgShape prod = shape_of(obj.prog_fd());
    const ProgShape want = shape_of(bpf_program__fd(ref->progs.xdpfw_main));
    EXPECT_GT(prod.xlated_len, 0u);
    EXPECT_EQ(prod.xlated_len, want.xlated_len);
    EXPECT_EQ(prod.tag, want.tag);
}

TEST(StageStops, EachStopDropsAfterItsStage)
{
    const Policy p = test::make_policy({"proto=udp dport=9999 action=pass"}, ActionType::pass);
    const auto frame = build_frame(test::frame("198.18.0.1", "10.0.0.2", 17, 1000, 9999));
    uint32_t last_len = 0;
    for (uint32_t stop = XDPFW_STAGE_CONTROL; stop < XDPFW_STAGE_COUNT; stop++) {
        SCOPED_TRACE(stop);
        LoadOptions lo = small_load_options();
        lo.stop_after = stop;
        const XdpfwObject obj = XdpfwObject::load(lo);
        PolicyMaps maps(obj);
        const CompiledPolicy c = compile(p, CompileOptions{.caps = lo.caps});
        maps.commit(c, 1);
        EXPECT_EQ(run(obj.prog_fd(), frame), XDP_DROP);
        // The walk finds the rule but, like every earlier stop, counts nothing.
        EXPECT_EQ(maps.rule_counter(c.rules.at(0).counter_slot).packets, 0u);
        const uint32_t len = shape_of(obj.prog_fd()).xlated_len;
        EXPECT_GT(len, last_len) << "a later stop runs more of the program";
        last_len = len;
    }
    const XdpfwObject full = XdpfwObject::load(small_load_options());
    PolicyMaps maps(full);
    const CompiledPolicy c = compile(p, CompileOptions{.caps = full.options().caps});
    maps.commit(c, 1);
    EXPECT_EQ(run(full.prog_fd(), frame), XDP_PASS);
    EXPECT_EQ(maps.rule_counter(c.rules.at(0).counter_slot).packets, 1u);
}

TEST(StageStops, NoStageBeyondTheLast)
{
    LoadOptions lo = small_load_options();
    lo.stop_after = XDPFW_STAGE_COUNT;
    EXPECT_THROW(XdpfwObject::load(lo), BpfError);
}

} // namespace
} // namespace xdpfw
