// SPDX-License-Identifier: GPL-2.0-only
// EventService: drains the event ring, labels events, feeds the monitors.
#include "apps/xdpfwd/events.hpp"

#include "lib/inspect/five_tuple.hpp"
#include "lib/protocol/protocol.hpp"

#include <fmt/format.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

namespace xdpfw {
namespace {

const char* verdict_name(uint32_t xdp_action)
{
    switch (xdp_action) {
    case XDP_DROP: return "drop";
    case XDP_PASS: return "pass";
    case XDP_TX: return "tx";
    case XDP_REDIRECT: return "redirect";
    default: return "aborted";
    }
}

// Monotonic (bpf_ktime_get_ns) to Unix time, at the moment of rendering.
double unix_seconds(uint64_t mono_ns)
{
    timespec mono{}, real{};
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    const double now_mono = double(mono.tv_sec) + double(mono.tv_nsec) * 1e-9;
    const double now_real = double(real.tv_sec) + double(real.tv_nsec) * 1e-9;
    return now_real - (now_mono - double(mono_ns) * 1e-9);
}

std::string hex(const uint8_t* p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    std::string s(2 * n, '0');
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 15];
    }
    return s;
}

} // namespace

EventService::EventService(const XdpfwObject& obj, PolicyMaps& maps, const EventSampling& sampling)
    : maps_(maps), sampling_(sampling), ring_(obj, [this](const xdpfw_event& e) { on_event(e); }),
      labels_(std::make_shared<const Labels>())
{
    maps_.set_event_sampling(sampling_);
}

EventService::~EventService()
{
    stop();
}

void EventService::start()
{
    thread_ = std::thread([this] {
        while (!stop_) {
            try {
                ring_.poll(200);
            } catch (const std::exception& e) {
                spdlog::warn("event=event_ring_error error=\"{}\"", e.what());
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
        }
    });
}

void EventService::stop()
{
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
}

void EventService::committed(uint64_t version)
{
    std::lock_guard lock(labels_mu_);
    live_version_ = version;
}

std::shared_ptr<const EventService::Labels> EventService::labels()
{
    {
        std::lock_guard lock(labels_mu_);
        if (labels_version_ == live_version_ || !reader_)
            return labels_;
    }
    // Not under labels_mu_: the reader takes the store's lock, which a
    // commit holds while it calls committed().
    std::shared_ptr<Labels> m;
    uint64_t version = 0;
    reader_([&](const Policy& policy, uint64_t v) {
        m = std::make_shared<Labels>();
        for (const Rule& r : policy.rules)
            (*m)[r.id] = RuleLabel{r.priority, r.text};
        version = v;
    });
    std::lock_guard lock(labels_mu_);
    if (m && version >= labels_version_) {
        labels_ = std::move(m);
        labels_version_ = version;
    }
    return labels_;
}

const std::string& EventService::iface_name(uint32_t ifindex)
{
    auto it = ifnames_.find(ifindex);
    if (it == ifnames_.end()) {
        char buf[IF_NAMESIZE] = {};
        it = ifnames_.emplace(ifindex, if_indextoname(ifindex, buf) ? buf : std::to_string(ifindex))
                 .first;
    }
    return it->second;
}

std::string EventService::render(const xdpfw_event& e, bool packets, const Labels& labels)
{
    const inspect::FiveTuple t = inspect::decode_five_tuple({e.data, e.cap_len});
    nlohmann::json ev = {{"time", unix_seconds(e.time_ns)},
                         {"interface", iface_name(e.ifindex)},
                         {"ifindex", e.ifindex},
                         {"rx_queue", e.rx_queue},
                         {"verdict", verdict_name(e.verdict)},
                         {"reason", reason_name(e.reason)},
                         {"len", e.pkt_len},
                         {"version", e.version}};
    if (e.rule_id != XDPFW_NO_RULE) {
        ev["rule"] = e.rule_id;
        // A rule deleted since the packet: its id alone.
        if (const auto it = labels.find(e.rule_id); it != labels.end()) {
            ev["priority"] = it->second.priority;
            ev["rule_text"] = it->second.text;
        }
    }
    if (t.family) {
        ev["family"] = t.family == 4 ? "ipv4" : "ipv6";
        ev["src"] = inspect::address_text(t, true);
        ev["dst"] = inspect::address_text(t, false);
        ev["proto"] = t.proto;
        if (t.has_ports) {
            ev["sport"] = t.sport;
            ev["dport"] = t.dport;
        }
    } else {
        ev["ethertype"] = t.ethertype;
    }
    if (packets)
        ev["data"] = hex(e.data, e.cap_len);
    return nlohmann::json{{"event", std::move(ev)}}.dump();
}

void EventService::on_event(const xdpfw_event& e)
{
    // Always drained; rendered only for someone.
    if (!hub_.listening())
        return;
    // Before the hub renders under its lock: copying the labels may wait
    // for the store's lock, which a command (`stats`) can hold while it
    // asks the hub for its counters.
    const std::shared_ptr<const Labels> labels = this->labels();
    PublishedEvent p;
    p.rule_id = e.rule_id;
    p.reason = reason_name(e.reason);
    p.line = [this, &e, &labels](bool packets) { return render(e, packets, *labels); };
    hub_.publish(p);
}

std::optional<nlohmann::json> EventService::handle(const std::string& line,
                                                   const std::shared_ptr<StreamOutput>& out)
{
    // Only lines that may be a monitor request are parsed here (a policy
    // line of megabytes is not parsed twice).
    if (line.find(protocol::monitor_command) == std::string::npos)
        return std::nullopt;
    nlohmann::json req;
    try {
        req = protocol::parse_request_line(line);
    } catch (const std::exception&) {
        return std::nullopt; // the request handler answers bad_json
    }
    if (!protocol::is_monitor_request(req))
        return std::nullopt;
    const nlohmann::json id = protocol::request_id(req);
    try {
        protocol::MonitorRequest m = protocol::parse_monitor_request(req);
        if (m.reason) {
            bool known = false;
            for (uint32_t r = 0; r < XDPFW_REASON_COUNT; r++)
                known = known || *m.reason == reason_name(r);
            if (!known)
                throw Error(ErrorCode::bad_request,
                            fmt::format("monitor: no reason named '{}'", *m.reason));
        }
        out->begin_stream();
        hub_.subscribe(out, m);
        return protocol::success_response(id, {{"monitor", true}, {"sampling", stats()["sampling"]}});
    } catch (const Error& e) {
        return protocol::error_response(id, e.code(), e.what());
    }
}

nlohmann::json EventService::stats() const
{
    const auto ring = maps_.event_counters();
    const EventHubCounters h = hub_.counters();
    return {{"sent", ring[XDPFW_EVSTAT_SENT].packets},
            {"ring_lost", ring[XDPFW_EVSTAT_LOST].packets},
            {"monitors", h.monitors},
            {"monitor_delivered", h.delivered},
            {"monitor_lost", h.lost},
            {"sampling",
             {{"default", sampling_.sample_default},
              {"malformed", sampling_.sample_malformed},
              {"snaplen", sampling_.snaplen}}}};
}

} // namespace xdpfw
