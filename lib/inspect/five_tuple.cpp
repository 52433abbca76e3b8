// SPDX-License-Identifier: GPL-2.0-only
// decode_five_tuple(): Ethernet, VLAN, IPv4/IPv6, TCP/UDP ports, read as far
// as the bytes go.
#include "lib/inspect/five_tuple.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace xdpfw::inspect {
namespace {

uint16_t be16(std::span<const uint8_t> f, size_t at)
{
    return uint16_t(f[at] << 8 | f[at + 1]);
}

// IPv6 extension headers the XDP parser walks too (parse.h).
bool is_ext6(uint8_t next)
{
    return next == 0 || next == 43 || next == 44 || next == 60 || next == 51;
}

void ports(std::span<const uint8_t> f, size_t l4, FiveTuple& t)
{
    if ((t.proto == 6 || t.proto == 17) && f.size() >= l4 + 4) {
        t.has_ports = true;
        t.sport = be16(f, l4);
        t.dport = be16(f, l4 + 2);
    }
}

void ipv4(std::span<const uint8_t> f, size_t at, FiveTuple& t)
{
    if (f.size() < at + 20 || (f[at] >> 4) != 4)
        return;
    t.family = 4;
    t.proto = f[at + 9];
    std::memcpy(t.src.data(), &f[at + 12], 4);
    std::memcpy(t.dst.data(), &f[at + 16], 4);
    const bool first_fragment = (be16(f, at + 6) & 0x1fff) == 0;
    if (first_fragment)
        ports(f, at + size_t(f[at] & 0xf) * 4, t);
}

void ipv6(std::span<const uint8_t> f, size_t at, FiveTuple& t)
{
    if (f.size() < at + 40 || (f[at] >> 4) != 6)
        return;
    t.family = 6;
    std::memcpy(t.src.data(), &f[at + 8], 16);
    std::memcpy(t.dst.data(), &f[at + 24], 16);
    uint8_t next = f[at + 6];
    size_t off = at + 40;
    bool first_fragment = true;
    for (int i = 0; i < 8 && is_ext6(next); i++) {
        if (f.size() < off + 8)
            return;
        if (next == 44)
            first_fragment = first_fragment && (be16(f, off + 2) & 0xfff8) == 0;
        const size_t len = next == 44 ? 8 : next == 51 ? (size_t(f[off + 1]) + 2) * 4
                                                        : (size_t(f[off + 1]) + 1) * 8;
        next = f[off];
        off += len;
    }
    t.proto = next;
    if (first_fragment)
        ports(f, off, t);
}

} // namespace

FiveTuple decode_five_tuple(std::span<const uint8_t> f)
{
    FiveTuple t;
    if (f.size() < 14)
        return t;
    size_t at = 12;
    uint16_t type = be16(f, at);
    for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8) && f.size() >= at + 6; tags++) {
        at += 4;
        type = be16(f, at);
    }
    t.ethertype = type;
    at += 2;
    if (type == 0x0800)
        ipv4(f, at, t);
    else if (type == 0x86dd)
        ipv6(f, at, t);
    return t;
}

std::string address_text(const FiveTuple& t, bool source)
{
    if (t.family == 0)
        return "";
    char buf[INET6_ADDRSTRLEN] = {};
    const auto& a = source ? t.src : t.dst;
    inet_ntop(t.family == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof(buf));
    return buf;
}

} // namespace xdpfw::inspect
