// SPDX-License-Identifier: GPL-2.0-only
// A minimal pcapng writer (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html):
// one Section Header Block, one Interface Description Block (Ethernet,
// nanosecond timestamps), then one Enhanced Packet Block per packet with an
// opt_comment. Written here because libpcap 1.10 (Debian 12) writes only
// the classic pcap format (pcap_dump_open), which has no per-packet
// comment; `xdpfwctl capture` needs the comment for the rule id, verdict
// and reason.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>

namespace xdpfw::ctl {

class PcapngWriter {
public:
    // Writes the SHB and the IDB (linktype 1, snaplen) to out at once.
    PcapngWriter(std::ostream& out, uint32_t snaplen, const std::string& application);
    // One EPB: time in ns since the Unix epoch, the captured bytes, the
    // frame's length on the wire, and a comment ("" for none).
    void packet(uint64_t time_ns, std::span<const uint8_t> captured, uint32_t original_len,
                const std::string& comment);
    uint64_t packets() const { return packets_; }

private:
    std::ostream& out_;
    uint64_t packets_ = 0;
};

} // namespace xdpfw::ctl
