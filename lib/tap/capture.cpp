// SPDX-License-Identifier: GPL-2.0-only
// The tap's packet socket, receive loop and pcap output (see capture.hpp).
#include "lib/tap/capture.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <vector>

namespace xdpfw::tap {

namespace {

constexpr size_t mac_len = 2 * ETH_ALEN;
constexpr size_t vlan_tag_len = 4;

[[noreturn]] void fail(int err, const std::string& what)
{
    throw std::system_error(err, std::generic_category(), what);
}

void set_option(int fd, int level, int name, int value, const char* what)
{
    if (setsockopt(fd, level, name, &value, sizeof(value)))
        fail(errno, std::string("tap socket: ") + what);
}

// socket() with protocol 0 receives nothing until bind() names one: the
// filter is in place before the first frame is queued.
UniqueFd open_socket(const std::string& iface, int prog_fd)
{
    const unsigned ifindex = if_nametoindex(iface.c_str());
    if (ifindex == 0)
        fail(errno == 0 ? ENODEV : errno, "interface " + iface);
    UniqueFd s(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (s.get() < 0)
        fail(errno, "open a packet socket (needs CAP_NET_RAW)");
    set_option(s.get(), SOL_SOCKET, SO_ATTACH_BPF, prog_fd, "attach the socket filter");
    // The tag the receive path took off the frame, to put back (auxdata).
    set_option(s.get(), SOL_PACKET, PACKET_AUXDATA, 1, "PACKET_AUXDATA");
    set_option(s.get(), SOL_SOCKET, SO_TIMESTAMP, 1, "SO_TIMESTAMP");
    // What the interface sends did not pass its XDP program.
    set_option(s.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
    // Room for bursts; the kernel caps it at net.core.rmem_max.
    const int rcvbuf = 4 << 20;
    setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(ifindex);
    if (bind(s.get(), reinterpret_cast<sockaddr*>(&sll), sizeof(sll)))
        fail(errno, "bind the packet socket to " + iface);
    return s;
}

} // namespace

void Tap::PcapCloser::operator()(pcap* p) const
{
    pcap_close(p);
}

void Tap::DumperCloser::operator()(pcap_dumper* d) const
{
    pcap_dump_close(d);
}

Tap::Tap(TapOptions o, TapProgram p, UniqueFd s)
    : opts_(std::move(o)), prog_(std::move(p)), sock_(std::move(s))
{
}
Tap::Tap(Tap&&) noexcept = default;
Tap& Tap::operator=(Tap&&) noexcept = default;
Tap::~Tap() = default;

Tap Tap::open(const TapOptions& opts)
{
    TapProgram prog = TapProgram::load(opts.filter);
    UniqueFd sock = open_socket(opts.iface, prog.prog_fd());
    Tap tap(opts, std::move(prog), std::move(sock));
    tap.pcap_.reset(pcap_open_dead(DLT_EN10MB, static_cast<int>(tap_snaplen)));
    if (!tap.pcap_)
        fail(ENOMEM, "pcap_open_dead");
    tap.dumper_.reset(pcap_dump_open(tap.pcap_.get(), opts.file.c_str()));
    if (!tap.dumper_)
        fail(EIO, "open " + opts.file + ": " + pcap_geterr(tap.pcap_.get()));
    return tap;
}

// One frame into the file, with the VLAN tag the receive path removed put
// back after the MAC addresses (as libpcap does for a live capture).
void Tap::write_frame(const uint8_t* frame, size_t caplen, size_t len, const void* msg_ptr)
{
    const auto* msg = static_cast<const msghdr*>(msg_ptr);
    pcap_pkthdr h{};
    bool have_ts = false;
    const tpacket_auxdata* aux = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
            aux = reinterpret_cast<const tpacket_auxdata*>(CMSG_DATA(c));
        else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMP) {
            std::memcpy(&h.ts, CMSG_DATA(c), sizeof(h.ts));
            have_ts = true;
        }
    }
    if (!have_ts)
        gettimeofday(&h.ts, nullptr);
    std::vector<uint8_t> tagged;
    if (aux && (aux->tp_status & TP_STATUS_VLAN_VALID) && caplen >= mac_len) {
        const uint16_t tpid = (aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux->tp_vlan_tpid
                                                                            : ETH_P_8021Q;
        const uint16_t tag[2] = {htons(tpid), htons(static_cast<uint16_t>(aux->tp_vlan_tci))};
        tagged.assign(frame, frame + mac_len);
        tagged.insert(tagged.end(), reinterpret_cast<const uint8_t*>(tag),
                      reinterpret_cast<const uint8_t*>(tag) + vlan_tag_len);
        tagged.insert(tagged.end(), frame + mac_len, frame + caplen);
        frame = tagged.data();
        caplen = std::min<size_t>(tagged.size(), tap_snaplen);
        len += vlan_tag_len;
    }
    h.caplen = static_cast<uint32_t>(caplen);
    h.len = static_cast<uint32_t>(len);
    pcap_dump(reinterpret_cast<u_char*>(dumper_.get()), &h, frame);
}

uint64_t Tap::socket_drops() const
{
    tpacket_stats st{};
    socklen_t len = sizeof(st);
    if (getsockopt(sock_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len))
        return 0;
    return st.tp_drops;
}

TapResult Tap::run(const std::function<bool()>& stop)
{
    using clock = std::chrono::steady_clock;
    const auto deadline = opts_.duration > 0
                              ? clock::now() + std::chrono::duration_cast<clock::duration>(
                                                   std::chrono::duration<double>(opts_.duration))
                              : clock::time_point::max();
    std::vector<uint8_t> buf(tap_snaplen);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(tpacket_auxdata)) + CMSG_SPACE(sizeof(timeval))];
    TapResult r;
    const auto done = [&] { return opts_.count && r.captured >= opts_.count; };
    while (!done() && !stop()) {
        const auto now = clock::now();
        if (now >= deadline)
            break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        pollfd pfd{sock_.get(), POLLIN, 0};
        const int n = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 100)));
        if (n < 0 && errno != EINTR)
            fail(errno, "poll the tap socket");
        while (n > 0 && !done()) {
            iovec iov{buf.data(), buf.size()};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof(control);
            // MSG_TRUNC: the frame's whole length, however much fits.
            const ssize_t len = recvmsg(sock_.get(), &msg, MSG_DONTWAIT | MSG_TRUNC);
            if (len < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                fail(errno, "receive from the tap socket");
            }
            write_frame(buf.data(), std::min<size_t>(size_t(len), buf.size()), size_t(len), &msg);
            ++r.captured;
        }
    }
    pcap_dump_flush(dumper_.get());
    dumper_.reset();
    r.socket_drops = socket_drops();
    return r;
}

} // namespace xdpfw::tap
