// SPDX-License-Identifier: GPL-2.0-only
// DNS query parsing.
#include "lib/inspect/dns.hpp"

namespace xdpfw::inspect {

namespace {

char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace

const char* dns_status_name(DnsStatus s)
{
    switch (s) {
    case DnsStatus::ok: return "ok";
    case DnsStatus::truncated_header: return "truncated_header";
    case DnsStatus::no_question: return "no_question";
    case DnsStatus::label_past_end: return "label_past_end";
    case DnsStatus::compression_pointer: return "compression_pointer";
    case DnsStatus::reserved_label_type: return "reserved_label_type";
    case DnsStatus::name_too_long: return "name_too_long";
    case DnsStatus::truncated_question: return "truncated_question";
    case DnsStatus::count: break;
    }
    return "unknown";
}

DnsStatus parse_dns_query(std::span<const uint8_t> msg, DnsQuestion& out)
{
    out.wire_len = 0;
    out.labels = 0;
    if (msg.size() < dns_header_len)
        return DnsStatus::truncated_header;
    const unsigned qdcount = static_cast<unsigned>(msg[4]) << 8 | msg[5];
    if (qdcount == 0)
        return DnsStatus::no_question;

    // Every step consumes at least one byte, so the walk ends within
    // msg.size() steps; a pointer is refused before it could be followed.
    size_t pos = dns_header_len;
    while (true) {
        if (pos >= msg.size())
            return DnsStatus::label_past_end;
        const uint8_t len = msg[pos];
        const uint8_t type = len & 0xc0;
        if (type == 0xc0)
            return DnsStatus::compression_pointer;
        if (type != 0)
            return DnsStatus::reserved_label_type;
        if (out.wire_len + 1u + len > max_dns_wire_len)
            return DnsStatus::name_too_long;
        if (len == 0) {
            out.wire[out.wire_len++] = 0;
            ++pos;
            break;
        }
        if (pos + 1u + len > msg.size())
            return DnsStatus::label_past_end;
        out.label_start[out.labels++] = static_cast<uint8_t>(out.wire_len);
        out.wire[out.wire_len++] = len;
        for (size_t i = 0; i < len; ++i)
            out.wire[out.wire_len++] = static_cast<uint8_t>(lower(static_cast<char>(msg[pos + 1 + i])));
        pos += 1u + len;
    }
    if (pos + 4 > msg.size())
        return DnsStatus::truncated_question;
    out.qtype = static_cast<uint16_t>(msg[pos] << 8 | msg[pos + 1]);
    out.qclass = static_cast<uint16_t>(msg[pos + 2] << 8 | msg[pos + 3]);
    return DnsStatus::ok;
}

} // namespace xdpfw::inspect
