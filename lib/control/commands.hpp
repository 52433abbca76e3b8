// SPDX-License-Identifier: GPL-2.0-only
// Executes control protocol requests (docs/PROTOCOL.md) against the policy
// store and the dataplane view. Kernel-free; the transport is server.hpp.
#pragma once

#include "lib/store/policy_store.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace xdpfw {

struct InterfaceStatus {
    std::string name;
    uint32_t ifindex = 0;
    std::string mode;      // "native" or "generic"
    bool multiprog = false;
};

struct CounterSample {
    uint64_t packets = 0, bytes = 0;
    double pps = 0, bps = 0; // over the last sampling interval
};

// What the commands need from the daemon besides the store.
class DataplaneView {
public:
    virtual ~DataplaneView() = default;
    virtual std::string instance() const = 0;
    virtual std::vector<InterfaceStatus> interfaces() const = 0;
    virtual bool adopted() const = 0;
    virtual double uptime_seconds() const = 0;
    virtual CounterSample rule_counter(uint32_t rule_id) const = 0;
    // Indexed by enum xdpfw_reason; names from reason_name().
    virtual std::vector<std::pair<std::string, CounterSample>> reason_counters() const = 0;
    // Detaches from every interface and removes the pins; returns the names.
    virtual std::vector<std::string> detach() = 0;
    // The AF_XDP engine's counters (docs/PROTOCOL.md, `stats`: "xsk"), or
    // null when the daemon runs no engine.
    virtual nlohmann::json xsk_stats() const { return nullptr; }
    // {"kernel_map_bytes": N, "daemon_rss_bytes": N} (docs/PROTOCOL.md,
    // `status`), or null when the daemon cannot tell.
    virtual nlohmann::json memory() const { return nullptr; }
    // The control socket's connections and what its limits did
    // (docs/PROTOCOL.md, `status`: "control"), or null.
    virtual nlohmann::json control() const { return nullptr; }
    // The program tiers (docs/PROTOCOL.md, `status`: "tier"), or null.
    virtual nlohmann::json tier() const { return nullptr; }
    // What built the daemon (docs/PROTOCOL.md, `status`: "build"):
    // {"version","git","bpf_object"}, or null.
    virtual nlohmann::json build_info() const { return nullptr; }
    // Connection tracking (docs/PROTOCOL.md): the flow table's counters for
    // `stats` ("ct"), or null; its live flows, at most limit
    // ({"flows": [...], "truncated": bool}); a flush ({"flushed": N}).
    virtual nlohmann::json ct_stats() const { return nullptr; }
    virtual nlohmann::json ct_list(size_t limit) const;
    virtual nlohmann::json ct_flush();
    // Whether the AF_XDP engine runs (inspection rules and action=xsk need
    // it); a view that cannot tell says it does, so nothing warns.
    virtual bool xsk_engine_running() const { return true; }
    // Fleet mode's follower (docs/PROTOCOL.md, `status`: "fleet"), or null
    // when the daemon does not follow etcd.
    virtual nlohmann::json fleet() const { return nullptr; }
    // The event ring and its monitors (docs/PROTOCOL.md, `stats`:
    // "events"), or null.
    virtual nlohmann::json events() const { return nullptr; }
};

// Runs one request; never throws: every failure becomes an error response
// (protocol::error_response) with the code the exception carries
// (lib/model/error.hpp); a std::system_error is kernel_error, anything else
// internal.
// Sets *exit_after when the daemon must stop after answering (detach).
nlohmann::json execute_request(const nlohmann::json& request, PolicyStore& store,
                               DataplaneView& view, bool* exit_after);

// The same for a raw request line from the transport: a line that is not
// JSON, or not an object, gets a bad_json response.
nlohmann::json execute_line(const std::string& line, PolicyStore& store, DataplaneView& view,
                            bool* exit_after);

} // namespace xdpfw
