// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's receiving ends and stack error counters (see the header).
#include "bench/suite/receivers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <sstream>
#include <string>
#include <system_error>

namespace xdpfw::bench {

void Receiver::settle() const
{
    uint64_t last = count();
    for (int i = 0; i < 100; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const uint64_t now = count();
        if (now == last)
            return;
        last = now;
    }
}

SocketSink::SocketSink(const Lab& lab)
{
    fd_ = lab::socket_in(lab.dut, AF_INET, SOCK_DGRAM, 0);
    const int buf = 64 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(kTrafficDport);
    inet_pton(AF_INET, Lab::dut_addr, &sa.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        const int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "bind the pass-path socket");
    }
    reader_ = std::thread([this] { read_loop(); });
}

SocketSink::~SocketSink()
{
    stop_ = true;
    reader_.join();
    ::close(fd_);
}

void SocketSink::read_loop()
{
    constexpr unsigned kVec = 64;
    static thread_local char bufs[kVec][128];
    mmsghdr msgs[kVec]{};
    iovec iov[kVec];
    for (unsigned i = 0; i < kVec; ++i) {
        iov[i] = {bufs[i], sizeof bufs[i]};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // Polls without blocking: a sleeping reader would cost the
    // generator's CPU a wake-up per datagram.
    while (!stop_) {
        const int n = recvmmsg(fd_, msgs, kVec, MSG_DONTWAIT, nullptr);
        if (n > 0)
            count_ += static_cast<uint64_t>(n);
        else
            std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

uint64_t stack_errors(const Lab& lab)
{
    const std::string snmp = lab::run_in_checked(lab.dut, "cat /proc/net/snmp");
    std::istringstream in(snmp);
    std::string head, vals;
    uint64_t total = 0;
    while (std::getline(in, head) && std::getline(in, vals)) {
        std::istringstream hs(head), vs(vals);
        std::string h, v;
        while (hs >> h && vs >> v) {
            if ((head.rfind("Ip:", 0) == 0 && h == "InHdrErrors") ||
                (head.rfind("Udp:", 0) == 0 && h == "InCsumErrors"))
                total += std::stoull(v);
        }
    }
    return total;
}

} // namespace xdpfw::bench
