// SPDX-License-Identifier: GPL-2.0-only
// RAII owners of one AF_XDP socket and its UMEM (libxdp's xsk API): the
// packet buffer area, the fill/completion rings, the rx/tx rings, the bind
// mode (zero-copy with an automatic fallback to copy mode), busy polling and
// the kernel's XDP_STATISTICS.
#pragma once

#include <linux/if_xdp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

struct xsk_umem;
struct xsk_socket;
struct xsk_ring_prod;
struct xsk_ring_cons;

namespace xdpfw::xsk {

// An error from the kernel or libxdp: errno plus what we were doing
// ("create AF_XDP socket on veth1 queue 0: Device or resource busy").
class XskError : public std::system_error {
public:
    XskError(int err, const std::string& what);
};

enum class ZeroCopy : uint8_t {
    auto_, // zero-copy where the driver supports it, else copy mode
    on,    // zero-copy or fail
    off,   // copy mode
};
const char* zero_copy_name(ZeroCopy z); // "auto", "on", "off"
// Parses "auto", "on", "off"; throws std::invalid_argument naming the word.
ZeroCopy parse_zero_copy(const std::string& text);

struct SocketOptions {
    uint32_t ring_size = 2048;  // rx, tx, fill and completion ring entries (power of two)
    uint32_t frame_size = 2048; // UMEM frame size: 2048 or 4096
    ZeroCopy zero_copy = ZeroCopy::auto_;
    bool busy_poll = false;     // SO_PREFER_BUSY_POLL + SO_BUSY_POLL
    uint32_t busy_poll_usecs = 20;
    uint32_t batch = 64;        // also SO_BUSY_POLL_BUDGET
};

// The kernel's drop counters of one socket (getsockopt XDP_STATISTICS).
struct KernelRingStats {
    uint64_t rx_dropped = 0;            // frames the kernel dropped for other reasons
    uint64_t rx_invalid_descs = 0;      // invalid descriptors on the fill ring
    uint64_t tx_invalid_descs = 0;      // invalid descriptors on the tx ring
    uint64_t rx_ring_full = 0;          // rx ring full: frame dropped
    uint64_t rx_fill_ring_empty = 0;    // no buffer on the fill ring: frame dropped
    uint64_t tx_ring_empty = 0;         // tx ring empty when the kernel looked
    KernelRingStats& operator+=(const KernelRingStats& o);
};

// One AF_XDP socket bound to ifname/queue with a UMEM of its own:
// ring_size frames for receiving (all handed to the fill ring at creation)
// followed by ring_size frames for transmitting (tx_frame(i)). libxdp's
// default program is never loaded (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD): the
// caller puts fd() into its own XskMap.
class XskSocket {
public:
    // Creates the UMEM and the socket (xsk_umem__create,
    // xsk_socket__create_shared). With ZeroCopy::auto_ a zero-copy bind the
    // driver refuses is retried in copy mode; zero_copy() tells which took.
    // The interface is resolved in the calling thread's network namespace.
    static std::unique_ptr<XskSocket> create(const std::string& ifname, uint32_t queue,
                                             const SocketOptions& opts);
    ~XskSocket();
    XskSocket(const XskSocket&) = delete;
    XskSocket& operator=(const XskSocket&) = delete;

    int fd() const;
    const std::string& ifname() const { return ifname_; }
    uint32_t queue() const { return queue_; }
    bool zero_copy() const { return zero_copy_; }
    const SocketOptions& options() const { return opts_; }

    xsk_ring_cons* rx() { return rx_.get(); }
    xsk_ring_prod* tx() { return tx_.get(); }
    xsk_ring_prod* fill() { return fill_.get(); }
    xsk_ring_cons* comp() { return comp_.get(); }

    uint8_t* umem_area() const { return area_; }
    uint64_t umem_size() const { return area_size_; }
    // UMEM offset of the i-th transmit frame (i < ring_size).
    uint64_t tx_frame(uint32_t i) const { return uint64_t(opts_.ring_size + i) * opts_.frame_size; }

    // Reads XDP_STATISTICS; throws XskError.
    KernelRingStats kernel_stats() const;
    // Tells the kernel there are tx descriptors (sendto); returns 0 or errno.
    int kick_tx() const;
    // Drives the rx side when polling is busy or the fill ring needs a
    // wakeup (recvfrom, non-blocking).
    void kick_rx() const;

private:
    XskSocket() = default;
    void bind(bool zero_copy);
    void destroy_socket() noexcept;

    std::string ifname_;
    uint32_t queue_ = 0;
    SocketOptions opts_;
    bool zero_copy_ = false;
    uint8_t* area_ = nullptr;
    uint64_t area_size_ = 0;
    xsk_umem* umem_ = nullptr;
    xsk_socket* xsk_ = nullptr;
    std::unique_ptr<xsk_ring_prod> fill_, tx_;
    std::unique_ptr<xsk_ring_cons> comp_, rx_;
};

// Number of rx queues of ifname (ETHTOOL_GCHANNELS: the larger of rx and
// combined channels; 1 when the driver does not report channels).
uint32_t rx_queue_count(const std::string& ifname);

} // namespace xdpfw::xsk
