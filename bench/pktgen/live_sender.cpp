// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-pktgen's sender: loads the rewriter with the flow's layout and ranges
// and drives BPF_PROG_RUN (live frames) in chunks.
#include "bench/pktgen/live_sender.hpp"

#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "xdpfw_pktgen_xdp.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace xdpfw::pktgen {

namespace {

using Clock = std::chrono::steady_clock;

// The kernel's limit per BPF_PROG_RUN call in live mode (TEST_XDP_MAX_BATCH).
constexpr uint32_t max_batch = 256;
// Every BPF_PROG_RUN call with repeat > 1 costs a fixed ~20 ms here: the
// kernel swaps the program into its XDP dispatcher for the run and out again
// (text patching and an RCU wait), whatever the frame count. So full-speed
// chunks are long, and rate-limited runs send bursts (see below).
constexpr auto chunk_target = std::chrono::milliseconds(500);
constexpr uint32_t first_chunk = 65536;
constexpr uint32_t min_chunk = 1024;
constexpr uint32_t max_chunk = 1u << 26;
// Up to this rate every frame is its own call with repeat = 1 (no
// dispatcher swap, ~50 us): evenly spaced frames. Above it, each call sends
// a tenth of a second's frames as one burst and the sender sleeps until the
// burst is due, holding the average.
constexpr uint64_t single_frame_rate = 1000;
constexpr uint64_t bursts_per_second = 10;

struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
};

std::string errno_text(int err)
{
    return std::strerror(err);
}

} // namespace

InterfaceInfo query_interface(const std::string& ifname)
{
    if (ifname.empty() || ifname.size() >= IFNAMSIZ)
        throw std::invalid_argument("--dev '" + ifname + "': not an interface name");
    InterfaceInfo info;
    info.name = ifname;
    info.ifindex = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (info.ifindex == 0)
        throw std::invalid_argument("--dev " + ifname + ": no such interface");

    Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (sock.fd < 0)
        throw std::system_error(errno, std::generic_category(), "socket for interface queries");
    ifreq req{};
    std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    if (ioctl(sock.fd, SIOCGIFHWADDR, &req) < 0)
        throw std::invalid_argument("--dev " + ifname + ": reading its MAC address: " +
                                    errno_text(errno));
    std::copy_n(reinterpret_cast<const uint8_t*>(req.ifr_hwaddr.sa_data), 6, info.mac.begin());
    if (ioctl(sock.fd, SIOCGIFMTU, &req) < 0)
        throw std::invalid_argument("--dev " + ifname + ": reading its MTU: " + errno_text(errno));
    info.mtu = static_cast<unsigned>(req.ifr_mtu);
    if (ioctl(sock.fd, SIOCGIFFLAGS, &req) < 0)
        throw std::invalid_argument("--dev " + ifname + ": reading its flags: " + errno_text(errno));
    info.up = (req.ifr_flags & IFF_UP) != 0;
    return info;
}

void LiveSender::Deleter::operator()(xdpfw_pktgen_xdp* s) const
{
    xdpfw_pktgen_xdp__destroy(s);
}

LiveSender::LiveSender(const Flow& flow, int ifindex) : frame_(pktgen::template_frame(flow))
{
    skel_.reset(xdpfw_pktgen_xdp__open());
    if (!skel_)
        throw BpfError(errno, "open the pktgen rewriter");
    auto* ro = skel_->rodata;
    const RewriteLayout l = rewrite_layout(flow);
    ro->cfg_ifindex = static_cast<uint32_t>(ifindex);
    ro->cfg_addr_words = l.addr_words;
    ro->cfg_src_off = l.src_off;
    ro->cfg_dst_off = l.dst_off;
    ro->cfg_ip_csum_off = l.ip_csum_off;
    ro->cfg_l4_csum_off = l.l4_csum_off;
    ro->cfg_l4_pseudo = l.l4_pseudo ? 1 : 0;
    ro->cfg_l4_udp = l.l4_udp ? 1 : 0;
    ro->cfg_sport_off = l.sport_off;
    ro->cfg_dport_off = l.dport_off;
    const auto src = first_words(flow.src);
    const auto dst = first_words(flow.dst);
    for (size_t i = 0; i < 4; ++i) {
        ro->cfg_src_first[i] = src[i];
        ro->cfg_dst_first[i] = dst[i];
    }
    ro->cfg_src_count = flow.src.count;
    ro->cfg_dst_count = flow.dst.count;
    ro->cfg_sport_first = flow.sport.first;
    ro->cfg_sport_count = flow.sport.count;
    ro->cfg_dport_first = flow.dport.first;
    ro->cfg_dport_count = flow.dport.count;

    LibbpfLogCapture capture;
    if (int err = xdpfw_pktgen_xdp__load(skel_.get()))
        throw BpfError(-err, "load the pktgen rewriter", capture.text());
}

LiveSender::~LiveSender() = default;

uint64_t LiveSender::sequence() const
{
    return __atomic_load_n(&skel_->bss->pktgen_seq, __ATOMIC_RELAXED);
}

int LiveSender::run_chunk(uint32_t frames, uint32_t batch)
{
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = frame_.data();
    opts.data_size_in = static_cast<uint32_t>(frame_.size());
    opts.repeat = static_cast<int>(frames);
    opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    opts.batch_size = batch;
    return bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.pktgen_xdp), &opts);
}

void LiveSender::send_burst(uint32_t frames, uint32_t batch)
{
    if (batch < 1 || batch > max_batch)
        throw std::invalid_argument("batch " + std::to_string(batch) + ": must be 1.." +
                                    std::to_string(max_batch));
    const int err = run_chunk(frames, batch);
    if (err && err != -EINTR)
        throw BpfError(-err, "BPF_PROG_RUN (live frames)");
}

void prepare_sender(const SendOptions& o)
{
    if (o.batch < 1 || o.batch > max_batch)
        throw std::invalid_argument("--batch " + std::to_string(o.batch) + ": must be 1.." +
                                    std::to_string(max_batch));
    if (o.count == 0 && o.duration <= 0)
        throw std::invalid_argument("give --count or --duration");
    if (o.cpu < -1)
        throw std::invalid_argument("--cpu " + std::to_string(o.cpu) + ": not a CPU number");
    if (o.cpu >= 0) {
        // BPF_PROG_RUN runs the program and transmits on the calling CPU.
        cpu_set_t set;
        CPU_ZERO(&set);
        if (o.cpu >= CPU_SETSIZE)
            throw std::invalid_argument("--cpu " + std::to_string(o.cpu) + ": out of range");
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            throw std::invalid_argument("--cpu " + std::to_string(o.cpu) + ": " + errno_text(errno) +
                                        " (this machine has " +
                                        std::to_string(std::thread::hardware_concurrency()) +
                                        " CPUs, 0-based)");
    }
}

SendResult LiveSender::run(const SendOptions& o, const volatile std::sig_atomic_t* stop)
{
    prepare_sender(o);
    const uint64_t base = sequence();
    SendResult res;
    const auto start = Clock::now();
    const auto deadline = o.duration > 0
                              ? start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(o.duration))
                              : Clock::time_point::max();
    // A duration may be short and the rate is unknown yet: start small.
    uint64_t chunk = o.duration > 0 ? min_chunk * 4 : first_chunk;
    if (o.rate)
        chunk = o.rate <= single_frame_rate
                    ? 1
                    : std::clamp<uint64_t>(o.rate / bursts_per_second, 1, max_chunk);
    double est_pps = 0; // measured full-speed rate, to end a duration on time

    for (;;) {
        if (stop && *stop) {
            res.interrupted = true;
            break;
        }
        const auto now = Clock::now();
        if (now >= deadline)
            break;
        const uint64_t sent = sequence() - base;
        if (o.count && sent >= o.count)
            break;
        uint64_t n = chunk;
        if (o.count)
            n = std::min(n, o.count - sent);
        if (!o.rate && deadline != Clock::time_point::max() && est_pps > 0) {
            const double left = std::chrono::duration<double>(deadline - now).count();
            n = std::min<uint64_t>(n, static_cast<uint64_t>(left * est_pps) + 1);
        }

        const auto t0 = Clock::now();
        const int err = run_chunk(static_cast<uint32_t>(n), o.batch);
        const auto t1 = Clock::now();
        if (err == -EINTR) {
            // A signal cut the run short; the sequence counter says how far
            // it got.
            res.interrupted = true;
            break;
        }
        if (err == -EINVAL && sequence() == base)
            throw BpfError(EINVAL, "BPF_PROG_RUN (live frames) refused the " +
                                       std::to_string(frame_.size()) +
                                       "-byte frame (a live frame must fit in one page with "
                                       "the kernel's head- and tailroom, about 3.5 KB)");
        if (err)
            throw BpfError(-err, "BPF_PROG_RUN (live frames)");

        if (o.rate) {
            // Hold the average: frame k is due at start + k / rate.
            const uint64_t done = sequence() - base;
            const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(done) /
                                                                       static_cast<double>(o.rate)));
            std::this_thread::sleep_until(std::min(due, deadline));
        } else {
            const double secs = std::chrono::duration<double>(t1 - t0).count();
            if (secs > 0) {
                est_pps = static_cast<double>(n) / secs;
                const double want = est_pps * std::chrono::duration<double>(chunk_target).count();
                chunk = std::clamp<uint64_t>(static_cast<uint64_t>(want), min_chunk, max_chunk);
            }
        }
    }
    res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    res.packets = sequence() - base;
    if (skel_->bss->pktgen_short)
        throw std::logic_error("the rewriter met " + std::to_string(skel_->bss->pktgen_short) +
                               " frames shorter than its offsets (a pktgen bug)");
    return res;
}

} // namespace xdpfw::pktgen
