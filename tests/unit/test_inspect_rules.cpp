// SPDX-License-Identifier: GPL-2.0-only
// Inspection rule language: good and bad rules, canonical form round trip,
// CLI word joining, YAML inspection files.
#include "lib/inspect/inspect.hpp"
#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/rule_words.hpp"

#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

using namespace xdpfw;
using inspect::InspectRule;
using inspect::Verdict;

namespace {

void expect_inspect_error(const std::string& text, const std::string& key,
                          std::initializer_list<std::string> fragments)
{
    try {
        InspectRule r = parse_inspect_rule(text, "rule 4");
        ADD_FAILURE() << "'" << text << "' parsed as '" << r.text << "'";
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.where(), "rule 4") << text;
        EXPECT_EQ(e.key(), key) << text << " -> " << e.what();
        std::string what = e.what();
        EXPECT_TRUE(what.starts_with("rule 4: " + key + ": ")) << what;
        for (const auto& f : fragments)
            EXPECT_NE(what.find(f), std::string::npos) << "'" << f << "' not in: " << what;
    }
}

std::vector<uint8_t> bytes(std::string_view s)
{
    return {s.begin(), s.end()};
}

} // namespace

TEST(InspectRules, ParsesTheDocumentedExamples)
{
    InspectRule dns = parse_inspect_rule("priority=10 dns_suffix=evil.example action=drop", "r");
    EXPECT_EQ(dns.priority, 10);
    ASSERT_TRUE(dns.is_dns());
    EXPECT_EQ(dns.dns().name, "evil.example");
    EXPECT_TRUE(dns.dns().suffix);
    EXPECT_EQ(dns.action, Verdict::drop);
    EXPECT_EQ(dns.text, "priority=10 dns_suffix=evil.example action=drop");

    InspectRule hex = parse_inspect_rule("priority=20 pattern=hex:deadbeef action=drop", "r");
    ASSERT_FALSE(hex.is_dns());
    EXPECT_EQ(hex.pattern().bytes, (std::vector<uint8_t>{0xde, 0xad, 0xbe, 0xef}));
    EXPECT_FALSE(hex.pattern().offset);
    EXPECT_FALSE(hex.pattern().text);

    InspectRule text =
        parse_inspect_rule("priority=30 pattern=text:\"GET /admin\" offset=0 action=drop", "r");
    EXPECT_EQ(text.pattern().bytes, bytes("GET /admin"));
    EXPECT_EQ(text.pattern().offset, 0u);
    EXPECT_TRUE(text.pattern().text);
    EXPECT_EQ(text.text, "priority=30 pattern=text:\"GET /admin\" offset=0 action=drop");
}

TEST(InspectRules, ParsesEveryKey)
{
    InspectRule r = parse_inspect_rule(
        "action=forward dport=8000-8080 sport=1024 proto=tcp offset=12 pattern=hex:00FF10 "
        "id=77 priority=-5",
        "r");
    EXPECT_EQ(r.id, 77u);
    EXPECT_EQ(r.priority, -5);
    EXPECT_EQ(r.pattern().bytes, (std::vector<uint8_t>{0x00, 0xff, 0x10}));
    EXPECT_EQ(r.pattern().offset, 12u);
    EXPECT_EQ(r.proto, inspect::proto_tcp);
    EXPECT_EQ(r.sport, (inspect::PortRange{1024, 1024}));
    EXPECT_EQ(r.dport, (inspect::PortRange{8000, 8080}));
    EXPECT_EQ(r.action, Verdict::forward);
    EXPECT_EQ(r.text,
              "priority=-5 pattern=hex:00ff10 offset=12 proto=tcp sport=1024 dport=8000-8080 "
              "action=forward");

    InspectRule d = parse_inspect_rule("dns_name=WWW.Evil.Example. proto=udp dport=53 action=drop", "r");
    EXPECT_EQ(d.dns().name, "www.evil.example");
    EXPECT_FALSE(d.dns().suffix);
    EXPECT_EQ(d.priority, 0);
    EXPECT_EQ(d.text, "priority=0 dns_name=www.evil.example proto=udp dport=53 action=drop");
}

TEST(InspectRules, QuotedTextKeepsBlanksQuotesAndBackslashes)
{
    InspectRule r = parse_inspect_rule(R"(pattern=text:"a \"b\"  \\ c=d" action=drop)", "r");
    EXPECT_EQ(r.pattern().bytes, bytes(R"(a "b"  \ c=d)"));
    EXPECT_EQ(r.text, R"(priority=0 pattern=text:"a \"b\"  \\ c=d" action=drop)");
    // The whole value quoted is the same pattern; an unquoted one too.
    EXPECT_EQ(parse_inspect_rule(R"(pattern="text:GET /x" action=drop)", "r").pattern().bytes,
              bytes("GET /x"));
    EXPECT_EQ(parse_inspect_rule("pattern=text:GET action=drop", "r").pattern().bytes, bytes("GET"));
}

TEST(InspectRules, RefusesBadRules)
{
    expect_inspect_error("pattern=hex:00 action=drop prio=1", "prio", {"unknown key", "dns_suffix"});
    expect_inspect_error("pattern=hex:abc action=drop", "pattern", {"odd number of hex digits (3)"});
    expect_inspect_error("pattern=hex:zz action=drop", "pattern", {"'zz' is not a hex byte"});
    expect_inspect_error("pattern=hex: action=drop", "pattern", {"empty pattern"});
    expect_inspect_error("pattern=text:\"\" action=drop", "pattern", {"empty pattern"});
    expect_inspect_error("pattern=\"\" action=drop", "pattern", {"empty value"});
    expect_inspect_error("pattern=deadbeef action=drop", "pattern", {"neither hex:"});
    expect_inspect_error("pattern=text:\"a\tb\" action=drop", "pattern", {"printable ASCII"});
    expect_inspect_error("pattern=hex:" + std::string(2 * 1025, 'a') + " action=drop", "pattern",
                         {"1025 bytes, more than 1024"});
    expect_inspect_error("dns_name=a..b action=drop", "dns_name", {"empty label"});
    expect_inspect_error("dns_suffix=. action=drop", "dns_suffix", {"root"});
    expect_inspect_error("dns_suffix=a_b!.c action=drop", "dns_suffix", {"character '!'"});
    expect_inspect_error("dns_name=" + std::string(64, 'a') + ".com action=drop", "dns_name",
                         {"64 characters, more than 63"});
    std::string long_name;
    for (int i = 0; i < 4; ++i)
        long_name += std::string(63, 'a' + i) + ".";
    long_name += "x"; // 4 * 64 + 1 = 257 characters
    expect_inspect_error("dns_name=" + long_name + " action=drop", "dns_name",
                         {"257 characters, more than 253"});
    expect_inspect_error("pattern=hex:00 offset=65535 action=drop", "offset", {"out of range"});
    expect_inspect_error("pattern=hex:0000 offset=65534 action=drop", "offset",
                         {"65534 + pattern length 2"});
    expect_inspect_error("pattern=hex:00 offset=-1 action=drop", "offset", {"not a number"});
    expect_inspect_error("dns_name=a.b offset=3 action=drop", "offset", {"only applies to pattern"});
    expect_inspect_error("pattern=hex:00", "action", {"missing"});
    expect_inspect_error("pattern=hex:00 action=pass", "action", {"'pass' is not drop or forward"});
    expect_inspect_error("action=drop", "pattern", {"missing", "dns_name"});
    expect_inspect_error("pattern=hex:00 pattern=hex:01 action=drop", "pattern", {"given twice"});
    expect_inspect_error("pattern=hex:00 action=drop action=drop", "action", {"given twice"});
    expect_inspect_error("pattern=hex:00 dns_name=a.b action=drop", "pattern", {"cannot be combined"});
    expect_inspect_error("dns_name=a.b dns_suffix=a.b action=drop", "dns_suffix", {"cannot be combined"});
    expect_inspect_error("dns_name=a.b proto=tcp action=drop", "proto", {"DNS queries are UDP"});
    expect_inspect_error("dns_suffix=a.b dport=54 action=drop", "dport", {"port 53"});
    expect_inspect_error("pattern=hex:00 proto=icmp action=drop", "proto", {"not tcp or udp"});
    expect_inspect_error("pattern=hex:00 dport=9-8 action=drop", "dport", {"low end above"});
    expect_inspect_error("pattern=hex:00 sport=70000 action=drop", "sport", {"out of range 0-65535"});
    expect_inspect_error("pattern=hex:00 id=0 action=drop", "id", {"at least 1"});
    expect_inspect_error("pattern=hex:00 id=4096 action=drop", "id", {"out of range 0-4095"});
    expect_inspect_error("pattern=hex:00 priority=x action=drop", "priority", {"not a number"});
    expect_inspect_error("pattern=text:\"abc action=drop", "pattern", {"unterminated double quote"});
    expect_inspect_error("pattern=text:\"abc\"x action=drop", "pattern", {"closing quote"});
    expect_inspect_error("pattern=hex:00 action=", "action", {"empty value"});
}

TEST(InspectRules, CanonicalFormRoundTrips)
{
    for (const char* text : {
             "priority=10 dns_suffix=evil.example action=drop",
             "priority=20 pattern=hex:deadbeef action=drop",
             "priority=30 pattern=text:\"GET /admin\" offset=0 action=drop",
             "priority=-1 pattern=text:\"say \\\"hi\\\" \\\\o/\" proto=udp sport=1-2 action=forward",
             "priority=2147483647 dns_name=_sip._udp.example.org proto=udp dport=53 action=forward",
             "priority=0 pattern=hex:00 offset=65534 action=drop",
         }) {
        InspectRule r = parse_inspect_rule(text, "r");
        EXPECT_EQ(r.text, text);
        EXPECT_EQ(format_inspect_rule(r), text);
        EXPECT_EQ(parse_inspect_rule(r.text, "r"), r);
    }
}

TEST(InspectRules, RandomRulesRoundTrip)
{
    std::mt19937 rng(20261124);
    auto pick = [&](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); };
    for (int i = 0; i < 500; ++i) {
        InspectRule r;
        r.priority = static_cast<int32_t>(rng());
        if (pick(2)) {
            inspect::BytePattern p;
            p.text = pick(2);
            size_t len = 1 + pick(40);
            for (size_t k = 0; k < len; ++k)
                p.bytes.push_back(static_cast<uint8_t>(p.text ? 0x20 + pick(95) : pick(256)));
            if (pick(2))
                p.offset = pick(2000);
            r.what = p;
            if (pick(3) == 0)
                r.proto = pick(2) ? inspect::proto_tcp : inspect::proto_udp;
        } else {
            std::string name;
            for (uint32_t l = 0, n = 1 + pick(4); l < n; ++l) {
                if (!name.empty())
                    name += '.';
                for (uint32_t k = 0, m = 1 + pick(10); k < m; ++k)
                    name += "abcdefghijklmnopqrstuvwxyz0123456789-_"[pick(38)];
            }
            r.what = inspect::DnsMatch{name, pick(2) == 1};
            if (pick(3) == 0)
                r.proto = inspect::proto_udp;
            if (pick(3) == 0)
                r.dport = inspect::PortRange{static_cast<uint16_t>(pick(54)), 53};
        }
        if (pick(3) == 0) {
            auto lo = static_cast<uint16_t>(pick(65536));
            r.sport = inspect::PortRange{lo, static_cast<uint16_t>(lo + pick(65536 - lo))};
        }
        r.action = pick(2) ? Verdict::drop : Verdict::forward;
        std::string text = format_inspect_rule(r);
        InspectRule back = parse_inspect_rule(text, "r");
        back.text.clear();
        EXPECT_EQ(back, r) << text;
    }
}

TEST(RuleWords, JoinsShellUnquotedWords)
{
    // The shell removed the quotes of pattern=text:"GET /admin".
    std::string text = join_rule_words({"priority=30", "pattern=text:GET /admin", "action=drop"});
    EXPECT_EQ(text, "priority=30 pattern=\"text:GET /admin\" action=drop");
    EXPECT_EQ(parse_inspect_rule(text, "r").pattern().bytes, bytes("GET /admin"));
    // Quoted for the shell with the inner quotes kept: left as it is.
    text = join_rule_words({"priority=30", "pattern=text:\"GET /admin\"", "action=drop"});
    EXPECT_EQ(text, "priority=30 pattern=text:\"GET /admin\" action=drop");
    EXPECT_EQ(parse_inspect_rule(text, "r").pattern().bytes, bytes("GET /admin"));
    // One argument holding the whole rule also stays as it is, even with
    // blanks around it.
    text = join_rule_words({" priority=30  pattern=hex:00 action=drop "});
    EXPECT_EQ(text, " priority=30  pattern=hex:00 action=drop ");
    EXPECT_EQ(parse_inspect_rule(text, "r").pattern().bytes, std::vector<uint8_t>{0});
}

TEST(InspectYaml, ReadsRulesVerdictsAndIds)
{
    InspectPolicy p = parse_inspect_yaml(R"(
default: drop
malformed: forward
rules:
  - priority=10 dns_suffix=evil.example action=drop
  - priority=30 pattern=text:"GET /admin" offset=0 action=drop   # plain scalar
  - 'priority=40 pattern=text:"a #b: c" action=forward'
  - id=9 priority=50 pattern=hex:deadbeef action=drop
)",
                                         "inspect.yaml");
    EXPECT_EQ(p.options.default_verdict, Verdict::drop);
    EXPECT_EQ(p.options.malformed_verdict, Verdict::forward);
    ASSERT_EQ(p.rules.size(), 4u);
    EXPECT_EQ(p.rules[0].id, 1u);
    EXPECT_EQ(p.rules[1].id, 2u);
    EXPECT_EQ(p.rules[1].pattern().bytes, bytes("GET /admin"));
    EXPECT_EQ(p.rules[2].pattern().bytes, bytes("a #b: c"));
    EXPECT_EQ(p.rules[3].id, 9u);
    EXPECT_NO_THROW(compile_inspect_policy(p));

    EXPECT_EQ(parse_inspect_yaml("", "x.yaml"), InspectPolicy{});
}

TEST(InspectYaml, ErrorsNameFileLineRuleAndKey)
{
    auto error = [](const std::string& yaml) {
        try {
            parse_inspect_yaml(yaml, "inspect.yaml");
        } catch (const PolicyError& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_EQ(error("rules:\n  - pattern=hex:00 action=drop\n  - pattern=hex:0 action=drop\n"),
              "inspect.yaml:3: rule 2: pattern: odd number of hex digits (1) in 'hex:0'");
    EXPECT_EQ(error("rules:\n  - id=2 pattern=hex:00 action=drop\n  - pattern=hex:01 action=drop\n"),
              "inspect.yaml:3: rule 2: id: 2 is already used by rule 1");
    EXPECT_EQ(error("default: pass\n"), "inspect.yaml:1: default: 'pass' is not drop or forward");
    EXPECT_EQ(error("rulez: []\n"),
              "inspect.yaml:1: rulez: unknown top-level key (known: default, malformed, rules)");
    EXPECT_EQ(error("rules: {a: 1}\n"),
              "inspect.yaml:1: rules: expected a list of rule strings, got a mapping");
    EXPECT_NE(error("rules: [\n").find("inspect.yaml"), std::string::npos);
    EXPECT_NE(error("rules: [\n").find("YAML syntax"), std::string::npos);
}

TEST(InspectYaml, LoadsAFile)
{
    test::TempDir dir("inspect-yaml");
    auto path = dir.path() / "inspect.yaml";
    std::ofstream(path) << "rules:\n  - priority=1 dns_name=a.example action=drop\n";
    InspectPolicy p = load_inspect_file(path);
    ASSERT_EQ(p.rules.size(), 1u);
    EXPECT_EQ(p.rules[0].dns().name, "a.example");
    EXPECT_THROW(load_inspect_file(dir.path() / "missing.yaml"), PolicyError);
}

TEST(RuleWords, SplitsValuesEndingInQuotes)
{
    auto words = split_rule_words("a=x b=pre:\"q \\\" r\" c=\"\"", "r");
    ASSERT_EQ(words.size(), 3u);
    EXPECT_EQ(words[1].key, "b");
    EXPECT_EQ(words[1].value, "pre:q \" r");
    EXPECT_EQ(words[2].value, "");
    EXPECT_EQ(quote_rule_value("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

// libFuzzer-style, deterministic: rules built from the language's keys and
// good or bad values, then often mutated with random pieces and bytes. The
// parser must either return a rule whose canonical text parses back to it,
// or throw PolicyError; nothing else.
TEST(InspectFuzz, RandomRuleTextNeverBreaksTheParser)
{
    std::mt19937 rng(7);
    const std::vector<std::pair<std::string, std::vector<std::string>>> keys = {
        {"priority", {"1", "-7", "x", "99999999999"}},
        {"id", {"3", "0", "4096"}},
        {"pattern", {"hex:dead", "hex:0", "text:\"GET /\"", "text:a", "hex:", "abc"}},
        {"offset", {"0", "12", "65535", "-1"}},
        {"dns_suffix", {"evil.example", "a..b", "x.", "."}},
        {"dns_name", {"a.b", "A.B"}},
        {"proto", {"tcp", "udp", "icmp"}},
        {"sport", {"1-2", "9-8", "70000"}},
        {"dport", {"53", "80", "1-100"}},
        {"action", {"drop", "forward", "pass"}},
    };
    const std::vector<std::string> noise = {"\"", "\\", " ", "=", "\t", "-", ":", "."};
    int parsed = 0, refused = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string text;
        for (const auto& [key, values] : keys) {
            bool want = key == "action" || key == "pattern" ? rng() % 8 != 0 : rng() % 4 == 0;
            if (want)
                text += key + "=" + values[rng() % values.size()] + " ";
        }
        for (int m = static_cast<int>(rng() % 4) - 1; m > 0; --m) {
            size_t at = text.empty() ? 0 : rng() % text.size();
            text.insert(at, rng() % 2 ? noise[rng() % noise.size()] : std::string(1, static_cast<char>(rng())));
        }
        try {
            InspectRule r = parse_inspect_rule(text, "fuzz");
            InspectRule back = parse_inspect_rule(r.text, "fuzz");
            back.id = r.id;
            ASSERT_EQ(back, r) << text;
            ++parsed;
        } catch (const PolicyError&) {
            ++refused;
        }
    }
    // Both paths must have been exercised.
    EXPECT_GT(parsed, 100);
    EXPECT_GT(refused, 100);
}
