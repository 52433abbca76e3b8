// SPDX-License-Identifier: GPL-2.0-only
// The xdpfw daemon: owns the loaded program, its pinned maps and
// attachments, the policy store and the control socket. It adopts the pins
// and attachments an earlier xdpfwd left (crash or restart: no second
// attach, no gap) and restores the saved policy after a reboot.
#pragma once

#include "lib/control/commands.hpp"
#include "lib/control/server.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/store/policy_store.hpp"
#include "apps/xdpfwd/config.hpp"
#include "apps/xdpfwd/events.hpp"
#include "apps/xdpfwd/fleet_node.hpp"
#include "lib/base/unique_fd.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/map_upgrade.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "apps/xdpfwd/tiering.hpp"
#include "lib/metrics/daemon_metrics.hpp"
#include "lib/xsk/engine.hpp"
#include "lib/xsk/rule_inspector.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace xdpfw {

class Daemon : public PolicySink, public DataplaneView {
public:
    explicit Daemon(DaemonConfig cfg);
    ~Daemon() override;

    // Loads or adopts, restores, attaches. Throws with a message naming what
    // failed (BpfError, CommandError, std::invalid_argument).
    void start();
    // Serves the control socket until SIGINT/SIGTERM or a detach command.
    // Returns the process exit code.
    int run();

    // PolicySink
    void commit(const Policy& policy, uint64_t version) override;
    void check(const Policy& policy) override;

    // DataplaneView
    std::string instance() const override { return cfg_.instance; }
    std::vector<InterfaceStatus> interfaces() const override;
    bool adopted() const override { return adopted_; }
    double uptime_seconds() const override;
    CounterSample rule_counter(uint32_t rule_id) const override;
    std::vector<std::pair<std::string, CounterSample>> reason_counters() const override;
    std::vector<std::string> detach() override;
    nlohmann::json xsk_stats() const override;
    nlohmann::json memory() const override;
    nlohmann::json control() const override;
    bool xsk_engine_running() const override { return engine_ != nullptr; }
    nlohmann::json tier() const override { return tiering_ ? tiering_->status() : nullptr; }
    nlohmann::json build_info() const override;
    nlohmann::json fleet() const override { return fleet_ ? fleet_->state() : nullptr; }
    nlohmann::json events() const override { return events_ ? events_->stats() : nullptr; }
    // Connection tracking (ct_view.cpp).
    nlohmann::json ct_stats() const override;
    nlohmann::json ct_list(size_t limit) const override;
    nlohmann::json ct_flush() override;
    // Waits until the tier worker has acted on the last commit (tests).
    bool wait_tier_idle(std::chrono::milliseconds timeout) { return tiering_->wait_idle(timeout); }

    PolicyStore& store() { return *store_; }

private:
    struct Link {
        InterfaceStatus status;
        XdpMode mode = XdpMode::native;
        std::optional<XdpAttachment> owned; // empty when adopted from an earlier xdpfwd
    };
    struct Sample {
        std::chrono::steady_clock::time_point time;
        std::vector<xdpfw_counter> rules;
        std::array<xdpfw_counter, XDPFW_REASON_COUNT> reasons{};
    };

    void begin_map_upgrade(const LoadOptions& lo);
    void start_on_maps(bool had_pins);
    void copy_upgrade_counters();
    void attach_interfaces();
    std::optional<XdpMode> replace_unpinned_program(const std::string& name, unsigned ifindex);
    // Tiering's install: program fd in place of the live one on every
    // interface (atomic per interface), pinned as the instance's program.
    void install_program(int fd);
    void start_xsk();
    void restore_policy();
    // restore_policy()'s parts: the rules file (or the empty policy) as
    // version 1; why a live policy's state is missing; the refusal's text;
    // the adoption check (false: logged adoption_mismatch).
    void commit_initial_policy();
    std::string missing_state() const;
    std::string refusal(const std::string& unusable, uint64_t live) const;
    bool live_matches_state(uint64_t live);
    CompiledPolicy compile_policy(const Policy& policy) const;
    // A pending confirmation whose deadline passed: its rollback, logged
    // (when: "start" or "timer"). False while a command holds the store.
    void rollback_if_due(const char* when, bool wait_for_store);
    void sample_loop();
    CounterSample rate(uint64_t packets_now, uint64_t bytes_now, const xdpfw_counter& prev_then,
                       const xdpfw_counter& prev_now) const;
    // Fleet mode (fleet_node.cpp): follow etcd when configured; the node's report.
    void start_fleet();
    void stop_fleet();
    nlohmann::json fleet_status() const;
    // In fleet mode, the refusal of a request that would change the policy.
    std::optional<nlohmann::json> fleet_refusal(const std::string& line) const;
    // One scrape of the metrics endpoint (on its worker thread).
    std::string metrics_page(const std::vector<InterfaceStatus>& interfaces) const;

    DaemonConfig cfg_;
    std::string pin_dir_;
    bool adopted_ = false;
    std::chrono::steady_clock::time_point started_;
    std::optional<XdpfwObject> obj_;
    std::unique_ptr<PolicyMaps> maps_;
    std::unique_ptr<EventService> events_; // the event ring's reader (uses maps_)
    std::unique_ptr<PolicyStore> store_;
    // Held by each control request and by the confirmation timer (which
    // runs on the io thread, not on the server's worker).
    std::mutex store_mu_;
    uint64_t rollback_failure_logged_ = 0; // the version whose failed rollback was logged
    std::shared_ptr<CompileCache> cache_ = make_compile_cache();
    // links_ and prog_fd_ change under links_mu_ (the tier worker swaps
    // programs while the control thread serves status).
    mutable std::mutex links_mu_;
    std::vector<Link> links_;
    UniqueFd prog_fd_; // the program on the interfaces (pinned at <pin_dir>/prog)
    bool adopted_program_ = false; // prog_fd_ is the pin an earlier xdpfwd left
    std::optional<MapUpgrade> upgrade_; // --upgrade-maps, while start() moves to new maps

    // Inspection rules published to the AF_XDP workers; declared before the
    // engine, whose workers hold inspectors it made.
    xsk::RuleInspection inspection_;
    std::unique_ptr<xsk::Engine> engine_;
    // The control server while run() runs (status reads its counters).
    std::atomic<const ControlServer*> server_{nullptr};
    // The live policy's labels and the commit durations, for the metrics.
    metrics::DaemonMetrics metrics_;

    mutable std::mutex sample_mu_;
    Sample last_, prev_;
    std::atomic<bool> stop_sampling_{false};
    std::thread sampler_;
    // Last: its worker stops first, before the links and objects it uses.
    std::unique_ptr<Tiering> tiering_;
    // Fleet mode: stopped before anything it commits through.
    std::atomic<uint64_t> fleet_version_{0};
    std::unique_ptr<FleetNode> fleet_;
};

} // namespace xdpfw
