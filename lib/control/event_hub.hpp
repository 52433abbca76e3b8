// SPDX-License-Identifier: GPL-2.0-only
// The monitors of the control socket (`monitor`, docs/PROTOCOL.md
// "Streams"): who listens for events, with which filter, and how many
// events each lost. publish() never blocks: a monitor whose connection has
// too much unread output loses the event (counted, and told with a
// {"lost": N} line once its queue has room again).
#pragma once

#include "lib/control/server.hpp"
#include "lib/protocol/stream.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace xdpfw {

// One event as the monitors see it: what the filters look at, and its line
// without and with the frame bytes (rendered only when a monitor wants it).
struct PublishedEvent {
    uint32_t rule_id = 0; // XDPFW_NO_RULE for default and malformed verdicts
    std::string reason;   // reason_name()
    std::function<std::string(bool packets)> line;
};

struct EventHubCounters {
    size_t monitors = 0;       // connected now
    uint64_t delivered = 0;    // event lines queued to monitors
    uint64_t lost = 0;         // events monitors were too slow for
};

class EventHub {
public:
    // Adds a monitor (the stream handler's call, on the control worker).
    void subscribe(std::shared_ptr<StreamOutput> out, protocol::MonitorRequest filter);
    // Whether any monitor is connected (a cheap check before rendering).
    bool listening() const;
    // Hands e to every monitor whose filter it passes; forgets the closed.
    void publish(const PublishedEvent& e);
    EventHubCounters counters() const;

private:
    struct Monitor {
        std::shared_ptr<StreamOutput> out;
        protocol::MonitorRequest filter;
        uint64_t lost = 0;          // events this monitor lost
        uint64_t lost_told = 0;     // of them, reported in a {"lost"} line
    };
    bool deliver(Monitor& m, const std::string& line);

    mutable std::mutex mu_;
    std::vector<Monitor> monitors_;
    uint64_t delivered_ = 0, lost_ = 0;
};

} // namespace xdpfw
