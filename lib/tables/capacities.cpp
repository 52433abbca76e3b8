// SPDX-License-Identifier: GPL-2.0-only
// Validation of Capacities, for the compiler's tables and the loader's maps.
#include "lib/tables/capacities.hpp"

#include "lib/model/policy.hpp"

#include <xdpfw/abi.h>

#include <stdexcept>
#include <string>

namespace xdpfw {

void check_table_capacities(const Capacities& o)
{
    auto bad = [](const std::string& key, const std::string& problem) {
        return PolicyError("compile options", key, problem);
    };
    if (o.max_rules == 0 || o.max_rules % 64 || o.max_rules > XDPFW_MAX_RULES)
        throw bad("max_rules", "must be a non-zero multiple of 64 up to " +
                                   std::to_string(XDPFW_MAX_RULES) + ", got " +
                                   std::to_string(o.max_rules));
    if (o.max_bitmaps == 0 || o.max_bitmaps > XDPFW_REF_INDEX_MASK)
        throw bad("max_bitmaps", "must be 1.." + std::to_string(XDPFW_REF_INDEX_MASK));
    if (o.max_addr_classes == 0 || o.max_addr_classes > XDPFW_TBL24_VALUE_MASK + 1)
        throw bad("max_addr_classes", "must be 1.." + std::to_string(XDPFW_TBL24_VALUE_MASK + 1));
    if (o.max_v4_chunks > XDPFW_TBL24_VALUE_MASK + 1)
        throw bad("max_v4_chunks", "must be at most " + std::to_string(XDPFW_TBL24_VALUE_MASK + 1));
    if (o.host_block_limit > XDPFW_HOST_BLOCK_MAX)
        throw bad("host_block_limit", "must be at most " + std::to_string(XDPFW_HOST_BLOCK_MAX) +
                                          " (the addresses of a /24)");
    if (o.max_v4_hosts > XDPFW_MAX_V4_HOSTS)
        throw bad("max_v4_hosts", "must be at most " + std::to_string(XDPFW_MAX_V4_HOSTS));
}

void check_map_capacities(const Capacities& o)
{
    auto bad = [](const std::string& m) { throw std::invalid_argument("load options: " + m); };
    const std::string value_max = std::to_string(XDPFW_TBL24_VALUE_MASK);
    if (o.max_rules == 0 || o.max_rules % 64 || o.max_rules > XDPFW_MAX_RULES)
        bad("max_rules " + std::to_string(o.max_rules) + " must be a multiple of 64 in 64.." +
            std::to_string(XDPFW_MAX_RULES));
    if (o.max_bitmaps < 2 || o.max_bitmaps > XDPFW_REF_INDEX_MASK)
        bad("max_bitmaps must be in 2.." + std::to_string(XDPFW_REF_INDEX_MASK));
    if (o.max_addr_classes < 1 || o.max_addr_classes > XDPFW_TBL24_VALUE_MASK)
        bad("max_addr_classes must be in 1.." + value_max);
    if (o.max_v4_chunks < 1 || o.max_v4_chunks > XDPFW_TBL24_VALUE_MASK)
        bad("max_v4_chunks out of range");
    uint64_t chunk_entries = uint64_t(XDPFW_GENERATIONS) * XDPFW_DIRECTIONS * o.max_v4_chunks *
                             XDPFW_CHUNK_SLOTS;
    if (chunk_entries > 0xffffffffull)
        bad("max_v4_chunks too large");
    if (o.max_v4_hosts > XDPFW_MAX_V4_HOSTS)
        bad("max_v4_hosts must be at most " + std::to_string(XDPFW_MAX_V4_HOSTS));
    if (o.max_v6_prefixes < 1)
        bad("max_v6_prefixes must be at least 1");
    if (o.max_queues < 1 || o.max_queues > 4096)
        bad("max_queues must be in 1..4096");
}

} // namespace xdpfw
