// SPDX-License-Identifier: GPL-2.0-only
// `xdpfwctl save` -> `xdpfwctl load` on random policies: the daemon's
// policy.get, the CLI's rule file, the CLI's load request and the daemon's
// load, with the real command executor on both ends. The reloaded policy must
// be equal and compile to identical tables.
#include "apps/xdpfwctl/client.hpp"
#include "apps/xdpfwctl/requests.hpp"
#include "apps/xdpfwctl/save.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/control/commands.hpp"
#include "lib/lang/rule_parser.hpp"

#include "testing/random_policy.hpp"
#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>

using namespace xdpfw;

namespace {

class NullSink : public PolicySink {
public:
    void commit(const Policy&, uint64_t) override {}
};

class QuietView : public DataplaneView {
public:
    std::string instance() const override { return "save-load"; }
    std::vector<InterfaceStatus> interfaces() const override { return {}; }
    bool adopted() const override { return false; }
    double uptime_seconds() const override { return 0; }
    CounterSample rule_counter(uint32_t) const override { return {}; }
    std::vector<std::pair<std::string, CounterSample>> reason_counters() const override
    {
        return {};
    }
    std::vector<std::string> detach() override { return {}; }
};

nlohmann::json result_of(const nlohmann::json& response)
{
    EXPECT_TRUE(response.value("ok", false)) << response.dump();
    nlohmann::json r = response;
    r.erase("ok");
    r.erase("id");
    return r;
}

// Comments with what quoting must survive: blanks, quotes, backslashes, '#'
// (a YAML comment outside quotes), ':' and UTF-8.
void add_comments(std::mt19937_64& rng, Policy& p)
{
    static const char* pieces[] = {"web", " ", "\"", "\\", "#", ": ", "é", "x=y", "'"};
    for (Rule& r : p.rules) {
        if (rng() % 3)
            continue;
        for (size_t n = 1 + rng() % 10; n > 0; --n)
            r.comment += pieces[rng() % std::size(pieces)];
        r.text = format_rule(r);
    }
}

bool same_rules(const std::vector<xdpfw_rule>& a, const std::vector<xdpfw_rule>& b)
{
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0);
}

void expect_same_tables(const CompiledPolicy& a, const CompiledPolicy& b, const std::string& what)
{
    EXPECT_EQ(a.n_rules, b.n_rules) << what;
    EXPECT_EQ(a.n_words, b.n_words) << what;
    EXPECT_EQ(a.used_fields, b.used_fields) << what;
    EXPECT_EQ(a.default_action, b.default_action) << what;
    EXPECT_EQ(a.malformed_action, b.malformed_action) << what;
    EXPECT_EQ(a.default_non_ip_action, b.default_non_ip_action) << what;
    EXPECT_TRUE(same_rules(a.rules, b.rules)) << what;
    EXPECT_EQ(a.bitmaps, b.bitmaps) << what;
    EXPECT_EQ(a.all_bitmap, b.all_bitmap) << what;
    EXPECT_EQ(a.vlan, b.vlan) << what;
    EXPECT_EQ(a.proto, b.proto) << what;
    EXPECT_EQ(a.sport, b.sport) << what;
    EXPECT_EQ(a.dport, b.dport) << what;
    EXPECT_EQ(a.tcp_flags, b.tcp_flags) << what;
    EXPECT_EQ(a.icmp, b.icmp) << what;
    EXPECT_EQ(a.ifindex, b.ifindex) << what;
    EXPECT_EQ(a.ifindex_default, b.ifindex_default) << what;
    EXPECT_EQ(a.ether, b.ether) << what;
    EXPECT_EQ(a.ether_default, b.ether_default) << what;
    EXPECT_EQ(a.source_hash, b.source_hash) << what;
    for (int d = 0; d < XDPFW_DIRECTIONS; ++d) {
        const AddrTables &x = a.addr[d], &y = b.addr[d];
        EXPECT_EQ(x.class_bitmap, y.class_bitmap) << what << " direction " << d;
        EXPECT_EQ(x.v4->tbl24.flat(), y.v4->tbl24.flat()) << what << " direction " << d;
        EXPECT_EQ(x.v4->chunks.flat(), y.v4->chunks.flat()) << what << " direction " << d;
        EXPECT_EQ(x.v4->hosts.flat(), y.v4->hosts.flat()) << what << " direction " << d;
        EXPECT_EQ(x.v4->host_buckets, y.v4->host_buckets) << what << " direction " << d;
        EXPECT_EQ(x.v6->by_len, y.v6->by_len) << what << " direction " << d;
    }
    EXPECT_EQ(a.spec_why_not, b.spec_why_not) << what;
    EXPECT_EQ(a.spec == nullptr, b.spec == nullptr) << what;
    if (a.spec && b.spec) {
        EXPECT_EQ(std::memcmp(a.spec.get(), b.spec.get(), sizeof(xdpfw_spec)), 0) << what;
    }
}

} // namespace

TEST(SaveLoad, RandomPoliciesRoundTripToIdenticalTables)
{
    std::mt19937_64 rng(20261206);
    test::RandomPolicyOptions opts;
    opts.max_rules = 30;
    opts.max_set_prefixes = 200;
    test::TempDir dir;
    QuietView view;
    CompileOptions copts;
    copts.resolve = test::fake_ifindex;

    // Each round compiles twice (a DIR-24 table per direction): a few seconds.
    for (int i = 0; i < 8; ++i) {
        Policy p = test::random_policy(rng, opts);
        add_comments(rng, p);
        p.default_action = rng() % 2 ? ActionType::drop : ActionType::pass;
        p.default_non_ip_action = rng() % 2 ? ActionType::drop : ActionType::pass;
        p.malformed_action = rng() % 2 ? ActionType::drop : ActionType::pass;
        const std::string what = "policy " + std::to_string(i);

        NullSink sink_a, sink_b;
        PolicyStore a(sink_a, 4096, {}), b(sink_b, 4096, {});
        a.replace(p, "random");
        bool exit_after = false;
        nlohmann::json got = result_of(
            execute_request({{"id", 1}, {"cmd", "policy.get"}}, a, view, &exit_after));
        EXPECT_EQ(got.value("version", 0u), a.version());

        // What `xdpfwctl save FILE` writes, then what `xdpfwctl load FILE` sends.
        const auto file = dir.path() / ("saved-" + std::to_string(i) + ".yaml");
        ASSERT_NO_THROW(ctl::save_policy(got, file)) << what;
        nlohmann::json load = ctl::load_request(file);
        load["id"] = 2;
        result_of(execute_request(load, b, view, &exit_after));

        ASSERT_EQ(b.policy(), a.policy()) << what << "\n" << ctl::saved_policy_text(got);
        expect_same_tables(compile(a.policy(), copts), compile(b.policy(), copts), what);
    }
}

TEST(SaveLoad, SaveWritesAtomicallyAndNamesWhatItWrote)
{
    test::TempDir dir;
    NullSink sink;
    PolicyStore store(sink, 4096, {});
    Policy p;
    p.default_action = ActionType::drop;
    p.sets["block"] = {Prefix::parse("192.0.2.0/24")};
    p.rules.push_back(parse_rule("id=3 src=@block action=drop comment=\"abuse desk #41\"", "t"));
    store.replace(p, "t");
    QuietView view;
    bool exit_after = false;
    nlohmann::json got =
        result_of(execute_request({{"id", 1}, {"cmd", "policy.get"}}, store, view, &exit_after));

    const auto file = dir.path() / "policy.yaml";
    std::ofstream(file) << "old contents\n";
    EXPECT_EQ(ctl::save_policy(got, file), "saved version 1 (1 rule, 1 set) to " + file.string() + "\n");
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.rfind("# xdpfw policy, version 1 of the daemon, saved ", 0), 0u) << text;
    EXPECT_NE(text.find("abuse desk #41"), std::string::npos) << text;
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                            std::filesystem::directory_iterator()),
              1) << "no temporary file is left behind";
    // Without a file the text is the output; a directory that does not exist
    // is an io_error naming the path.
    EXPECT_EQ(ctl::save_policy(got, std::nullopt).substr(0, 14), "# xdpfw policy");
    try {
        ctl::save_policy(got, dir.path() / "missing" / "p.yaml");
        ADD_FAILURE() << "no error";
    } catch (const ctl::ClientError& e) {
        EXPECT_EQ(e.code(), "io_error");
        EXPECT_NE(e.message().find("missing"), std::string::npos) << e.message();
    }
    // An answer without a policy is the daemon's fault, said so.
    try {
        ctl::save_policy({{"version", 1}}, std::nullopt);
        ADD_FAILURE() << "no error";
    } catch (const ctl::ClientError& e) {
        EXPECT_EQ(e.code(), "bad_response");
    }
}
