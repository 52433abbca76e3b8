// SPDX-License-Identifier: GPL-2.0-only
// Unit tests for YAML policy files, set files, whole-policy validation and
// the policy codec (JSON and YAML).
#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/policy_codec.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"

#include "testing/random_policy.hpp"
#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace xdpfw;

namespace {

using xdpfw::test::TempDir;

std::string yaml_error(const std::string& yaml, const std::filesystem::path& dir = ".")
{
    try {
        parse_policy_yaml(yaml, dir, "policy.yaml");
    } catch (const PolicyError& e) {
        return e.what();
    }
    return "(no error)";
}

#define EXPECT_CONTAINS(haystack, needle)                                                     \
    EXPECT_NE(std::string(haystack).find(needle), std::string::npos)                          \
        << "'" << (needle) << "' not in: " << (haystack)

} // namespace

TEST(PolicyFile, LoadsTheDocumentedExample)
{
    TempDir dir;
    dir.write("lists/big-prefixes.txt", "# bogons\n"
                                        "10.0.0.0/8\n"
                                        "\n"
                                        "  192.168.0.0/16   # trailing comment\r\n"
                                        "2001:db8::/32\n"
                                        "10.0.0.0/8\n");
    auto file = dir.write("policy.yaml", R"(
default: pass            # drop|pass, default pass
malformed: drop          # drop|pass, default drop
sets:
  blocklist: [198.51.100.0/24, "2001:db8:bad::/48"]
  big: {file: lists/big-prefixes.txt}
rules:
  - priority=10 src=@blocklist action=drop
  - priority=20 proto=tcp dport=22 tcp_flags=SYN,!ACK action=drop
  - priority=30 dst=@big action=count
  - id=100 priority=5 proto=udp dport=53 action=xsk fallback=drop
)");
    Policy p = load_policy_file(file);
    EXPECT_EQ(p.default_action, ActionType::pass);
    EXPECT_EQ(p.malformed_action, ActionType::drop);
    ASSERT_EQ(p.sets.size(), 2u);
    EXPECT_EQ(p.sets["blocklist"].prefixes(),
              (std::vector<Prefix>{Prefix::parse("198.51.100.0/24"), Prefix::parse("2001:db8:bad::/48")}));
    // Deduplicated and sorted (IPv4 before IPv6, then by length and address).
    EXPECT_EQ(p.sets["big"].prefixes(),
              (std::vector<Prefix>{Prefix::parse("10.0.0.0/8"), Prefix::parse("192.168.0.0/16"),
                                   Prefix::parse("2001:db8::/32")}));
    ASSERT_EQ(p.rules.size(), 4u);
    EXPECT_EQ(p.rules[0].id, 1u);
    EXPECT_EQ(p.rules[1].id, 2u);
    EXPECT_EQ(p.rules[2].id, 3u);
    EXPECT_EQ(p.rules[3].id, 100u);
    EXPECT_EQ(p.rules[1].text, "priority=20 proto=tcp dport=22 tcp_flags=SYN,!ACK action=drop");
    EXPECT_EQ(p.rules[3].action.xsk_fallback, ActionType::drop);
    std::vector<uint32_t> order;
    for (const Rule& r : p.evaluation_order())
        order.push_back(r.id);
    EXPECT_EQ(order, (std::vector<uint32_t>{100, 1, 2, 3}));
}

TEST(PolicyFile, DefaultsAndEmptyFiles)
{
    Policy empty = parse_policy_yaml("", ".", "empty.yaml");
    EXPECT_EQ(empty.default_action, ActionType::pass);
    EXPECT_EQ(empty.malformed_action, ActionType::drop);
    EXPECT_TRUE(empty.rules.empty());
    Policy p = parse_policy_yaml("default: drop\nmalformed: pass\nsets:\nrules: []\n", ".", "p");
    EXPECT_EQ(p.default_action, ActionType::drop);
    EXPECT_EQ(p.malformed_action, ActionType::pass);
    EXPECT_TRUE(p.sets.empty());
    Policy sets = parse_policy_yaml("sets:\n  none: []\n  both: {prefixes: [10.0.0.0/8]}\n", ".", "p");
    EXPECT_TRUE(sets.sets["none"].prefixes().empty());
    EXPECT_EQ(sets.sets["both"].prefixes().size(), 1u);
}

TEST(PolicyFile, ErrorsNameFileRuleLineAndKey)
{
    // One bad rule among many: the message names the file, its line, the rule
    // number and the key.
    std::string yaml = "rules:\n";
    for (int i = 1; i <= 20; ++i)
        yaml += i == 13 ? "  - proto=tcp dport=70000 action=drop\n"
                        : "  - priority=" + std::to_string(i) + " action=pass\n";
    EXPECT_EQ(yaml_error(yaml), "policy.yaml:14: rule 13: dport: 70000 is out of range 0-65535");

    EXPECT_EQ(yaml_error("sets: {a: [10.0.0.0/8]}\nrules:\n  - action=drop\n  - src=@nosuch action=drop\n"),
              "policy.yaml:4: rule 2: src: unknown set 'nosuch'");
    EXPECT_CONTAINS(yaml_error("rules:\n  - dst=@a action=drop\n"), "rule 1: dst: unknown set 'a'");
    EXPECT_CONTAINS(yaml_error("rules:\n  - action=frob\n"), "policy.yaml:2: rule 1: action: 'frob'");
    EXPECT_CONTAINS(yaml_error("rules:\n  - src=10.0.0.0/33 action=drop\n"),
                    "rule 1: src: prefix length 33 > 32 in '10.0.0.0/33'");
    EXPECT_CONTAINS(yaml_error("rules:\n  - {action: drop}\n"), "rule 1: expected a string");
    EXPECT_CONTAINS(yaml_error("rules: action=drop\n"), "rules: expected a list");
    EXPECT_CONTAINS(yaml_error("rule:\n  - action=drop\n"), "policy.yaml:1: rule: unknown top-level key");
    EXPECT_CONTAINS(yaml_error("default: reject\n"), "policy.yaml:1: default: 'reject' is not drop or pass");
    EXPECT_CONTAINS(yaml_error("malformed: [drop]\n"), "malformed: expected drop or pass");
    EXPECT_CONTAINS(yaml_error("default: drop\ndefault: pass\n"), "default: given twice");
    EXPECT_CONTAINS(yaml_error("- action=drop\n"), "expected a mapping");
    EXPECT_CONTAINS(yaml_error("rules: [action=drop\n"), "policy.yaml:");
    EXPECT_CONTAINS(yaml_error("rules: [action=drop\n"), "YAML syntax");
    EXPECT_CONTAINS(yaml_error("rules:\n  - action=drop\n  - id=1 action=pass\n"),
                    "policy.yaml:3: rule 2: id: 1 is already used by rule 1");
}

TEST(PolicyFile, SetErrors)
{
    EXPECT_CONTAINS(yaml_error("sets:\n  9bad: []\n"), "policy.yaml:2: sets: '9bad' is not a valid set name");
    EXPECT_CONTAINS(yaml_error("sets:\n  a: [10.0.0.0/8]\n  a: []\n"), "set a: defined twice");
    EXPECT_CONTAINS(yaml_error("sets:\n  a: [10.0.0.0/8, 10.1.0.1/16]\n"),
                    "policy.yaml:2: set a: 10.1.0.1/16 has host bits set; did you mean 10.1.0.0/16?");
    EXPECT_CONTAINS(yaml_error("sets:\n  a: 10.0.0.0/8\n"), "set a: expected a list of prefixes");
    EXPECT_CONTAINS(yaml_error("sets:\n  a: {files: x.txt}\n"), "set a: unknown key 'files'");
    EXPECT_CONTAINS(yaml_error("sets:\n  a: [[10.0.0.0/8]]\n"), "set a: expected a prefix");
    EXPECT_CONTAINS(yaml_error("sets: [a, b]\n"), "sets: expected a mapping");

    TempDir dir;
    std::string lines;
    for (int i = 0; i < 50; ++i)
        lines += "10.0." + std::to_string(i) + ".0/24\n";
    lines += "10.0.99.0/33\n";
    dir.write("bad.txt", lines);
    std::string err = yaml_error("sets:\n  big: {file: bad.txt}\n", dir.path());
    EXPECT_CONTAINS(err, "policy.yaml:2: set big: ");
    EXPECT_CONTAINS(err, (dir.path() / "bad.txt").string() + ":51: prefix length 33 > 32 in '10.0.99.0/33'");
    err = yaml_error("sets:\n  big: {file: missing.txt}\n", dir.path());
    EXPECT_CONTAINS(err, "set big: cannot open set file");
    EXPECT_CONTAINS(err, "missing.txt: No such file or directory");
}

TEST(PolicyFile, PrefixLines)
{
    std::istringstream in("# header\n\n10.0.0.0/8\n::/0 # all v6\n\t10.0.0.0/8\n1.2.3.4\n");
    PrefixSet s = parse_prefix_lines(in, "list.txt");
    // Sorted by Prefix's ordering (family, length, address), duplicates gone.
    EXPECT_EQ(s.prefixes(), (std::vector<Prefix>{Prefix::parse("10.0.0.0/8"), Prefix::parse("1.2.3.4"),
                                               Prefix::parse("::/0")}));

    auto error = [](const std::string& text) {
        std::istringstream bad(text);
        try {
            parse_prefix_lines(bad, "list.txt");
        } catch (const PolicyError& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_EQ(error("10.0.0.0/8\n\n10.0.0.0/8 10.1.0.0/16\n"),
              "list.txt:3: one prefix per line, found '10.0.0.0/8 10.1.0.0/16'");
    EXPECT_EQ(error("# x\nnot-a-prefix\n"), "list.txt:2: 'not-a-prefix' is not an IPv4 address in 'not-a-prefix'");
}

TEST(PolicyFile, LoadPolicyFileErrors)
{
    TempDir dir;
    try {
        load_policy_file(dir.path() / "nope.yaml");
        ADD_FAILURE() << "loaded a missing file";
    } catch (const PolicyError& e) {
        EXPECT_CONTAINS(e.what(), "nope.yaml: cannot open");
    }
    auto file = dir.write("p.yaml", "rules:\n  - action=drop\n  - tcp_flags=SYN proto=udp action=drop\n");
    try {
        load_policy_file(file);
        ADD_FAILURE() << "loaded a bad file";
    } catch (const PolicyError& e) {
        EXPECT_EQ(std::string(e.what()),
                  file.string() + ":3: rule 2: tcp_flags: needs proto=tcp, not proto=udp");
        EXPECT_EQ(e.key(), "tcp_flags");
    }
}

TEST(PolicyFile, ValidatePolicy)
{
    Policy p = parse_policy_yaml("sets: {s: [10.0.0.0/8]}\nrules:\n  - src=@s action=drop\n  - action=pass\n",
                                 ".", "p");
    EXPECT_NO_THROW(validate_policy(p));

    auto key_of_error = [](const Policy& bad) {
        try {
            validate_policy(bad);
        } catch (const PolicyError& e) {
            return e.where() + "|" + e.key();
        }
        return std::string("(no error)");
    };
    Policy dup = p;
    dup.rules[1].id = 1;
    EXPECT_EQ(key_of_error(dup), "rule 1|id");
    Policy zero = p;
    zero.rules[1].id = 0;
    EXPECT_EQ(key_of_error(zero), "rule at position 2|id");
    Policy noset = p;
    noset.sets.clear();
    EXPECT_EQ(key_of_error(noset), "rule 1|src");
    Policy baddefault = p;
    baddefault.default_action = ActionType::xsk;
    EXPECT_EQ(key_of_error(baddefault), "policy|default");
    Policy badmalformed = p;
    badmalformed.malformed_action = ActionType::count;
    EXPECT_EQ(key_of_error(badmalformed), "policy|malformed");
    Policy badrule = p;
    badrule.rules[1].match.vlan = 4096;
    EXPECT_EQ(key_of_error(badrule), "rule 2|vlan");
    Policy badname = p;
    badname.sets["no good"] = {};
    EXPECT_EQ(key_of_error(badname), "set 'no good'|");

    // Rules are checked in order: the first problem named is the first
    // rule's, whether a repeated id or a bad field.
    Policy four = parse_policy_yaml(
        "rules:\n  - id=5 action=drop\n  - id=7 action=drop\n  - id=9 action=drop\n"
        "  - id=11 action=pass\n",
        ".", "p");
    Policy repeats = four;
    repeats.rules[2].id = 7;
    repeats.rules[3].id = 5;
    EXPECT_EQ(key_of_error(repeats), "rule 7|id");
    repeats.rules[1].match.vlan = 5000; // before the first repeat
    EXPECT_EQ(key_of_error(repeats), "rule 7|vlan");
    Policy hostbits = four;
    hostbits.rules[3].match.src = AddrMatch{Prefix::parse("10.0.0.0/8")};
    hostbits.rules[3].match.src->what = [] {
        Prefix q = Prefix::parse("10.0.0.0/8");
        q.addr[3] = 1; // host bits no parser lets through
        return q;
    }();
    try {
        validate_policy(hostbits);
        ADD_FAILURE() << "host bits accepted";
    } catch (const PolicyError& e) {
        EXPECT_EQ(e.where() + "|" + e.key(), "rule 11|src");
        EXPECT_NE(std::string(e.what()).find("10.0.0.1/8 has host bits set"), std::string::npos)
            << e.what();
    }
}

TEST(PolicyFile, FormatPolicyYamlRoundTrip)
{
    TempDir dir;
    dir.write("v6.txt", "2001:db8::/48\n2001:db8:1::/48\n");
    Policy p = parse_policy_yaml(R"(
default: drop
malformed: pass
sets:
  "v6": {file: v6.txt, prefixes: ["::1"]}
  empty: []
  mixed: [192.0.2.0/24, "2001:db8:ff::/48"]
rules:
  - id=7 priority=-3 iif=eth0 vlan=12 src=@mixed proto=tcp dport=443 tcp_flags=SYN,!ACK action=xsk
  - family=ipv6 dst=@v6 proto=icmpv6 icmp_type=128 icmp_code=0 action=count
  - src="198.51.100.0/24" action=redirect:eth1
)",
                                 dir.path(), "p.yaml");
    std::string yaml = format_policy_yaml(p);
    Policy back = parse_policy_yaml(yaml, "/nonexistent", "saved.yaml");
    EXPECT_EQ(back, p) << yaml;
    EXPECT_EQ(format_policy_yaml(back), yaml);
    EXPECT_EQ(back.rules[0].id, 7u);
    EXPECT_EQ(back.rules[1].id, 2u);

    Policy empty;
    EXPECT_EQ(parse_policy_yaml(format_policy_yaml(empty), ".", "e"), empty);
    Policy null_name;
    null_name.sets["null"].edit([&](std::vector<Prefix>& v) { v.push_back(Prefix::parse("10.0.0.0/8")); });
    EXPECT_EQ(parse_policy_yaml(format_policy_yaml(null_name), ".", "n"), null_name);
}

namespace {

// A few inspection rules, quotes and all, with ids as a restored policy has.
std::vector<inspect::InspectRule> some_inspect_rules()
{
    std::vector<inspect::InspectRule> out;
    for (const char* text : {"id=3 priority=30 pattern=text:\"GET /admin\" offset=0 action=drop",
                             "id=1 priority=10 dns_suffix=evil.example action=drop",
                             "id=7 priority=20 pattern=hex:deadbeef action=drop"}) {
        out.push_back(parse_inspect_rule(text, "inspect rule"));
    }
    return out;
}

} // namespace

TEST(PolicyCodec, RandomPoliciesRoundTripThroughJsonAndYaml)
{
    std::mt19937_64 rng(20240501);
    test::RandomPolicyOptions opts;
    opts.max_set_prefixes = 40;
    for (int i = 0; i < 60; ++i) {
        Policy p = test::random_policy(rng, opts);
        if (i % 2)
            p.inspect = some_inspect_rules();
        SCOPED_TRACE(test::describe(p));
        for (PolicyForm form : {PolicyForm::document, PolicyForm::state}) {
            const nlohmann::json j = policy_to_json(p, form);
            EXPECT_EQ(policy_from_json(j, "policy", form, 4096), p);
            // Through text too: what a client sends, what the snapshot holds.
            EXPECT_EQ(policy_from_json(nlohmann::json::parse(j.dump()), "policy", form, 4096), p);
        }
        const std::string yaml = policy_to_yaml(p);
        EXPECT_EQ(policy_from_yaml(yaml, "/nonexistent", "random.yaml"), p) << yaml;
        EXPECT_EQ(format_policy_yaml(parse_policy_yaml(yaml, ".", "again.yaml")), yaml);
    }
}

TEST(PolicyCodec, TheTwoJsonForms)
{
    Policy p = parse_policy_yaml("default: drop\nsets: {s: [10.0.0.0/8]}\n"
                                 "rules:\n  - src=@s action=drop\n  - id=9 action=pass\n",
                                 ".", "p.yaml");
    // The load request: rule strings, no inspect key when there are none.
    EXPECT_EQ(policy_to_json(p, PolicyForm::document),
              nlohmann::json::parse(R"({"default": "drop", "malformed": "drop",
                  "rules": ["id=1 priority=0 src=@s action=drop", "id=9 priority=0 action=pass"],
                  "sets": {"s": ["10.0.0.0/8"]}})"));
    // The snapshot: rule objects, inspect always.
    EXPECT_EQ(policy_to_json(p, PolicyForm::state),
              nlohmann::json::parse(R"({"default": "drop", "malformed": "drop", "inspect": [],
                  "rules": [{"id": 1, "text": "priority=0 src=@s action=drop"},
                            {"id": 9, "text": "priority=0 action=pass"}],
                  "sets": {"s": ["10.0.0.0/8"]}})"));
}

TEST(PolicyCodec, ErrorsNameTheFieldAndKind)
{
    using Kind = PolicyFieldError::Kind;
    struct Case {
        const char* doc;
        PolicyForm form;
        Kind kind;
        const char* where;
        const char* message;
    };
    const Case cases[] = {
        {R"({"rules": [1]})", PolicyForm::document, Kind::type, "policy.rules[0]",
         "policy.rules[0]: expected a string, got number"},
        {R"({"rules": ["action=drop", "id=1 action=pass"]})", PolicyForm::document,
         Kind::duplicate_id, "policy.rules[1]: rule 2", "rule 2: id: 1 is already used by rule 1"},
        {R"({"rules": ["src=@x action=drop"]})", PolicyForm::document, Kind::unknown_set,
         "policy.rules[0]: rule 1", "src: unknown set 'x'"},
        {R"({"sets": {"s": ["10.0.0.1/8"]}})", PolicyForm::document, Kind::prefix,
         "policy.sets.s[0]", "10.0.0.1/8 has host bits set"},
        {R"({"sets": {"9": []}})", PolicyForm::document, Kind::set_name, "policy.sets",
         "'9' is not a valid set name"},
        {R"({"inspect": ["pattern=hex:zz action=drop"]})", PolicyForm::document, Kind::rule,
         "policy.inspect[0]: inspect rule 1", "inspect rule 1: pattern"},
        {R"({"x": 1})", PolicyForm::document, Kind::unknown_key, "policy", "unknown key 'x'"},
        {R"({"x": 1, "default": "drop", "malformed": "drop", "rules": []})", PolicyForm::state,
         Kind::missing, "policy", "policy: missing \"sets\""},
        {R"({"default": "drop", "malformed": "drop", "sets": {},
             "rules": [{"id": 0, "text": "action=drop"}]})",
         PolicyForm::state, Kind::rule, "policy.rules[0].id", "0 is out of range 1..4095"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.doc);
        try {
            policy_from_json(nlohmann::json::parse(c.doc), "policy", c.form, 4096);
            ADD_FAILURE() << "no error";
        } catch (const PolicyFieldError& e) {
            EXPECT_EQ(e.kind(), c.kind) << e.what();
            EXPECT_EQ(e.where().rfind(c.where, 0), 0u) << e.what();
            EXPECT_CONTAINS(e.what(), c.message);
        }
    }
}
