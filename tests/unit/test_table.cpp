// SPDX-License-Identifier: GPL-2.0-only
// Text table alignment and digit grouping.
#include "lib/base/table.hpp"

#include <gtest/gtest.h>

namespace xdpfw {
namespace {

TEST(TextTable, AlignsColumnsAndNumbers)
{
    TextTable t({"id", "action", "packets"});
    t.set_numeric(0);
    t.set_numeric(2);
    t.add({"1", "drop", "12"});
    t.add({"10", "pass", "1,234"});
    EXPECT_EQ(t.str(), "id  action  packets\n"
                       " 1  drop         12\n"
                       "10  pass      1,234\n");
    EXPECT_THROW(t.add({"x"}), std::invalid_argument);
}

TEST(TextTable, GroupsDigits)
{
    EXPECT_EQ(group_digits(0), "0");
    EXPECT_EQ(group_digits(999), "999");
    EXPECT_EQ(group_digits(1000), "1,000");
    EXPECT_EQ(group_digits(1234567), "1,234,567");
}

} // namespace
} // namespace xdpfw
