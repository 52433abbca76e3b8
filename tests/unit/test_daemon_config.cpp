// SPDX-License-Identifier: GPL-2.0-only
// The daemon configuration's capacity section: every table size by name, and
// keys of older versions refused with what replaced them.
#include "apps/xdpfwd/config.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace xdpfw {
namespace {

TEST(DaemonConfig, CapacityKeys)
{
    DaemonConfig c = parse_daemon_config(R"(
capacity:
  max_rules: 128
  max_bitmaps: 512
  max_addr_classes: 1024
  max_v4_chunks: 77
  max_v4_hosts: 600000
  max_v6_prefixes: 99
  max_queues: 8
)",
                                         "x.yaml");
    EXPECT_EQ(c.load.caps.max_rules, 128u);
    EXPECT_EQ(c.load.caps.max_bitmaps, 512u);
    EXPECT_EQ(c.load.caps.max_addr_classes, 1024u);
    EXPECT_EQ(c.load.caps.max_v4_chunks, 77u);
    EXPECT_EQ(c.load.caps.max_v4_hosts, 600000u);
    EXPECT_EQ(c.load.caps.max_v6_prefixes, 99u);
    EXPECT_EQ(c.load.caps.max_queues, 8u);

    for (const auto& [yaml, words] : std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"capacity: {max_v4_sparse: 65536}\n", {"capacity.max_v4_sparse", "max_v4_hosts"}},
             {"capacity: {max_hosts: 1}\n", {"capacity.max_hosts", "unknown key"}},
             {"capacity: {max_v4_hosts: -1}\n", {"capacity.max_v4_hosts"}},
             {"capacity: 5\n", {"capacity", "mapping"}},
         }) {
        try {
            parse_daemon_config(yaml, "x.yaml");
            ADD_FAILURE() << yaml << " accepted";
        } catch (const std::invalid_argument& e) {
            for (const std::string& w : words)
                EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
        }
    }
}

} // namespace
} // namespace xdpfw
