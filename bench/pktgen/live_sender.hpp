// SPDX-License-Identifier: GPL-2.0-only
// The sending side of xdpfw-pktgen: the rewriter program loaded for one flow
// and interface, driven by BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES in
// chunks (count, duration, rate limit, CPU pinning).
#pragma once

#include "bench/pktgen/flow.hpp"

#include <array>
#include <csignal>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct xdpfw_pktgen_xdp; // generated skeleton

namespace xdpfw::pktgen {

struct InterfaceInfo {
    std::string name;
    int ifindex = 0;
    std::array<uint8_t, 6> mac{};
    unsigned mtu = 0;
    bool up = false;
};

// Looks ifname up in the calling thread's network namespace. Throws
// std::invalid_argument "--dev veth9: no such interface".
InterfaceInfo query_interface(const std::string& ifname);

struct SendOptions {
    uint64_t count = 0;    // frames to send; 0: until the duration is over
    double duration = 0;   // seconds; 0: until count frames are sent
    uint64_t rate = 0;     // frames per second; 0: as fast as possible
    uint32_t batch = 64;   // frames per kernel batch (1..256)
    int cpu = -1;          // pin the calling thread to this CPU first; -1: don't
};

struct SendResult {
    uint64_t packets = 0; // frames the rewriter handed to the interface
    double seconds = 0;   // wall time of the run (with rate-limit pauses)
    bool interrupted = false;
    double pps() const { return seconds > 0 ? static_cast<double>(packets) / seconds : 0; }
};

// Checks opts (batch, count or duration) and pins the calling thread to
// opts.cpu when set. Throws std::invalid_argument naming the option.
// LiveSender::run() calls it too; calling it first lets a caller refuse bad
// options before it prints anything.
void prepare_sender(const SendOptions& opts);

class LiveSender {
public:
    // Builds the template frame and loads the rewriter for flow, redirecting
    // to ifindex. Throws BpfError (lib/kernel/loader.hpp) when loading fails.
    LiveSender(const Flow& flow, int ifindex);
    ~LiveSender();
    LiveSender(const LiveSender&) = delete;
    LiveSender& operator=(const LiveSender&) = delete;

    // Sends until opts.count frames went out, opts.duration passed, or *stop
    // turned non-zero (a signal handler's flag; a signal also ends the
    // current kernel run early). Throws what prepare_sender() throws, and
    // BpfError when BPF_PROG_RUN fails.
    SendResult run(const SendOptions& opts, const volatile std::sig_atomic_t* stop = nullptr);

    const std::vector<uint8_t>& template_frame() const { return frame_; }

    // For harnesses that time the traffic themselves (xdpfw-bench): one
    // kernel run of `frames` frames in batches of `batch` (1..256), on the
    // calling thread's CPU and network namespace; throws BpfError. -EINTR
    // (a signal) ends it early without an error.
    void send_burst(uint32_t frames, uint32_t batch);
    // Frames handed to the interface since the program was loaded: a
    // counter in the program's .bss, readable from any thread while a run
    // is going on.
    uint64_t frames_sent() const { return sequence(); }

private:
    int run_chunk(uint32_t frames, uint32_t batch);
    uint64_t sequence() const;

    struct Deleter { void operator()(xdpfw_pktgen_xdp*) const; };
    std::unique_ptr<xdpfw_pktgen_xdp, Deleter> skel_;
    std::vector<uint8_t> frame_;
};

} // namespace xdpfw::pktgen
