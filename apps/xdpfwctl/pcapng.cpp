// SPDX-License-Identifier: GPL-2.0-only
// PcapngWriter: blocks in host byte order (the SHB's byte-order magic tells
// readers which), every block and option padded to 32 bits.
#include "apps/xdpfwctl/pcapng.hpp"

#include <cstring>
#include <vector>

namespace xdpfw::ctl {
namespace {

constexpr uint32_t kShb = 0x0A0D0D0A, kIdb = 0x00000001, kEpb = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEnd = 0, kOptComment = 1;
constexpr uint16_t kShbUserAppl = 4, kIfTsresol = 9;
constexpr uint16_t kLinktypeEthernet = 1;

// A block body under construction.
struct Body {
    std::vector<uint8_t> b;

    template <typename T> void put(T v)
    {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + sizeof(v));
    }
    void bytes(const void* p, size_t n)
    {
        const auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
        pad();
    }
    void pad()
    {
        while (b.size() % 4)
            b.push_back(0);
    }
    void option(uint16_t code, const void* p, size_t n)
    {
        put(code);
        put(uint16_t(n));
        bytes(p, n);
    }
    void end_options()
    {
        put(kOptEnd);
        put(uint16_t(0));
    }
};

// Type, total length, body, total length again.
void write_block(std::ostream& out, uint32_t type, const Body& body)
{
    const uint32_t total = uint32_t(body.b.size()) + 12;
    out.write(reinterpret_cast<const char*>(&type), 4);
    out.write(reinterpret_cast<const char*>(&total), 4);
    out.write(reinterpret_cast<const char*>(body.b.data()), std::streamsize(body.b.size()));
    out.write(reinterpret_cast<const char*>(&total), 4);
}

} // namespace

PcapngWriter::PcapngWriter(std::ostream& out, uint32_t snaplen, const std::string& application)
    : out_(out)
{
    Body shb;
    shb.put(kByteOrderMagic);
    shb.put(uint16_t(1)); // major version
    shb.put(uint16_t(0)); // minor version
    shb.put(int64_t(-1)); // section length: not given
    shb.option(kShbUserAppl, application.data(), application.size());
    shb.end_options();
    write_block(out_, kShb, shb);

    Body idb;
    idb.put(kLinktypeEthernet);
    idb.put(uint16_t(0)); // reserved
    idb.put(snaplen);
    const uint8_t nanoseconds = 9; // if_tsresol: 10^-9
    idb.option(kIfTsresol, &nanoseconds, 1);
    idb.end_options();
    write_block(out_, kIdb, idb);
}

void PcapngWriter::packet(uint64_t time_ns, std::span<const uint8_t> captured,
                          uint32_t original_len, const std::string& comment)
{
    Body epb;
    epb.put(uint32_t(0)); // interface id
    epb.put(uint32_t(time_ns >> 32));
    epb.put(uint32_t(time_ns));
    epb.put(uint32_t(captured.size()));
    epb.put(original_len);
    epb.bytes(captured.data(), captured.size());
    if (!comment.empty()) {
        epb.option(kOptComment, comment.data(), comment.size());
        epb.end_options();
    }
    write_block(out_, kEpb, epb);
    ++packets_;
}

} // namespace xdpfw::ctl
