// SPDX-License-Identifier: GPL-2.0-only
// A program pinned by an earlier daemon stands in for this build's only when
// every map it uses is one of this build's pinned maps and it uses the core
// ones (XdpfwObject::program_mismatch).
#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "foreign_bpf.skel.h"
#include "testing/bpffs_dir.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

namespace xdpfw {
namespace {

class PinnedProgram : public test::BpffsDirTest {
protected:
    PinnedProgram() : BpffsDirTest("prog") {}
    LoadOptions pinned_options() const
    {
        LoadOptions o = small_load_options();
        o.pin_dir = root + "/maps";
        return o;
    }
};

TEST_F(PinnedProgram, SameMapsFitOthersAreNamed)
{
    // The first load pins the maps; a second load (a restarted daemon)
    // reuses them, so the first program fits the second object.
    XdpfwObject first = XdpfwObject::load(pinned_options());
    XdpfwObject second = XdpfwObject::load(pinned_options());
    EXPECT_EQ(second.program_mismatch(first.prog_fd()), "");
    EXPECT_EQ(second.program_mismatch(second.prog_fd()), "");

    // An object with maps of its own (no pins): every map differs.
    XdpfwObject unpinned = XdpfwObject::load(small_load_options());
    const std::string other = second.program_mismatch(unpinned.prog_fd());
    EXPECT_NE(other.find("it uses a map xdpfw_tables"), std::string::npos) << other;
    EXPECT_NE(other.find("does not use this build's map xdpfw_tables"), std::string::npos) << other;

    // A program with one map named like ours but its own, and none of the
    // rest: both directions are named.
    foreign_bpf* f = foreign_bpf__open_and_load();
    ASSERT_NE(f, nullptr) << std::strerror(errno);
    const std::string why = second.program_mismatch(bpf_program__fd(f->progs.foreign));
    foreign_bpf__destroy(f);
    EXPECT_NE(why.find("it uses a map xdpfw_ctrl"), std::string::npos) << why;
    EXPECT_NE(why.find("does not use this build's map xdpfw_ctrl"), std::string::npos) << why;
    EXPECT_NE(why.find("does not use this build's map xdpfw_policy"), std::string::npos) << why;
    EXPECT_EQ(why.find(".rodata"), std::string::npos) << why;
}

} // namespace
} // namespace xdpfw
