// SPDX-License-Identifier: GPL-2.0-only
// AF_XDP socket and UMEM owners on libxdp's xsk API.
#include "lib/xsk/socket.hpp"

#include <fmt/format.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace xdpfw::xsk {

XskError::XskError(int err, const std::string& what)
    : std::system_error(err, std::generic_category(), what)
{
}

const char* zero_copy_name(ZeroCopy z)
{
    switch (z) {
    case ZeroCopy::auto_: return "auto";
    case ZeroCopy::on: return "on";
    case ZeroCopy::off: return "off";
    }
    return "?";
}

ZeroCopy parse_zero_copy(const std::string& text)
{
    if (text == "auto")
        return ZeroCopy::auto_;
    if (text == "on")
        return ZeroCopy::on;
    if (text == "off")
        return ZeroCopy::off;
    throw std::invalid_argument("zero_copy \"" + text + "\" is not one of auto, on, off");
}

KernelRingStats& KernelRingStats::operator+=(const KernelRingStats& o)
{
    rx_dropped += o.rx_dropped;
    rx_invalid_descs += o.rx_invalid_descs;
    tx_invalid_descs += o.tx_invalid_descs;
    rx_ring_full += o.rx_ring_full;
    rx_fill_ring_empty += o.rx_fill_ring_empty;
    tx_ring_empty += o.tx_ring_empty;
    return *this;
}

namespace {

bool power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

void set_opt(int fd, int name, int value, const std::string& what)
{
    if (setsockopt(fd, SOL_SOCKET, name, &value, sizeof(value)))
        throw XskError(errno, what);
}

} // namespace

std::unique_ptr<XskSocket> XskSocket::create(const std::string& ifname, uint32_t queue,
                                             const SocketOptions& opts)
{
    if (!power_of_two(opts.ring_size) || opts.ring_size < 64 || opts.ring_size > 32768)
        throw std::invalid_argument(
            fmt::format("ring_size {} must be a power of two in 64..32768", opts.ring_size));
    if (opts.frame_size != 2048 && opts.frame_size != 4096)
        throw std::invalid_argument(fmt::format("frame_size {} must be 2048 or 4096", opts.frame_size));
    if (opts.batch < 1 || opts.batch > opts.ring_size)
        throw std::invalid_argument(
            fmt::format("batch {} must be in 1..ring_size ({})", opts.batch, opts.ring_size));

    std::unique_ptr<XskSocket> s(new XskSocket());
    s->ifname_ = ifname;
    s->queue_ = queue;
    s->opts_ = opts;
    s->fill_ = std::make_unique<xsk_ring_prod>();
    s->tx_ = std::make_unique<xsk_ring_prod>();
    s->comp_ = std::make_unique<xsk_ring_cons>();
    s->rx_ = std::make_unique<xsk_ring_cons>();
    s->area_size_ = uint64_t(2) * opts.ring_size * opts.frame_size;
    void* area = mmap(nullptr, s->area_size_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (area == MAP_FAILED) {
        s->area_ = nullptr;
        throw XskError(errno, fmt::format("map {} bytes of UMEM for {} queue {}", s->area_size_,
                                          ifname, queue));
    }
    s->area_ = static_cast<uint8_t*>(area);

    if (opts.zero_copy == ZeroCopy::off) {
        s->bind(false);
    } else {
        try {
            s->bind(true);
        } catch (const XskError& e) {
            if (opts.zero_copy == ZeroCopy::on)
                throw;
            spdlog::debug("xsk zero-copy bind refused ifname={} queue={} error=\"{}\"; copy mode",
                          ifname, queue, e.what());
            s->bind(false);
        }
    }

    // Every receive frame goes to the fill ring now: the kernel has buffers
    // from the first packet on.
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(s->fill_.get(), opts.ring_size, &idx) != opts.ring_size)
        throw XskError(ENOSPC, "fill ring of " + ifname + " refused its frames");
    for (uint32_t i = 0; i < opts.ring_size; ++i)
        *xsk_ring_prod__fill_addr(s->fill_.get(), idx + i) = uint64_t(i) * opts.frame_size;
    xsk_ring_prod__submit(s->fill_.get(), opts.ring_size);

    if (opts.busy_poll) {
        const std::string what = fmt::format("enable busy polling on {} queue {}", ifname, queue);
        set_opt(s->fd(), SO_PREFER_BUSY_POLL, 1, what);
        set_opt(s->fd(), SO_BUSY_POLL, int(opts.busy_poll_usecs), what);
        set_opt(s->fd(), SO_BUSY_POLL_BUDGET, int(opts.batch), what);
    }
    spdlog::info("xsk socket ifname={} queue={} mode={} busy_poll={}", ifname, queue,
                 s->zero_copy_ ? "zero-copy" : "copy", opts.busy_poll);
    return s;
}

// One bind attempt: a fresh UMEM registration and socket, so a refused
// zero-copy bind leaves nothing behind for the copy-mode retry.
void XskSocket::bind(bool zero_copy)
{
    destroy_socket();
    xsk_umem_config ucfg{};
    ucfg.fill_size = opts_.ring_size;
    ucfg.comp_size = opts_.ring_size;
    ucfg.frame_size = opts_.frame_size;
    ucfg.frame_headroom = 0;
    ucfg.flags = 0;
    int err = xsk_umem__create(&umem_, area_, area_size_, fill_.get(), comp_.get(), &ucfg);
    if (err) {
        umem_ = nullptr;
        throw XskError(-err, fmt::format("register UMEM for {} queue {}", ifname_, queue_));
    }
    xsk_socket_config scfg{};
    scfg.rx_size = opts_.ring_size;
    scfg.tx_size = opts_.ring_size;
    scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    scfg.xdp_flags = 0;
    scfg.bind_flags = uint16_t((zero_copy ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP);
    // A socket closed a moment ago may still hold the queue: the kernel
    // releases its buffer pool from a work queue. Wait for that (EBUSY).
    for (int tries = 0;; ++tries) {
        err = xsk_socket__create_shared(&xsk_, ifname_.c_str(), queue_, umem_, rx_.get(),
                                        tx_.get(), fill_.get(), comp_.get(), &scfg);
        if (err != -EBUSY || tries >= 200)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (err) {
        xsk_ = nullptr;
        destroy_socket();
        throw XskError(-err, fmt::format("create AF_XDP socket ({} mode) on {} queue {}",
                                         zero_copy ? "zero-copy" : "copy", ifname_, queue_));
    }
    zero_copy_ = zero_copy;
}

void XskSocket::destroy_socket() noexcept
{
    if (xsk_) {
        xsk_socket__delete(xsk_);
        xsk_ = nullptr;
    }
    if (umem_) {
        int err = xsk_umem__delete(umem_);
        if (err)
            spdlog::warn("xsk delete UMEM ifname={} queue={} error=\"{}\"", ifname_, queue_,
                         std::strerror(-err));
        umem_ = nullptr;
    }
}

XskSocket::~XskSocket()
{
    destroy_socket();
    if (area_)
        munmap(area_, area_size_);
}

int XskSocket::fd() const { return xsk_socket__fd(xsk_); }

KernelRingStats XskSocket::kernel_stats() const
{
    xdp_statistics st{};
    socklen_t len = sizeof(st);
    if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &st, &len))
        throw XskError(errno, fmt::format("read XDP_STATISTICS of {} queue {}", ifname_, queue_));
    KernelRingStats k;
    k.rx_dropped = st.rx_dropped;
    k.rx_invalid_descs = st.rx_invalid_descs;
    k.tx_invalid_descs = st.tx_invalid_descs;
    // The last three arrived with Linux 5.9; older kernels return a shorter struct.
    if (len >= sizeof(st)) {
        k.rx_ring_full = st.rx_ring_full;
        k.rx_fill_ring_empty = st.rx_fill_ring_empty_descs;
        k.tx_ring_empty = st.tx_ring_empty_descs;
    }
    return k;
}

int XskSocket::kick_tx() const
{
    if (sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0)
        return 0;
    return errno;
}

void XskSocket::kick_rx() const { recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr); }

uint32_t rx_queue_count(const std::string& ifname)
{
    if (ifname.size() >= IFNAMSIZ)
        throw std::invalid_argument("interface name \"" + ifname + "\" is too long");
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw XskError(errno, "socket for ETHTOOL_GCHANNELS");
    ethtool_channels ch{};
    ch.cmd = ETHTOOL_GCHANNELS;
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
    ifr.ifr_data = reinterpret_cast<char*>(&ch);
    int rc = ioctl(fd, SIOCETHTOOL, &ifr);
    int err = errno;
    close(fd);
    if (rc) {
        if (err == ENODEV)
            throw XskError(err, "count rx queues of " + ifname);
        return 1; // the driver does not report channels: one queue
    }
    return std::max<uint32_t>(1, std::max(ch.rx_count, ch.combined_count));
}

} // namespace xdpfw::xsk
