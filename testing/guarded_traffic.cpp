// SPDX-License-Identifier: GPL-2.0-only
// GuardedTraffic (guarded_traffic.hpp).
#include "testing/guarded_traffic.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

namespace xdpfw::test {

using namespace std::chrono_literals;

std::string TrafficLedger::text() const
{
    return fmt::format("allowed: sent {} (+{} the sender's veth dropped), counted by the firewall "
                       "{}, received {}, dropped by the full receive buffer {}; blocked: sent {} "
                       "(+{}), dropped by the firewall {}, received {}",
                       allowed_sent, allowed_local_drops, allowed_counted, allowed_received,
                       socket_drops, blocked_sent, blocked_local_drops, blocked_counted,
                       blocked_received);
}

GuardedTraffic::GuardedTraffic(DaemonLab& lab, uint16_t allowed_port, uint16_t blocked_port,
                               uint32_t count_rule, uint32_t drop_rule,
                               std::chrono::microseconds interval)
    : lab_(lab), count_rule_(count_rule), drop_rule_(drop_rule)
{
    allowed_sink_ = std::make_unique<UdpSink>(lab.dut, DaemonLab::dut4, allowed_port);
    blocked_sink_ = std::make_unique<UdpSink>(lab.dut, DaemonLab::dut4, blocked_port);
    count_base_ = lab.daemon.rule_packets(count_rule);
    drop_base_ = lab.daemon.rule_packets(drop_rule);
    rcvbuf_base_ = udp_snmp(lab.dut, "RcvbufErrors");
    to_allowed_ = std::make_unique<UdpStream>(lab.peer, "", DaemonLab::dut4, allowed_port, interval);
    to_blocked_ = std::make_unique<UdpStream>(lab.peer, "", DaemonLab::dut4, blocked_port, interval);
}

GuardedTraffic::~GuardedTraffic() = default;

size_t GuardedTraffic::allowed_received() const
{
    return allowed_sink_->total();
}

size_t GuardedTraffic::blocked_received() const
{
    return blocked_sink_->total();
}

TrafficLedger GuardedTraffic::finish()
{
    to_allowed_->stop();
    to_blocked_->stop();
    TrafficLedger l;
    l.allowed_sent = to_allowed_->sent();
    l.allowed_local_drops = to_allowed_->local_drops();
    l.blocked_sent = to_blocked_->sent();
    l.blocked_local_drops = to_blocked_->local_drops();
    // Frames still in the veth ring reach XDP within microseconds; a loaded
    // machine may take longer to run the softirq.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (true) {
        l.allowed_counted = lab_.daemon.rule_packets(count_rule_) - count_base_;
        l.blocked_counted = lab_.daemon.rule_packets(drop_rule_) - drop_base_;
        l.socket_drops = udp_snmp(lab_.dut, "RcvbufErrors") - rcvbuf_base_;
        const bool counted = l.allowed_counted >= l.allowed_sent &&
                             l.blocked_counted >= l.blocked_sent;
        if ((counted && allowed_sink_->total() + l.socket_drops >= l.allowed_counted) ||
            std::chrono::steady_clock::now() >= deadline)
            break;
        std::this_thread::sleep_for(50ms);
    }
    l.allowed_received = allowed_sink_->total();
    l.blocked_received = blocked_sink_->total();
    return l;
}

void expect_filtered_throughout(const TrafficLedger& l, const std::string& what)
{
    std::cerr << "traffic through the " << what << ": " << l.text() << "\n";
    EXPECT_GT(l.allowed_sent, 500u) << l.text();
    EXPECT_EQ(l.allowed_counted, l.allowed_sent) << "allowed lost at the firewall: " << l.text();
    EXPECT_EQ(l.blocked_counted, l.blocked_sent) << l.text();
    EXPECT_EQ(l.blocked_received, 0u) << "blocked traffic passed: " << l.text();
    EXPECT_EQ(l.allowed_received + l.socket_drops, l.allowed_counted)
        << "passed datagrams missing beyond the receive buffer's drops: " << l.text();
}

} // namespace xdpfw::test
