// SPDX-License-Identifier: GPL-2.0-only
// The fleet follower's thread: connect, catch up, watch, report.
#include "lib/fleet/follower.hpp"

#include "lib/base/utc_time.hpp"
#include "lib/fleet/publish.hpp"

#include <spdlog/spdlog.h>

namespace xdpfw::fleet {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

Follower::Follower(FollowerOptions opts, FollowerHooks hooks)
    : opts_(std::move(opts)), hooks_(std::move(hooks)), applied_(opts_.applied_revision)
{
}

Follower::~Follower()
{
    stop();
}

void Follower::start()
{
    thread_ = std::thread([this] { run(); });
}

void Follower::stop()
{
    {
        std::lock_guard lock(wake_mu_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

json Follower::state() const
{
    std::lock_guard lock(mu_);
    json s = {{"node", opts_.node},
              {"prefix", opts_.keys.prefix},
              {"revision", applied_},
              {"latest_revision", latest_},
              {"connected", connected_}};
    s["error"] = error_.empty() ? json(nullptr) : json(error_);
    s["failed_revision"] = failed_ ? json(failed_) : json(nullptr);
    return s;
}

json Follower::local_state() const
{
    json s = state();
    json urls = json::array();
    for (const Endpoint& e : opts_.etcd.endpoints)
        urls.push_back(endpoint_url(e));
    s["endpoints"] = std::move(urls);
    s["lease_ttl_seconds"] = opts_.lease_ttl_seconds;
    std::lock_guard lock(mu_);
    s["lease_alive"] = lease_id_ != 0 && Clock::now() < lease_until_;
    s["etcd_error"] = etcd_error_.empty() ? json(nullptr) : json(etcd_error_);
    s["etcd_error_at"] = etcd_error_at_.empty() ? json(nullptr) : json(etcd_error_at_);
    return s;
}

bool Follower::pause(std::chrono::milliseconds d)
{
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, d, [&] { return stop_.load(); });
    return !stop_;
}

void Follower::run()
{
    std::chrono::milliseconds backoff{200};
    std::string last_error;
    while (!stop_) {
        try {
            session();
        } catch (const std::exception& e) {
            bool was;
            {
                std::lock_guard lock(mu_);
                was = connected_;
                connected_ = false;
                etcd_error_ = e.what();
                etcd_error_at_ = format_utc_time(std::chrono::system_clock::now());
            }
            // Said once per outage (and again when the reason changes);
            // the policy live on the node stays.
            if (was || e.what() != last_error)
                spdlog::warn("event=etcd_unavailable node={} error=\"{}\" retry_ms={} msg=\"keeping "
                             "the live policy; retrying\"",
                             opts_.node, e.what(), backoff.count());
            last_error = e.what();
            if (was)
                backoff = std::chrono::milliseconds(200);
        }
        lease_ = 0;
        if (!pause(backoff))
            break;
        backoff = std::min(backoff * 2, opts_.max_backoff);
    }
}

void Follower::session()
{
    EtcdClient c(opts_.etcd);
    const RangeResult now = c.range(opts_.keys.policy());
    {
        std::lock_guard lock(mu_);
        if (!connected_)
            spdlog::info("event=etcd_connected node={} prefix={} revision={}", opts_.node,
                         opts_.keys.prefix, now.revision);
        connected_ = true;
    }
    keep_lease(c);
    if (!now.kvs.empty())
        consider(c, now.kvs.front());
    publish_status(c);
    EtcdWatch w(opts_.etcd, opts_.keys.policy(), "", now.revision + 1);
    while (!stop_) {
        if (auto m = w.next(std::chrono::milliseconds(250))) {
            if (m->canceled)
                throw EtcdError("watch canceled: " +
                                (m->cancel_reason.empty() ? std::string("compacted") : m->cancel_reason));
            // Only the newest version of the manifest matters.
            const WatchEvent* newest = nullptr;
            for (const WatchEvent& ev : m->events)
                newest = &ev;
            if (newest && newest->deleted)
                spdlog::warn("event=fleet_policy_deleted node={} key={} msg=\"keeping the live "
                             "policy\"",
                             opts_.node, opts_.keys.policy());
            else if (newest) {
                consider(c, newest->kv);
                publish_status(c);
            }
        }
        const auto since = Clock::now() - last_keepalive_;
        if (since >= std::chrono::seconds(opts_.lease_ttl_seconds) / 3)
            keep_lease(c);
        if (Clock::now() - last_status_ >= opts_.status_interval)
            publish_status(c);
    }
}

void Follower::keep_lease(EtcdClient& c)
{
    const auto kept = [this](int64_t ttl) {
        last_keepalive_ = Clock::now();
        std::lock_guard lock(mu_);
        lease_id_ = lease_;
        lease_until_ = last_keepalive_ + std::chrono::seconds(ttl);
    };
    if (lease_) {
        if (const int64_t ttl = c.lease_keepalive(lease_); ttl > 0) {
            kept(ttl);
            return;
        }
    }
    // None yet, or it expired (etcd was away longer than the TTL): a new
    // one, and the node's key again under it.
    const bool had = lease_ != 0;
    lease_ = c.lease_grant(opts_.lease_ttl_seconds);
    kept(opts_.lease_ttl_seconds);
    if (had)
        publish_status(c);
}

void Follower::publish_status(EtcdClient& c)
{
    json s = hooks_.status ? hooks_.status() : json::object();
    s.update(state());
    s["updated"] = format_utc_time(std::chrono::system_clock::now());
    c.put(opts_.keys.node(opts_.node), s.dump(), lease_);
    last_status_ = Clock::now();
}

void Follower::consider(EtcdClient& c, const KeyValue& kv)
{
    {
        std::lock_guard lock(mu_);
        latest_ = std::max(latest_, kv.mod_revision);
        if (kv.mod_revision == applied_ || kv.mod_revision == failed_)
            return;
    }
    const auto begun = Clock::now();
    try {
        FleetPolicy fp = open_policy(c, opts_.keys, kv, &chunks_);
        const auto read = Clock::now();
        hooks_.apply(fp.policy, fp.revision, fp.summary);
        std::lock_guard lock(mu_);
        applied_ = kv.mod_revision;
        failed_ = 0;
        error_.clear();
        const auto ms = [](Clock::duration d) {
            return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
        };
        // read_ms: the manifest's chunks from etcd, checked and parsed;
        // commit_ms: the daemon's commit (compile, maps, state file).
        spdlog::info("event=fleet_applied node={} revision={} ms={} read_ms={} commit_ms={} "
                     "chunks_read={} chunks_reused={} summary=\"{}\"",
                     opts_.node, kv.mod_revision, ms(Clock::now() - begun), ms(read - begun),
                     ms(Clock::now() - read), fp.chunks_read, fp.chunks_reused, fp.summary);
    } catch (const EtcdError&) {
        throw; // etcd went away mid-read: the session starts again
    } catch (const std::exception& e) {
        std::lock_guard lock(mu_);
        failed_ = kv.mod_revision;
        error_ = "revision " + std::to_string(kv.mod_revision) + ": " + e.what();
        spdlog::error("event=fleet_apply_failed node={} revision={} live_revision={} error=\"{}\" "
                      "msg=\"keeping the last good policy\"",
                      opts_.node, kv.mod_revision, applied_, e.what());
    }
}

} // namespace xdpfw::fleet
