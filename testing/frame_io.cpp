// SPDX-License-Identifier: GPL-2.0-only
// Raw frame sender and capture; a small xdpfw instance for tests.
#include "testing/frame_io.hpp"

#include "lib/compiler/compiler.hpp"
#include "lib/kernel/attach.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

namespace xdpfw::test {

std::array<uint8_t, 6> parse_mac(const std::string& text)
{
    std::array<unsigned, 6> v{};
    char tail = 0;
    if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                    &tail) != 6)
        throw std::invalid_argument("not a MAC address: \"" + text + "\"");
    std::array<uint8_t, 6> m{};
    for (size_t i = 0; i < 6; ++i)
        m[i] = uint8_t(v[i]);
    return m;
}

FrameSender::FrameSender(const NetNs& ns, const std::string& ifname)
{
    ifindex_ = ifindex_in(ns, ifname);
    fd_ = socket_in(ns, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
}

FrameSender::~FrameSender() { ::close(fd_); }

void FrameSender::send(const std::vector<uint8_t>& frame)
{
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex_;
    sll.sll_halen = 6;
    if (sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&sll),
               sizeof(sll)) != ssize_t(frame.size()))
        throw std::system_error(errno, std::generic_category(), "send raw frame");
}

int udp_dport(const std::vector<uint8_t>& f)
{
    if (f.size() < 14)
        return -1;
    const uint16_t type = uint16_t(f[12] << 8 | f[13]);
    size_t l4 = 0;
    if (type == ETH_P_IP && f.size() >= 34 && f[23] == IPPROTO_UDP)
        l4 = 14 + size_t(f[14] & 0x0f) * 4;
    else if (type == ETH_P_IPV6 && f.size() >= 54 && f[20] == IPPROTO_UDP)
        l4 = 54;
    else
        return -1;
    if (f.size() < l4 + 4)
        return -1;
    return f[l4 + 2] << 8 | f[l4 + 3];
}

FrameCapture::FrameCapture(const NetNs& ns, const std::string& ifname, uint16_t dport)
    : dport_(dport)
{
    fd_ = socket_in(ns, AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex_in(ns, ifname);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll))) {
        int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "bind capture on " + ifname);
    }
    thread_ = std::thread([this] {
        std::vector<uint8_t> buf(65536);
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0)
                continue;
            sockaddr_ll from{};
            socklen_t len = sizeof(from);
            const ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0,
                                       reinterpret_cast<sockaddr*>(&from), &len);
            if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING)
                continue;
            std::vector<uint8_t> f(buf.begin(), buf.begin() + n);
            if (udp_dport(f) != dport_)
                continue;
            std::lock_guard lk(mu_);
            frames_.push_back(std::move(f));
        }
    });
}

FrameCapture::~FrameCapture()
{
    stop_ = true;
    thread_.join();
    ::close(fd_);
}

std::vector<std::vector<uint8_t>> FrameCapture::frames() const
{
    std::lock_guard lk(mu_);
    return frames_;
}

size_t FrameCapture::count() const
{
    std::lock_guard lk(mu_);
    return frames_.size();
}

size_t FrameCapture::wait_for(size_t want, std::chrono::milliseconds wait) const
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (count() < want && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return count();
}

FwInstance::FwInstance(const NetNs& ns_, LoadOptions o)
    : ns(ns_), obj(XdpfwObject::load(o)), maps(std::make_unique<PolicyMaps>(obj))
{
}

void FwInstance::commit(const Policy& p)
{
    EnterNetns in(ns);
    auto resolve = [](const std::string& name) -> uint32_t {
        if (unsigned idx = if_nametoindex(name.c_str()))
            return idx;
        throw PolicyError("interface", name, "no such interface");
    };
    maps->commit(compile(p, {.caps = obj.options().caps, .resolve = resolve}), ++version_);
}

void FwInstance::attach(const std::string& ifname)
{
    EnterNetns in(ns);
    AttachOptions o;
    o.mode = AttachMode::native;
    links_.push_back(std::make_shared<XdpAttachment>(XdpAttachment::attach(obj, ifname, o)));
}

uint64_t FwInstance::reason_packets(uint32_t reason) const
{
    return maps->reason_counters()[reason].packets;
}

} // namespace xdpfw::test
