// SPDX-License-Identifier: GPL-2.0-only
// Host mode's way back into the local stack: a TUN device (IFF_TUN,
// IFF_NO_PI) owned by the engine. A worker strips the Ethernet header (and
// VLAN tags) of an allowed frame and writes the IP packet to the device; the
// kernel receives it as if it had arrived on that interface, routes it to
// the local address and delivers it to the listening socket.
#pragma once

#include "lib/base/unique_fd.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace xdpfw::xsk {

class HostTun {
public:
    // Creates (non-persistent), brings up and turns off reverse-path
    // filtering on the device (warns when net.ipv4.conf.all.rp_filter is set), in the calling thread's network namespace.
    // Throws XskError naming the device.
    explicit HostTun(const std::string& name);
    ~HostTun() = default; // closing the last fd (fd_) removes the device
    HostTun(const HostTun&) = delete;
    HostTun& operator=(const HostTun&) = delete;

    const std::string& name() const { return name_; }
    int fd() const { return fd_.get(); }

    // Writes the IP packet inside an Ethernet frame. Returns 0, ENOPROTOOPT
    // for a frame that carries no IPv4/IPv6 packet (not injected), EINVAL for
    // a truncated header, or the errno of write(). Thread-safe.
    int inject(std::span<const uint8_t> frame) const;

private:
    std::string name_;
    UniqueFd fd_;
};

// Offset of the IP header in an Ethernet frame (after up to two VLAN tags)
// and its version (4 or 6); returns false when the frame carries no IP.
bool l3_offset(std::span<const uint8_t> frame, size_t* offset, int* version);

} // namespace xdpfw::xsk
