// SPDX-License-Identifier: GPL-2.0-only
// DNS query parsing (RFC 1035 section 4.1) for inspection: the header and the
// first question's name, lower-cased, in wire form. Never follows compression
// pointers and never reads outside the payload it is given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lib/model/dns_name.hpp"

namespace xdpfw::inspect {

// Result of parse_dns_query(). Everything but ok is a malformed reason with
// its own counter (InspectStats::dns_malformed, printed by dns_status_name).
enum class DnsStatus : uint8_t {
    ok = 0,
    truncated_header,    // fewer than the 12 header bytes
    no_question,         // QDCOUNT is 0
    label_past_end,      // a length byte or label runs past the payload
    compression_pointer, // a 0b11 label type: refused in a query name, never followed
    reserved_label_type, // a 0b01 or 0b10 label type (RFC 6891 / obsolete)
    name_too_long,       // more than 255 octets in wire form
    truncated_question,  // QTYPE/QCLASS missing after the name
    count
};

const char* dns_status_name(DnsStatus s); // "ok", "truncated_header", ...

inline constexpr size_t dns_header_len = 12;
inline constexpr size_t max_dns_wire_len = 255;

// The first question of a query. wire holds the name as length-prefixed
// labels ending in the root's zero byte, ASCII letters lower-cased;
// label_start[i] is where label i's length byte sits (0 for the first).
// Only the first wire_len / labels entries are meaningful: the arrays are
// left uninitialised so a per-packet DnsQuestion costs no clearing.
struct DnsQuestion {
    std::array<uint8_t, max_dns_wire_len> wire;
    size_t wire_len = 0;
    std::array<uint8_t, max_dns_wire_len / 2 + 1> label_start;
    size_t labels = 0; // not counting the root
    uint16_t qtype = 0;
    uint16_t qclass = 0;

    std::string_view wire_view() const
    {
        return {reinterpret_cast<const char*>(wire.data()), wire_len};
    }
    // The wire name from label i on (a suffix on a label boundary).
    std::string_view suffix_from(size_t i) const { return wire_view().substr(label_start[i]); }
};

// Parses a DNS message (the UDP payload) as a query: the 12-byte header,
// QDCOUNT >= 1 and the first question. The QR bit and the opcode are not
// checked: any message to port 53 is looked at as a query.
DnsStatus parse_dns_query(std::span<const uint8_t> msg, DnsQuestion& out);

} // namespace xdpfw::inspect
