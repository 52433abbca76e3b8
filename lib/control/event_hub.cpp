// SPDX-License-Identifier: GPL-2.0-only
// EventHub: fan-out of event lines to the monitors, losing rather than waiting.
#include "lib/control/event_hub.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace xdpfw {

void EventHub::subscribe(std::shared_ptr<StreamOutput> out, protocol::MonitorRequest filter)
{
    std::lock_guard lock(mu_);
    monitors_.push_back(Monitor{std::move(out), std::move(filter)});
}

bool EventHub::listening() const
{
    std::lock_guard lock(mu_);
    return !monitors_.empty();
}

// A monitor that lost events hears how many before its next event, so its
// user knows the stream has gaps.
bool EventHub::deliver(Monitor& m, const std::string& line)
{
    if (m.lost != m.lost_told) {
        if (!m.out->send_line(nlohmann::json{{"lost", m.lost}}.dump()))
            return false;
        m.lost_told = m.lost;
    }
    return m.out->send_line(line);
}

void EventHub::publish(const PublishedEvent& e)
{
    std::lock_guard lock(mu_);
    std::erase_if(monitors_, [](const Monitor& m) { return m.out->closed(); });
    std::string plain, with_data; // rendered once, for the first monitor wanting each
    for (Monitor& m : monitors_) {
        if ((m.filter.rule && *m.filter.rule != e.rule_id) ||
            (m.filter.reason && *m.filter.reason != e.reason))
            continue;
        std::string& line = m.filter.packets ? with_data : plain;
        if (line.empty())
            line = e.line(m.filter.packets);
        if (deliver(m, line)) {
            ++delivered_;
        } else {
            ++m.lost;
            ++lost_;
        }
    }
}

EventHubCounters EventHub::counters() const
{
    std::lock_guard lock(mu_);
    return {monitors_.size(), delivered_, lost_};
}

} // namespace xdpfw
