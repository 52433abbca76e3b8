// SPDX-License-Identifier: GPL-2.0-only
// XdpfwObject::map_bytes() adds up what the kernel charges for each map.
#include "lib/kernel/loader.hpp"

#include <xdpfw/abi.h>

#include <gtest/gtest.h>

namespace xdpfw {
namespace {

TEST(MapBytes, CountsEveryMapOfTheObject)
{
    const XdpfwObject small = XdpfwObject::load(small_load_options());
    const XdpfwObject full = XdpfwObject::load({});
    // The DIR-24 table alone: generations x directions x 2^24 entries of 4 bytes.
    const uint64_t tbl24 = uint64_t{XDPFW_GENERATIONS} * XDPFW_DIRECTIONS * XDPFW_TBL24_SLOTS * 4;
    EXPECT_GE(small.map_bytes(), tbl24);
    EXPECT_GT(full.map_bytes(), small.map_bytes());
}

} // namespace
} // namespace xdpfw
