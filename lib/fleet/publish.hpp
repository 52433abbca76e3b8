// SPDX-License-Identifier: GPL-2.0-only
// Writing and reading the fleet's policy in etcd (bundle.hpp's layout):
// chunks first, the manifest last in one transaction that fails when
// someone else pushed in between, then the chunks no manifest names any
// more are deleted (nodes read chunks at their manifest's revision, so a
// node still applying the previous push is not disturbed).
#pragma once

#include "lib/fleet/bundle.hpp"
#include "lib/fleet/etcd_client.hpp"

#include <map>

namespace xdpfw::fleet {

struct PushResult {
    int64_t revision = 0; // the manifest's mod_revision: the fleet's version
    size_t chunks_written = 0, chunks_kept = 0, chunks_deleted = 0;
};

// expect_revision: the manifest's mod_revision the caller read (0: none
// exists); nullopt: whatever is there. A push that loses the race throws
// EtcdError saying so.
PushResult push_policy(EtcdClient& c, const FleetKeys& keys, const Policy& policy,
                       const std::string& summary, std::optional<int64_t> expect_revision = std::nullopt);

struct FleetPolicy {
    Policy policy;
    int64_t revision = 0;
    std::string summary;
    size_t chunks_read = 0, chunks_reused = 0; // from etcd, from the cache
};

// Chunks by name (their SHA-256) that a node already holds: those of the
// last manifest it opened. Content-addressed, so a later manifest naming
// one needs no read (a one-prefix change to a 1M-prefix set reads one
// chunk, not 32); each is checked against its name again when used.
using ChunkCache = std::map<std::string, std::string>;
// The policy at the manifest's revision; nullopt when nothing was pushed.
// Throws EtcdError (etcd) or std::invalid_argument (a manifest or chunk that
// does not hold together).
std::optional<FleetPolicy> read_policy(EtcdClient& c, const FleetKeys& keys);
// The same from a manifest already read. With cache: chunks found there are
// not read, and on success the cache holds this manifest's chunks.
FleetPolicy open_policy(EtcdClient& c, const FleetKeys& keys, const KeyValue& manifest,
                        ChunkCache* cache = nullptr);

} // namespace xdpfw::fleet
