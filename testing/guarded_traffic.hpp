// SPDX-License-Identifier: GPL-2.0-only
// Allowed and blocked UDP streams through a daemon lab, counted at the
// sender, at the firewall (rule counters) and at the receiving sockets, so a
// test tells a packet the firewall lost from one the socket dropped.
#pragma once

#include "testing/daemon_runner.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace xdpfw::test {

// Each stream's datagrams at every step: sent (handed to the peer veth and
// so to dut0's XDP program, each once: UdpStream), what the firewall's
// rule counted (count_rule for the allowed port, drop_rule for the blocked
// one), what the sink received, and what dut's UDP stack dropped for a full
// receive buffer (RcvbufErrors, after XDP passed them).
struct TrafficLedger {
    size_t allowed_sent = 0, allowed_local_drops = 0, allowed_received = 0;
    uint64_t allowed_counted = 0, socket_drops = 0;
    size_t blocked_sent = 0, blocked_local_drops = 0, blocked_received = 0;
    uint64_t blocked_counted = 0;
    std::string text() const;
};

class GuardedTraffic {
public:
    // Sinks on dut4:allowed_port and dut4:blocked_port, then one stream to
    // each from peer every interval. count_rule must count (action=count or
    // pass) exactly the allowed port's datagrams, drop_rule drop exactly the
    // blocked port's; their counters are read as differences from now.
    GuardedTraffic(DaemonLab& lab, uint16_t allowed_port, uint16_t blocked_port,
                   uint32_t count_rule, uint32_t drop_rule,
                   std::chrono::microseconds interval);
    ~GuardedTraffic();
    // Stops both streams, waits (up to 5 s) until the counters and the sink
    // caught up with what was sent, and returns the ledger. Call once.
    TrafficLedger finish();
    // Datagrams each sink received so far.
    size_t allowed_received() const;
    size_t blocked_received() const;

private:
    DaemonLab& lab_;
    uint32_t count_rule_, drop_rule_;
    uint64_t count_base_ = 0, drop_base_ = 0, rcvbuf_base_ = 0;
    std::unique_ptr<UdpSink> allowed_sink_, blocked_sink_;
    std::unique_ptr<UdpStream> to_allowed_, to_blocked_;
};

// Every allowed datagram the sender handed over was counted by the
// firewall's count rule (passed, whichever program ran at that moment),
// every blocked one by its drop rule, and none reached the blocked socket.
// What the allowed socket lacks is exactly what its full receive buffer
// dropped (RcvbufErrors): the loaded machine's doing, after the firewall
// passed it. Prints the ledger (what: "tier swaps", "upgrade").
void expect_filtered_throughout(const TrafficLedger& l, const std::string& what);

} // namespace xdpfw::test
