// SPDX-License-Identifier: GPL-2.0-only
// Raw frames in and out of test interfaces, and a small xdpfw instance that
// filters in a test namespace: for tests that must check what arrives byte
// for byte (the AF_XDP path forwards frames unchanged).
#pragma once

#include "lib/model/policy.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "testing/netns.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xdpfw::test {

// "02:99:..:01" -> bytes; throws std::invalid_argument.
std::array<uint8_t, 6> parse_mac(const std::string& text);

// Sends whole Ethernet frames out of ifname in ns (AF_PACKET).
class FrameSender {
public:
    FrameSender(const NetNs& ns, const std::string& ifname);
    ~FrameSender();
    FrameSender(const FrameSender&) = delete;
    FrameSender& operator=(const FrameSender&) = delete;
    // Throws std::system_error when the kernel refuses the frame.
    void send(const std::vector<uint8_t>& frame);

private:
    int fd_ = -1;
    int ifindex_ = 0;
};

// Records every frame ifname in ns receives (not the ones it sends) that is
// an IPv4/IPv6 UDP datagram to dport, on a thread, until destruction.
class FrameCapture {
public:
    FrameCapture(const NetNs& ns, const std::string& ifname, uint16_t dport);
    ~FrameCapture();
    FrameCapture(const FrameCapture&) = delete;
    FrameCapture& operator=(const FrameCapture&) = delete;

    std::vector<std::vector<uint8_t>> frames() const;
    size_t count() const;
    // Waits until count() reaches want or wait passed; returns count().
    size_t wait_for(size_t want, std::chrono::milliseconds wait) const;

private:
    int fd_ = -1;
    uint16_t dport_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;
    std::vector<std::vector<uint8_t>> frames_;
    std::thread thread_;
};

// The UDP destination port of an Ethernet frame (IPv4/IPv6, no VLAN), or -1.
int udp_dport(const std::vector<uint8_t>& frame);

// One xdpfw program with its maps, filtering in ns: commits resolve interface
// names there and attachments are made there.
class FwInstance {
public:
    explicit FwInstance(const NetNs& ns, LoadOptions o = small_load_options());
    void commit(const Policy& p);
    void attach(const std::string& ifname); // native mode; kept until destruction
    uint64_t reason_packets(uint32_t reason) const;

    const NetNs& ns;
    XdpfwObject obj;
    std::unique_ptr<PolicyMaps> maps;

private:
    uint64_t version_ = 0;
    std::vector<std::shared_ptr<void>> links_;
};

} // namespace xdpfw::test
