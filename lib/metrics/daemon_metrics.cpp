// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd's metric families, written with the exposition writer. The names,
// labels and meanings are documented in docs/DAEMON.md, "Metrics".
#include "lib/metrics/daemon_metrics.hpp"

#include "lib/lang/rule_parser.hpp"
#include "lib/metrics/exposition.hpp"

#include <algorithm>
#include <map>
#include <string>

namespace xdpfw::metrics {

namespace {

constexpr auto counter = MetricType::counter;
constexpr auto gauge = MetricType::gauge;

// The labels of a rule's series (comment: the rule's comment="...", empty
// when it has none).
Labels rule_labels(const LivePolicy::RuleLabels& r)
{
    return {{"id", std::to_string(r.id)},
            {"priority", std::to_string(r.priority)},
            {"action", format_action(r.action)},
            {"comment", r.comment}};
}

void write_rules(Exposition& x, const LivePolicy& p, const DataplaneView& view)
{
    std::vector<std::pair<Labels, CounterSample>> rows;
    rows.reserve(p.rules.size());
    for (const auto& r : p.rules)
        rows.emplace_back(rule_labels(r), view.rule_counter(r.id));
    x.begin("xdpfw_rule_packets_total", counter,
            "Packets that matched the rule (kernel counter; reset when a rule id is created)");
    for (const auto& [labels, c] : rows)
        x.sample(labels, c.packets);
    x.begin("xdpfw_rule_bytes_total", counter, "Bytes of the packets that matched the rule");
    for (const auto& [labels, c] : rows)
        x.sample(labels, c.bytes);
}

void write_reasons(Exposition& x, const DataplaneView& view)
{
    const auto reasons = view.reason_counters();
    x.begin("xdpfw_reason_packets_total", counter,
            "Packets by verdict reason, as `xdpfwctl stats` shows them (rule_* are sums over the "
            "live rules)");
    for (const auto& [name, c] : reasons)
        x.sample({{"reason", name}}, c.packets);
    x.begin("xdpfw_reason_bytes_total", counter, "Bytes by verdict reason");
    for (const auto& [name, c] : reasons)
        x.sample({{"reason", name}}, c.bytes);
}

void write_policy(Exposition& x, const LivePolicy& p, const HistogramSnapshot& commits)
{
    x.begin("xdpfw_commit_version", gauge, "Version of the live policy");
    x.sample({}, p.version);
    x.begin("xdpfw_commit_duration_seconds", MetricType::histogram,
            "Time to compile a policy and make it live, per commit since the daemon started");
    x.histogram({}, commits);
    x.begin("xdpfw_set_prefixes", gauge, "Prefixes in the named set");
    for (const auto& [name, size] : p.sets)
        x.sample({{"set", name}}, uint64_t(size));
}

// Connection tracking's flow table (docs/PROTOCOL.md, `stats` "ct"); only
// once a policy used ct= (before, there is no table to describe).
void write_ct(Exposition& x, const nlohmann::json& ct)
{
    if (!ct.is_object() || !ct.value("table", false))
        return;
    const std::pair<const char*, const char*> gauges[] = {
        {"entries", "Flows the connection tracking table holds (estimated)"},
        {"max_flows", "Size of the connection tracking table (ct.max_flows)"},
        {"table_bytes", "Kernel memory of the connection tracking table"}};
    for (const auto& [key, help] : gauges) {
        x.begin(std::string("xdpfw_ct_") + key, gauge, help);
        x.sample({}, ct.value(key, uint64_t{0}));
    }
    const std::pair<const char*, const char*> counters[] = {
        {"lookups", "Packets looked up in the connection tracking table"},
        {"insertions", "Flows entered in the connection tracking table"},
        {"evictions", "Flows the full table dropped for new ones (estimated, a lower bound)"},
        {"failed", "Flows the table could not take"},
        {"flushes", "Flushes of the connection tracking table"}};
    for (const auto& [key, help] : counters) {
        x.begin(std::string("xdpfw_ct_") + key + "_total", counter, help);
        x.sample({}, ct.value(key, uint64_t{0}));
    }
}

void write_daemon(Exposition& x, const DataplaneView& view,
                  const std::vector<InterfaceStatus>& interfaces)
{
    const nlohmann::json mem = view.memory();
    if (mem.is_object() && mem.contains("kernel_map_bytes")) {
        x.begin("xdpfw_kernel_map_bytes", gauge, "Kernel memory of the program's maps");
        x.sample({}, mem["kernel_map_bytes"].get<uint64_t>());
    }
    if (mem.is_object() && mem.contains("daemon_rss_bytes")) {
        x.begin("xdpfw_daemon_rss_bytes", gauge, "Resident memory of xdpfwd");
        x.sample({}, mem["daemon_rss_bytes"].get<uint64_t>());
    }
    x.begin("xdpfw_interface_info", gauge, "An interface xdpfw filters, and its XDP attach mode");
    for (const InterfaceStatus& i : interfaces)
        x.sample({{"iface", i.name}, {"mode", i.mode}}, uint64_t(1));
    write_ct(x, view.ct_stats());
}

// The event ring (docs/ARCHITECTURE.md, "Events"): kernel per-CPU counters
// in a pinned map, so monotonic across restarts like the rule counters.
void write_events(Exposition& x, const DataplaneView& view)
{
    const nlohmann::json ev = view.events();
    if (!ev.is_object())
        return;
    x.begin("xdpfw_events_total", counter, "Sampled packets written to the event ring buffer");
    x.sample({}, ev.value("sent", uint64_t(0)));
    x.begin("xdpfw_event_ring_drops_total", counter,
            "Ring-buffer event drops: events lost to a full ring (the packets were not)");
    x.sample({}, ev.value("ring_lost", uint64_t(0)));
    x.begin("xdpfw_event_monitor_drops_total", counter,
            "Events monitors were too slow to take (since the daemon started)");
    x.sample({}, ev.value("monitor_lost", uint64_t(0)));
    x.begin("xdpfw_event_monitors", gauge, "Monitors connected to the control socket");
    x.sample({}, ev.value("monitors", uint64_t(0)));
}

// One family per worker counter, labelled iface and queue.
template <typename Get>
void worker_family(Exposition& x, const xsk::EngineStats& st, const char* name, const char* help,
                   Get get)
{
    x.begin(name, counter, help);
    for (const xsk::WorkerStats& w : st.workers)
        x.sample({{"iface", w.ifname}, {"queue", std::to_string(w.queue)}}, uint64_t(get(w)));
}

void write_workers(Exposition& x, const xsk::EngineStats& st)
{
    using W = xsk::WorkerStats;
    x.begin("xdpfw_xsk_worker_running", gauge, "1 while the AF_XDP worker of the queue runs");
    for (const W& w : st.workers)
        x.sample({{"iface", w.ifname},
                  {"queue", std::to_string(w.queue)},
                  {"bind", w.zero_copy ? "zero-copy" : "copy"}},
                 uint64_t(w.running));
    worker_family(x, st, "xdpfw_xsk_rx_packets_total", "Frames the worker received",
                  [](const W& w) { return w.rx_packets; });
    worker_family(x, st, "xdpfw_xsk_rx_bytes_total", "Bytes of the frames the worker received",
                  [](const W& w) { return w.rx_bytes; });
    worker_family(x, st, "xdpfw_xsk_forwarded_packets_total",
                  "Frames handed on (queued for tx inline, written to the host device)",
                  [](const W& w) { return w.forwarded; });
    worker_family(x, st, "xdpfw_xsk_verdict_dropped_packets_total",
                  "Frames an inspection rule dropped", [](const W& w) { return w.dropped_verdict; });
    worker_family(x, st, "xdpfw_xsk_tx_packets_total", "Frames sent",
                  [](const W& w) { return w.tx_packets; });
    worker_family(x, st, "xdpfw_xsk_tx_bytes_total", "Bytes of the frames sent",
                  [](const W& w) { return w.tx_bytes; });
    worker_family(x, st, "xdpfw_xsk_malformed_packets_total",
                  "Frames whose payload the inspector could not parse",
                  [](const W& w) { return w.malformed; });
    worker_family(x, st, "xdpfw_xsk_tx_ring_empty_total",
                  "Times the kernel found the tx ring empty (not a drop)",
                  [](const W& w) { return w.kernel.tx_ring_empty; });
    // Frames lost, each counted once: these reasons add up. The kernel's
    // fill-ring-empty count is not among them: in copy mode every such frame
    // is already in rx_dropped (net/xdp/xsk.c), so a sum over reasons would
    // count it twice; it is a ring event below, like the retried fill and
    // skipped fill descriptors.
    x.begin("xdpfw_xsk_drops_total", counter,
            "Frames the worker's socket lost, by reason; each frame once, so reasons add up "
            "(docs/DAEMON.md, \"AF_XDP engine\")");
    for (const W& w : st.workers) {
        const std::pair<const char*, uint64_t> drops[] = {
            {"rx_ring_full", w.kernel.rx_ring_full}, {"rx_dropped", w.kernel.rx_dropped},
            {"tx_invalid_descs", w.kernel.tx_invalid_descs}, {"invalid_desc", w.invalid_desc},
            {"tx_busy", w.tx_busy}, {"tx_errors", w.tx_errors}, {"host_non_ip", w.host_non_ip}};
        for (const auto& [reason, n] : drops)
            x.sample({{"iface", w.ifname}, {"queue", std::to_string(w.queue)}, {"reason", reason}},
                     n);
    }
    x.begin("xdpfw_xsk_ring_events_total", counter,
            "Ring conditions that are not frames lost: fill ring found empty (its frames are in "
            "rx_dropped), fill descriptors skipped as invalid, returned frames the fill ring had "
            "no room for yet (retried)");
    for (const W& w : st.workers) {
        const std::pair<const char*, uint64_t> events[] = {
            {"fill_ring_empty", w.kernel.rx_fill_ring_empty},
            {"rx_invalid_descs", w.kernel.rx_invalid_descs}, {"fill_short", w.fill_short}};
        for (const auto& [event, n] : events)
            x.sample({{"iface", w.ifname}, {"queue", std::to_string(w.queue)}, {"event", event}},
                     n);
    }
}

void write_inspect_rules(Exposition& x, const LivePolicy& p, const xsk::EngineStats& st)
{
    std::map<uint32_t, xsk::RuleStats> by_id;
    for (const xsk::RuleStats& r : st.rules)
        by_id[r.rule_id] = r;
    std::vector<std::pair<Labels, xsk::RuleStats>> rows;
    for (const auto& r : p.inspect_rules) {
        auto it = by_id.find(r.id);
        rows.emplace_back(Labels{{"id", std::to_string(r.id)},
                                 {"priority", std::to_string(r.priority)},
                                 {"action", inspect::verdict_name(r.action)}},
                          it == by_id.end() ? xsk::RuleStats{} : it->second);
    }
    const std::pair<const char*, uint64_t xsk::RuleStats::*> families[] = {
        {"xdpfw_inspect_rule_packets_total", &xsk::RuleStats::packets},
        {"xdpfw_inspect_rule_bytes_total", &xsk::RuleStats::bytes},
        {"xdpfw_inspect_rule_dropped_packets_total", &xsk::RuleStats::dropped},
        {"xdpfw_inspect_rule_forwarded_packets_total", &xsk::RuleStats::forwarded}};
    for (const auto& [name, field] : families) {
        x.begin(name, counter, "Inspection rule counters, summed over the AF_XDP workers");
        for (const auto& [labels, s] : rows)
            x.sample(labels, s.*field);
    }
}

void write_inspect(Exposition& x, const inspect::InspectStats& is)
{
    x.begin("xdpfw_inspect_packets_total", counter, "Frames the inspection rules looked at");
    x.sample({}, is.packets);
    x.begin("xdpfw_inspect_bytes_total", counter, "Bytes of the frames inspected");
    x.sample({}, is.bytes);
    x.begin("xdpfw_inspect_no_payload_packets_total", counter,
            "Frames without a TCP/UDP payload to inspect (default verdict only)");
    x.sample({}, is.no_payload);
    x.begin("xdpfw_inspect_dns_queries_total", counter, "DNS queries whose question parsed");
    x.sample({}, is.dns_queries);
    x.begin("xdpfw_inspect_dns_malformed_total", counter, "UDP to port 53 that did not parse");
    for (size_t i = 1; i < is.dns_malformed.size(); ++i)
        x.sample({{"reason", inspect::dns_status_name(inspect::DnsStatus(i))}}, is.dns_malformed[i]);
    x.begin("xdpfw_inspect_frame_malformed_total", counter, "Frames the inspector could not parse");
    for (size_t i = 1; i < is.frame_malformed.size(); ++i)
        x.sample({{"reason", inspect::frame_error_name(inspect::FrameError(i))}},
                 is.frame_malformed[i]);
}

template <typename T> void sort_by_priority(std::vector<T>& v)
{
    std::sort(v.begin(), v.end(), [](const T& a, const T& b) {
        return std::pair(a.priority, a.id) < std::pair(b.priority, b.id);
    });
}

} // namespace

std::vector<double> commit_duration_bounds()
{
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

LivePolicy live_policy_of(const Policy& policy, uint64_t version)
{
    LivePolicy p;
    p.version = version;
    p.rules.reserve(policy.rules.size());
    for (const Rule& r : policy.rules)
        p.rules.push_back({r.id, r.priority, r.action, r.comment});
    sort_by_priority(p.rules);
    for (const inspect::InspectRule& r : policy.inspect)
        p.inspect_rules.push_back({r.id, r.priority, r.action});
    sort_by_priority(p.inspect_rules);
    for (const auto& [name, set] : policy.sets)
        p.sets.emplace_back(name, set.prefixes().size());
    return p;
}

DaemonMetrics::DaemonMetrics() : commit_seconds_(commit_duration_bounds()) {}

void DaemonMetrics::live(const Policy& policy, uint64_t version, std::optional<double> commit_seconds)
{
    auto p = std::make_shared<const LivePolicy>(live_policy_of(policy, version));
    if (commit_seconds)
        commit_seconds_.observe(*commit_seconds);
    std::lock_guard lock(mu_);
    live_ = std::move(p);
    version_ = version;
}

void DaemonMetrics::committed(uint64_t version, double commit_seconds)
{
    commit_seconds_.observe(commit_seconds);
    std::lock_guard lock(mu_);
    version_ = version;
}

std::shared_ptr<const LivePolicy> DaemonMetrics::current() const
{
    std::shared_ptr<const LivePolicy> p;
    {
        std::lock_guard lock(mu_);
        if (live_->version == version_ || !reader_)
            return live_;
    }
    // Not under mu_: the reader takes the store's lock, which a commit
    // holds while it calls committed().
    reader_([&](const Policy& policy, uint64_t version) {
        p = std::make_shared<const LivePolicy>(live_policy_of(policy, version));
    });
    std::lock_guard lock(mu_);
    if (p && p->version >= live_->version)
        live_ = p;
    return live_;
}

std::string DaemonMetrics::render(const DataplaneView& view,
                                  const std::vector<InterfaceStatus>& interfaces,
                                  const EngineSample* engine) const
{
    const std::shared_ptr<const LivePolicy> p = current();
    Exposition x;
    write_rules(x, *p, view);
    write_reasons(x, view);
    write_policy(x, *p, commit_seconds_.snapshot());
    write_daemon(x, view, interfaces);
    write_events(x, view);
    if (engine) {
        write_workers(x, engine->engine);
        write_inspect_rules(x, *p, engine->engine);
        write_inspect(x, engine->inspect);
    }
    return x.take();
}

} // namespace xdpfw::metrics
