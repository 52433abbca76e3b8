// SPDX-License-Identifier: GPL-2.0-only
// The daemon's end of the event ring (docs/ARCHITECTURE.md, "Events"): a
// thread drains xdpfw_events whether or not anyone listens, so a full ring
// means the daemon could not keep up, never that nobody was connected; each
// event, labelled with the interface name and the rule's priority and text,
// goes to the monitors of the control socket (`monitor`).
#pragma once

#include "lib/control/event_hub.hpp"
#include "lib/control/server.hpp"
#include "lib/kernel/event_ring.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/metrics/daemon_metrics.hpp"
#include "lib/model/policy.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace xdpfw {

class EventService {
public:
    // Writes sampling into the maps (before any commit: set_event_sampling
    // is not safe beside one) and opens the ring.
    EventService(const XdpfwObject& obj, PolicyMaps& maps, const EventSampling& sampling);
    ~EventService();
    void start();
    void stop();

    // Where the events' labels come from: the live policy, read under the
    // lock commits hold (metrics::PolicyReader). Set before start().
    void set_reader(metrics::PolicyReader reader) { reader_ = std::move(reader); }
    // A commit went live: the labels are copied again through the reader
    // when an event next needs them (only while someone monitors), not on
    // the commit's path.
    void committed(uint64_t version);
    // The control server's StreamHandler: serves `monitor`.
    std::optional<nlohmann::json> handle(const std::string& line,
                                         const std::shared_ptr<StreamOutput>& out);
    // `stats` "events": ring and monitor counters, the sampling settings.
    nlohmann::json stats() const;

private:
    struct RuleLabel {
        int32_t priority = 0;
        std::string text;
    };
    using Labels = std::map<uint32_t, RuleLabel>;
    std::shared_ptr<const Labels> labels();
    void on_event(const xdpfw_event& e);
    std::string render(const xdpfw_event& e, bool packets, const Labels& labels);
    const std::string& iface_name(uint32_t ifindex);

    PolicyMaps& maps_;
    EventSampling sampling_;
    EventRing ring_;
    EventHub hub_;
    metrics::PolicyReader reader_;
    std::mutex labels_mu_;
    std::shared_ptr<const Labels> labels_;
    uint64_t labels_version_ = 0; // the version labels_ was copied from
    uint64_t live_version_ = 0;
    std::unordered_map<uint32_t, std::string> ifnames_; // the event thread's cache
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace xdpfw
