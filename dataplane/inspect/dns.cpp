// SPDX-License-Identifier: GPL-2.0-only
// DNS query name parsing and rule-name helpers.
#include "dataplane/inspect/dns.hpp"

#include "dataplane/inspect/rule.hpp"

#include <cstdio>

namespace xdpfw::inspect {

namespace {

char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
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

std::string dns_name_problem(std::string_view text)
{
    if (text.empty())
        return "empty name";
    std::string_view name = text.back() == '.' ? text.substr(0, text.size() - 1) : text;
    if (name.empty())
        return "'" + std::string(text) + "' is the root, not a name";
    if (name.size() > max_dns_text_len)
        return "name is " + std::to_string(name.size()) + " characters, more than " +
               std::to_string(max_dns_text_len);
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        size_t end = dot == std::string_view::npos ? name.size() : dot;
        std::string_view label = name.substr(start, end - start);
        if (label.empty())
            return "empty label in '" + std::string(text) + "'";
        if (label.size() > max_dns_label_len)
            return "label '" + std::string(label) + "' is " + std::to_string(label.size()) +
                   " characters, more than " + std::to_string(max_dns_label_len);
        for (char c : label)
            if (!label_char(c))
                return "character '" + std::string(1, c) + "' in '" + std::string(text) +
                       "' (labels are letters, digits, '-' and '_')";
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return {};
}

std::string normalize_dns_name(std::string_view text)
{
    std::string s(text);
    if (!s.empty() && s.back() == '.')
        s.pop_back();
    for (char& c : s)
        c = lower(c);
    return s;
}

std::string dns_name_to_wire(std::string_view name)
{
    std::string wire;
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        size_t end = dot == std::string_view::npos ? name.size() : dot;
        wire += static_cast<char>(end - start);
        wire.append(name.substr(start, end - start));
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    wire += '\0';
    return wire;
}

std::string dns_wire_to_text(std::string_view wire)
{
    std::string text;
    size_t pos = 0;
    while (pos < wire.size()) {
        size_t len = static_cast<uint8_t>(wire[pos]);
        if (len == 0 || pos + 1 + len > wire.size())
            break;
        if (!text.empty())
            text += '.';
        for (char c : wire.substr(pos + 1, len)) {
            if (label_char(c)) {
                text += lower(c);
            } else {
                char buf[5];
                std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(static_cast<uint8_t>(c)));
                text += buf;
            }
        }
        pos += 1 + len;
    }
    return text;
}

} // namespace xdpfw::inspect
