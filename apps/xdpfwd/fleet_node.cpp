// SPDX-License-Identifier: GPL-2.0-only
// FleetNode, and the Daemon's side of it (start_fleet, fleet_status).
#include "apps/xdpfwd/fleet_node.hpp"

#include "apps/xdpfwd/daemon.hpp"
#include "lib/protocol/protocol.hpp"

#include <spdlog/spdlog.h>

#include <fstream>

namespace xdpfw {

using json = nlohmann::json;

namespace {

// The revision the saved file says is live, when it is about this prefix
// and the live version is still the one that revision became.
int64_t saved_revision(const std::filesystem::path& file, const std::string& prefix,
                       uint64_t local_version)
{
    std::ifstream in(file);
    if (!in)
        return 0;
    const json j = json::parse(in, nullptr, false);
    if (!j.is_object() || j.value("prefix", "") != prefix ||
        j.value("version", uint64_t(0)) != local_version)
        return 0;
    return j.value("revision", int64_t(0));
}

void save_revision(const std::filesystem::path& file, const std::string& prefix, int64_t revision,
                   uint64_t version)
{
    const std::filesystem::path tmp = file.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << json{{"prefix", prefix}, {"revision", revision}, {"version", version}}.dump() << "\n";
        if (!out)
            throw std::runtime_error("cannot write " + tmp.string());
    }
    std::filesystem::rename(tmp, file);
}

} // namespace

FleetNode::FleetNode(const FleetConfig& cfg, std::filesystem::path saved_file,
                     uint64_t local_version,
                     std::function<uint64_t(const Policy&, const std::string&)> apply,
                     std::function<json()> status)
    : cfg_(cfg), saved_file_(std::move(saved_file))
{
    fleet::FollowerOptions o;
    o.etcd = cfg_.etcd_options();
    o.keys.prefix = cfg_.prefix;
    o.node = cfg_.node;
    o.lease_ttl_seconds = cfg_.lease_ttl_seconds;
    o.status_interval = std::chrono::milliseconds(cfg_.status_interval_ms);
    o.applied_revision = saved_revision(saved_file_, cfg_.prefix, local_version);
    fleet::FollowerHooks h;
    h.apply = [this, apply](const Policy& p, int64_t revision, const std::string& summary) {
        const uint64_t v = apply(p, "etcd revision " + std::to_string(revision) + ": " + summary);
        try {
            save_revision(saved_file_, cfg_.prefix, revision, v);
        } catch (const std::exception& e) {
            // Costs one recommit of the same policy at the next start.
            spdlog::warn("event=fleet_save_failed error=\"{}\"", e.what());
        }
    };
    h.status = std::move(status);
    follower_ = std::make_unique<fleet::Follower>(std::move(o), std::move(h));
    spdlog::info("event=fleet_mode node={} prefix={} etcd={} applied_revision={}", cfg_.node,
                 cfg_.prefix, fmt::join(cfg_.etcd, ","), follower_->state()["revision"].get<int64_t>());
}

FleetNode::~FleetNode() = default;

std::optional<json> FleetNode::refusal(const std::string& line) const
{
    json req;
    protocol::Command cmd;
    try {
        req = protocol::parse_request_line(line);
        cmd = protocol::request_command(req);
    } catch (const std::exception&) {
        return std::nullopt; // the command path answers what is wrong
    }
    if (!protocol::changes_policy(cmd) && cmd != protocol::Command::confirm)
        return std::nullopt;
    if (auto d = req.find(protocol::dry_run_key); d != req.end() && d->is_boolean() && d->get<bool>())
        return std::nullopt;
    return protocol::error_response(
        protocol::request_id(req), ErrorCode::permission_denied,
        "this daemon follows the fleet policy in etcd (prefix " + cfg_.prefix + ", node " +
            cfg_.node + "): change it there with `xdpfwctl --etcd URL --etcd-prefix " + cfg_.prefix +
            " ...`; a local change would be overwritten by the next push");
}

// ---------------------------------------------------------------- Daemon

void Daemon::start_fleet()
{
    if (!cfg_.fleet.enabled())
        return;
    std::filesystem::path saved = cfg_.state_dir;
    saved /= cfg_.instance + ".fleet.json";
    uint64_t version;
    {
        std::lock_guard lock(store_mu_);
        version = store_->version();
    }
    fleet_version_ = version;
    fleet_ = std::make_unique<FleetNode>(
        cfg_.fleet, saved, version,
        [this](const Policy& p, const std::string& summary) {
            std::lock_guard lock(store_mu_);
            store_->replace(p, summary);
            spdlog::info("event=committed version={} rules={} summary=\"{}\"", store_->version(),
                         store_->policy().rules.size(), summary);
            fleet_version_ = store_->version();
            return store_->version();
        },
        [this] { return fleet_status(); });
    fleet_->start();
}

void Daemon::stop_fleet()
{
    if (fleet_)
        fleet_->stop();
}

std::optional<json> Daemon::fleet_refusal(const std::string& line) const
{
    return fleet_ ? fleet_->refusal(line) : std::nullopt;
}

json Daemon::fleet_status() const
{
    json ifaces = json::array();
    std::string mode;
    for (const InterfaceStatus& i : interfaces())
        ifaces.push_back({{"name", i.name}, {"mode", i.mode}});
    json counters = json::object();
    for (const auto& [name, c] : reason_counters())
        if (c.packets)
            counters[name] = c.packets;
    return {{"instance", cfg_.instance},
            {"version", fleet_version_.load()},
            {"tier", tier()},
            {"interfaces", std::move(ifaces)},
            {"counters", std::move(counters)}};
}

} // namespace xdpfw
