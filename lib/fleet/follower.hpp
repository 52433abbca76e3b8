// SPDX-License-Identifier: GPL-2.0-only
// A node of the fleet: watches PREFIX/policy, hands each new revision to
// apply() whole (or not at all), and keeps PREFIX/nodes/NAME under a lease
// with what the node has live. etcd down: the node keeps what it has, logs
// once, retries with backoff, and catches up when etcd is back.
#pragma once

#include "lib/fleet/bundle.hpp"
#include "lib/fleet/etcd_client.hpp"
#include "lib/fleet/publish.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace xdpfw::fleet {

struct FollowerOptions {
    EtcdOptions etcd;
    FleetKeys keys;
    std::string node;
    int64_t lease_ttl_seconds = 10;
    // How often the node's key is rewritten with fresh counters.
    std::chrono::milliseconds status_interval{5000};
    std::chrono::milliseconds max_backoff{5000};
    // The revision already live (the daemon's saved fleet state), 0: none.
    int64_t applied_revision = 0;
};

struct FollowerHooks {
    // Makes policy live as one commit; throws (and changes nothing) when it
    // cannot.
    std::function<void(const Policy& policy, int64_t revision, const std::string& summary)> apply;
    // What the node reports besides the follower's own fields (version,
    // tier, interfaces, counters).
    std::function<nlohmann::json()> status;
};

class Follower {
public:
    Follower(FollowerOptions opts, FollowerHooks hooks);
    ~Follower(); // stop()
    Follower(const Follower&) = delete;
    Follower& operator=(const Follower&) = delete;

    void start();
    void stop();

    // What the node's key reports of the follower: {"node", "prefix",
    // "revision", "latest_revision", "connected", "error", "failed_revision"}.
    nlohmann::json state() const;
    // state() and what only the node itself can say (the daemon's `status`,
    // "fleet"): "endpoints", "lease_alive", "lease_ttl_seconds",
    // "etcd_error" and "etcd_error_at" (the last failure reaching etcd).
    nlohmann::json local_state() const;

private:
    void run();
    void session();
    // Applies the manifest kv unless its revision is live or already failed.
    void consider(EtcdClient& c, const KeyValue& kv);
    void publish_status(EtcdClient& c);
    void keep_lease(EtcdClient& c);
    // Sleeps d unless stop() comes first; false once stopping.
    bool pause(std::chrono::milliseconds d);

    FollowerOptions opts_;
    FollowerHooks hooks_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex wake_mu_;
    std::condition_variable wake_;

    mutable std::mutex mu_; // the fields below
    int64_t applied_ = 0, failed_ = 0, latest_ = 0;
    std::string error_;
    bool connected_ = false;
    std::string etcd_error_, etcd_error_at_;
    int64_t lease_id_ = 0;                   // lease_ as last kept alive
    std::chrono::steady_clock::time_point lease_until_; // when it expires unless renewed

    // The chunks of the last manifest opened (follower thread only).
    ChunkCache chunks_;
    // The session's lease (follower thread only).
    int64_t lease_ = 0;
    std::chrono::steady_clock::time_point last_keepalive_, last_status_;
};

} // namespace xdpfw::fleet
