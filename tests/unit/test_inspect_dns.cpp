// SPDX-License-Identifier: GPL-2.0-only
// DNS query parser (good and malformed queries), rule-name helpers, and a
// deterministic random-bytes run of the frame and DNS parsers.
#include "lib/inspect/dns.hpp"
#include "lib/inspect/frame.hpp"
#include "lib/inspect/inspect.hpp"
#include "testing/packet_builder.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace xdpfw;
using namespace xdpfw::inspect;

namespace {

// A query header (id 0x1234, RD, qdcount) followed by body bytes.
std::vector<uint8_t> dns_msg(std::vector<uint8_t> body, uint16_t qdcount = 1)
{
    std::vector<uint8_t> m = {0x12, 0x34, 0x01, 0x00, static_cast<uint8_t>(qdcount >> 8),
                              static_cast<uint8_t>(qdcount), 0, 0, 0, 0, 0, 0};
    m.insert(m.end(), body.begin(), body.end());
    return m;
}

std::vector<uint8_t> name_wire(std::string_view dotted)
{
    std::string w = dns_name_to_wire(dotted);
    return {w.begin(), w.end()};
}

std::vector<uint8_t> question(std::string_view dotted, uint16_t qtype = 1)
{
    auto q = name_wire(dotted);
    q.insert(q.end(), {static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
    return q;
}

InspectRule make_rule(uint32_t id, std::variant<BytePattern, DnsMatch> what)
{
    InspectRule r;
    r.id = id;
    r.priority = static_cast<int32_t>(id);
    r.what = std::move(what);
    return r;
}

DnsStatus status_of(const std::vector<uint8_t>& msg)
{
    DnsQuestion q;
    return parse_dns_query(msg, q);
}

} // namespace

TEST(DnsQuery, ParsesTheFirstQuestionLowerCased)
{
    auto msg = dns_msg(question("WWW.Evil.Example", 28));
    // A second question after the first is ignored.
    auto second = question("other.example");
    msg.insert(msg.end(), second.begin(), second.end());
    msg[5] = 2;
    DnsQuestion q;
    ASSERT_EQ(parse_dns_query(msg, q), DnsStatus::ok);
    EXPECT_EQ(q.wire_view(), dns_name_to_wire("www.evil.example"));
    EXPECT_EQ(dns_wire_to_text(q.wire_view()), "www.evil.example");
    EXPECT_EQ(q.labels, 3u);
    EXPECT_EQ(q.suffix_from(1), dns_name_to_wire("evil.example"));
    EXPECT_EQ(q.suffix_from(2), dns_name_to_wire("example"));
    EXPECT_EQ(q.qtype, 28);
    EXPECT_EQ(q.qclass, 1);

    // The root name alone is a valid (if useless) query.
    ASSERT_EQ(parse_dns_query(dns_msg({0, 0, 2, 0, 1}), q), DnsStatus::ok);
    EXPECT_EQ(q.labels, 0u);
    EXPECT_EQ(q.wire_len, 1u);
}

TEST(DnsQuery, LongestNamesAreAcceptedOneMoreIsRefused)
{
    // 255 octets: three 63-byte labels, one 61-byte label, the root.
    std::string name = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                       std::string(63, 'c') + "." + std::string(61, 'd');
    ASSERT_EQ(name.size(), 253u);
    EXPECT_TRUE(dns_name_problem(name).empty());
    DnsQuestion q;
    ASSERT_EQ(parse_dns_query(dns_msg(question(name)), q), DnsStatus::ok);
    EXPECT_EQ(q.wire_len, 255u);
    EXPECT_EQ(status_of(dns_msg(question(name + "d"))), DnsStatus::name_too_long);
    EXPECT_FALSE(dns_name_problem(name + "d").empty());
}

TEST(DnsQuery, MalformedTable)
{
    struct Case {
        const char* what;
        std::vector<uint8_t> msg;
        DnsStatus want;
    };
    std::vector<uint8_t> long_name; // 5 labels of 63: 320 octets
    for (int i = 0; i < 5; ++i) {
        long_name.push_back(63);
        long_name.insert(long_name.end(), 63, 'x');
    }
    long_name.insert(long_name.end(), {0, 0, 1, 0, 1});
    const std::vector<Case> cases = {
        {"empty", {}, DnsStatus::truncated_header},
        {"11-byte header", std::vector<uint8_t>(11, 0), DnsStatus::truncated_header},
        {"zero qdcount", dns_msg(question("a.example"), 0), DnsStatus::no_question},
        {"header only", dns_msg({}), DnsStatus::label_past_end},
        {"label past end", dns_msg({5, 'a', 'b'}), DnsStatus::label_past_end},
        {"no root label", dns_msg({1, 'a'}), DnsStatus::label_past_end},
        {"pointer to header", dns_msg({0xc0, 0x00, 0, 1, 0, 1}), DnsStatus::compression_pointer},
        {"pointer loop to itself", dns_msg({0xc0, 12, 0, 1, 0, 1}), DnsStatus::compression_pointer},
        {"pointer after a label", dns_msg({1, 'a', 0xc0, 12, 0, 1, 0, 1}),
         DnsStatus::compression_pointer},
        {"truncated pointer", dns_msg({0xc0}), DnsStatus::compression_pointer},
        {"extended label 0x40", dns_msg({0x41, 'a', 0, 0, 1, 0, 1}), DnsStatus::reserved_label_type},
        {"reserved label 0x80", dns_msg({0x81, 'a', 0, 0, 1, 0, 1}), DnsStatus::reserved_label_type},
        {"name over 255", dns_msg(long_name), DnsStatus::name_too_long},
        {"no qtype", dns_msg(name_wire("a.example")), DnsStatus::truncated_question},
        {"half qclass", dns_msg({1, 'a', 0, 0, 1, 0}), DnsStatus::truncated_question},
    };
    for (const Case& c : cases)
        EXPECT_EQ(status_of(c.msg), c.want)
            << c.what << ": got " << dns_status_name(status_of(c.msg)) << ", want "
            << dns_status_name(c.want);
}

TEST(DnsNames, ValidateNormalizeAndWireForm)
{
    EXPECT_EQ(dns_name_problem(""), "empty name");
    EXPECT_NE(dns_name_problem("a..b").find("empty label"), std::string::npos);
    EXPECT_NE(dns_name_problem(".a").find("empty label"), std::string::npos);
    EXPECT_NE(dns_name_problem("a b").find("character ' '"), std::string::npos);
    EXPECT_TRUE(dns_name_problem("_dmarc.Example.ORG.").empty());
    EXPECT_EQ(normalize_dns_name("_dmarc.Example.ORG."), "_dmarc.example.org");
    EXPECT_EQ(dns_name_to_wire("ab.c"), std::string("\x02" "ab" "\x01" "c", 5) + '\0');
    EXPECT_EQ(dns_wire_to_text(std::string("\x03" "a.b" "\x01" "Z", 6) + '\0'), "a\\046b.z");
    for (int s = 0; s < static_cast<int>(DnsStatus::count); ++s)
        EXPECT_STRNE(dns_status_name(static_cast<DnsStatus>(s)), "unknown");
}

// libFuzzer-style, deterministic: random and mutated bytes through both
// parsers and a full rule set. Nothing may crash or read out of bounds, and
// the outputs must stay inside the input.
TEST(InspectFuzz, RandomBytesNeverBreakTheParsers)
{
    std::mt19937 rng(0xd15ea5e);
    auto set = RuleSet::compile({
        make_rule(1, DnsMatch{"evil.example", true}),
        make_rule(2, BytePattern{{0xde, 0xad}, std::nullopt, false}),
        make_rule(3, BytePattern{{0x00, 0x35}, 2u, false}),
    });
    Inspector insp(set);
    FrameSpec spec;
    spec.dport = 53;
    spec.payload_len = 40;
    const std::vector<uint8_t> seed_frame = build_frame(spec);
    const auto seed_dns = dns_msg(question("www.evil.example"));
    uint64_t frames = 0;
    for (int i = 0; i < 20000; ++i) {
        std::vector<uint8_t> buf;
        switch (i % 3) {
        case 0: // pure random
            buf.resize(rng() % 200);
            for (auto& b : buf)
                b = static_cast<uint8_t>(rng());
            break;
        case 1: // a valid frame with a few bytes flipped and a random cut
            buf = seed_frame;
            for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k)
                buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
            buf.resize(rng() % (buf.size() + 1));
            break;
        default: // a valid DNS message, mutated
            buf = seed_dns;
            for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k)
                buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
            buf.resize(rng() % (buf.size() + 1));
            break;
        }
        DnsQuestion q;
        if (parse_dns_query(buf, q) == DnsStatus::ok) {
            ASSERT_LE(q.wire_len, max_dns_wire_len);
            ASSERT_LE(q.wire_len, buf.size());
        }
        L4View v;
        if (parse_frame(buf, v) == FrameError::none && !v.payload.empty()) {
            ASSERT_GE(v.payload.data(), buf.data());
            ASSERT_LE(v.payload.data() + v.payload.size(), buf.data() + buf.size());
        }
        insp.inspect(buf);
        ++frames;
    }
    EXPECT_EQ(insp.counters().snapshot().packets, frames);
}
