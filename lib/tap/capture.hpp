// SPDX-License-Identifier: GPL-2.0-only
// The tap itself: an AF_PACKET socket on one interface with the socket
// filter attached, receiving the frames that passed XDP (incoming only),
// written as a pcap file through libpcap.
#pragma once

#include "lib/base/unique_fd.hpp"
#include "lib/tap/program.hpp"

#include <xdpfw/abi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

struct pcap;
struct pcap_dumper;

namespace xdpfw::tap {

struct TapOptions {
    std::string iface;      // capture on this interface (of the current netns)
    std::string file;       // pcap output; "-" is stdout
    uint64_t count = 0;     // stop after this many frames (0: no limit)
    double duration = 0;    // stop after this many seconds (0: no limit)
    xdpfw_tap_filter filter{};
};

struct TapResult {
    uint64_t captured = 0;     // frames written to the file
    uint64_t socket_drops = 0; // matched, but lost: the socket's queue was full
};

// The frames tcpdump -w would keep: up to this many bytes of each.
inline constexpr uint32_t tap_snaplen = 262144;

class Tap {
public:
    // Loads the filter program, opens the socket (filter attached before it
    // is bound, so no unfiltered frame is queued) and the output file.
    // Throws BpfError (a load error carries the verifier log) or
    // std::system_error naming what failed.
    static Tap open(const TapOptions& opts);
    Tap(Tap&&) noexcept;
    Tap& operator=(Tap&&) noexcept;
    ~Tap();

    uint32_t prog_id() const { return prog_.prog_id(); }

    // Captures until count frames, duration seconds, or stop() returns true
    // (polled at least every 100 ms and after each frame; e.g. a signal
    // flag). The file is flushed and closed on return.
    TapResult run(const std::function<bool()>& stop);

private:
    struct PcapCloser { void operator()(pcap*) const; };
    struct DumperCloser { void operator()(pcap_dumper*) const; };
    Tap(TapOptions o, TapProgram p, UniqueFd s);
    void write_frame(const uint8_t* frame, size_t caplen, size_t len, const void* msg);
    uint64_t socket_drops() const;

    TapOptions opts_;
    TapProgram prog_;
    UniqueFd sock_;
    std::unique_ptr<pcap, PcapCloser> pcap_;
    std::unique_ptr<pcap_dumper, DumperCloser> dumper_;
};

} // namespace xdpfw::tap
