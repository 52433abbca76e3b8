// SPDX-License-Identifier: GPL-2.0-only
// Capacities: how many rules, bitmaps, classes, chunks, host routes and IPv6
// prefixes the tables hold. One struct for the loader (map sizes) and the
// compiler (what a policy may need), so the two cannot disagree.
#pragma once

#include <cstdint>

namespace xdpfw {

// The defaults are the daemon's (docs/DAEMON.md, `capacity:`); "per table"
// means per direction and generation.
struct Capacities {
    uint32_t max_rules = 4096;         // multiple of 64, <= XDPFW_MAX_RULES
    uint32_t max_bitmaps = 16384;      // distinct rule bitmaps per generation
    uint32_t max_addr_classes = 65536; // per table
    uint32_t max_v4_chunks = 4096;     // /24 blocks holding longer prefixes, per table
    uint32_t max_v4_hosts = 65536;     // /32s in the host table (abi.h), per table
    uint32_t max_v6_prefixes = 65536;  // per table
    uint32_t host_block_limit = 32;    // more /32s in a /24: a chunk (<= 256); compiler only
    uint32_t max_queues = 64;          // XskMap size; loader only
};

// What the tables' encodings allow (abi.h): PolicyError naming "compile
// options" and the key. Zero chunks or host routes is allowed here (every
// such block must then fit the other way).
void check_table_capacities(const Capacities& c);

// What the loader can size maps to (each map needs an entry, the chunk map
// fits 32-bit indices, the XskMap has 1..4096 slots): std::invalid_argument
// starting "load options: ".
void check_map_capacities(const Capacities& c);

} // namespace xdpfw
