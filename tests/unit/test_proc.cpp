// SPDX-License-Identifier: GPL-2.0-only
// Figures read from /proc: this process's RSS, a map's memlock.
#include "lib/base/proc.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <vector>

namespace xdpfw {
namespace {

TEST(Proc, RssGrowsWithTouchedMemory)
{
    const auto before = process_rss_bytes();
    ASSERT_TRUE(before.has_value());
    EXPECT_GT(*before, 0u);
    std::vector<char> block(64 << 20, 1); // 64 MiB, every page written
    const auto after = process_rss_bytes();
    ASSERT_TRUE(after.has_value());
    EXPECT_GE(*after, *before + (48u << 20)) << block[12345];
}

TEST(Proc, NotAMapHasNoMemlock)
{
    EXPECT_FALSE(bpf_map_memlock_bytes(STDIN_FILENO).has_value());
    EXPECT_FALSE(bpf_map_memlock_bytes(-1).has_value());
}

} // namespace
} // namespace xdpfw
