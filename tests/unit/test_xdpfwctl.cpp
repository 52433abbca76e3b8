// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl: output formatting, request building, error text, and the whole
// CLI in-process against a fake daemon on a Unix socket in a temp dir.
#include "apps/xdpfwctl/cli.hpp"
#include "apps/xdpfwctl/client.hpp"
#include "apps/xdpfwctl/format.hpp"
#include "apps/xdpfwctl/requests.hpp"
#include "lib/protocol/protocol.hpp"

#include "testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

namespace xdpfw::ctl {
namespace {

using json = nlohmann::json;

using xdpfw::test::TempDir;

// Listens on DIR/xdpfwd.sock and answers each connection's first line with
// what the handler returns (sent as is plus "\n"; nullopt closes without an
// answer; "" with hang=true never answers). Records every request.
class FakeDaemon {
public:
    using Handler = std::function<std::optional<std::string>(const json& req)>;

    FakeDaemon(const std::filesystem::path& dir, Handler handler)
        : path_((dir / "xdpfwd.sock").string()), handler_(std::move(handler))
    {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 ||
            ::listen(fd_, 8) < 0)
            throw std::runtime_error("fake daemon: cannot listen on " + path_);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeDaemon()
    {
        // shutdown() wakes the blocked accept() on Linux.
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    const std::string& path() const { return path_; }
    std::vector<json> requests() const
    {
        std::lock_guard lock(mu_);
        return requests_;
    }
    // A reply with ok=true and the request's id plus the given result fields.
    static std::string ok(const json& req, json result)
    {
        result["id"] = req.at("id");
        result["ok"] = true;
        return result.dump();
    }
    static std::string error(const json& req, const std::string& code, const std::string& msg)
    {
        return json{{"id", req.at("id")},
                    {"ok", false},
                    {"error", {{"code", code}, {"message", msg}}}}
            .dump();
    }

private:
    void serve()
    {
        for (;;) {
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0)
                return;
            std::string line;
            char ch;
            while (::read(c, &ch, 1) == 1 && ch != '\n')
                line += ch;
            json req = json::parse(line, nullptr, false);
            {
                std::lock_guard lock(mu_);
                requests_.push_back(req);
            }
            if (auto reply = handler_(req)) {
                *reply += "\n";
                ssize_t n = ::write(c, reply->data(), reply->size());
                (void)n;
                // Keep the connection open until the client is done, like
                // the daemon, so the client sees the answer and not a reset.
                while (::read(c, &ch, 1) == 1) {
                }
            }
            ::close(c);
        }
    }

    std::string path_;
    Handler handler_;
    int fd_ = -1;
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<json> requests_;
};

struct CliResult {
    int rc;
    std::string out, err;
};

CliResult run(std::vector<std::string> args)
{
    args.insert(args.begin(), "xdpfwctl");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::ostringstream out, err;
    int rc = run_xdpfwctl(int(args.size()), argv.data(), out, err);
    return {rc, out.str(), err.str()};
}

json sample_status()
{
    return {{"instance", "lab"},
            {"version", 12},
            {"rules", 3},
            {"sets", 1234},
            {"default", "pass"},
            {"malformed", "drop"},
            {"adopted", false},
            {"uptime_seconds", 3725.5},
            {"interfaces",
             {{{"name", "veth0"}, {"ifindex", 4}, {"mode", "native"}, {"multiprog", true}},
              {{"name", "enp1s0f1"}, {"ifindex", 117}, {"mode", "generic"},
               {"multiprog", false}}}}};
}

json sample_stats()
{
    return {{"version", 7},
            {"time", "2024-05-01T12:00:00Z"},
            {"rules",
             {{{"id", 1}, {"priority", -5}, {"action", "pass"}, {"packets", 1234567},
               {"bytes", 98765432100ULL}, {"pps", 1234.4}, {"bps", 9876543.0},
               {"rule", "priority=-5 proto=icmp action=pass"}},
              {{"id", 12}, {"priority", 10}, {"action", "drop"}, {"packets", 0}, {"bytes", 0},
               {"pps", 0.0}, {"bps", 0.0}}}},
            {"reasons",
             {{"rule_drop", {{"packets", 1000}, {"bytes", 64000}}},
              {"default_pass", {{"packets", 5}, {"bytes", 320}}}}}};
}

// ---- formatting -----------------------------------------------------------

TEST(XdpfwctlFormat, Status)
{
    EXPECT_EQ(format_status(sample_status()), "instance   lab\n"
                                               "version    12\n"
                                               "rules      3\n"
                                               "sets       1,234\n"
                                               "default    pass\n"
                                               "malformed  drop\n"
                                               "adopted    no\n"
                                               "uptime     1h 02m 05s\n"
                                               "\n"
                                               "interface  ifindex  mode     multiprog\n"
                                               "veth0            4  native   yes\n"
                                               "enp1s0f1       117  generic  no\n");
    // A daemon that knows default_non_ip: shown after default.
    json with_non_ip = sample_status();
    with_non_ip["default_non_ip"] = "drop";
    EXPECT_NE(format_status(with_non_ip).find("default         pass\n"
                                              "default_non_ip  drop\n"
                                              "malformed       drop\n"),
              std::string::npos)
        << format_status(with_non_ip);
    json mem = sample_status();
    mem["memory"] = {{"kernel_map_bytes", 345678901}, {"daemon_rss_bytes", 8u << 20}};
    EXPECT_NE(format_status(mem).find("uptime       1h 02m 05s\n"
                                      "kernel maps  329.7 MiB\n"
                                      "daemon RSS   8.0 MiB\n"),
              std::string::npos)
        << format_status(mem);
    json none = sample_status();
    none["interfaces"] = json::array();
    none.erase("adopted");
    none.erase("uptime_seconds");
    EXPECT_NE(format_status(none).find("interfaces  none attached\n"), std::string::npos);
}

// The tier line (docs/DAEMON.md, "Program tiers"): which program runs and
// why, after the memory lines.
TEST(XdpfwctlFormat, StatusTier)
{
    json st = sample_status();
    st["memory"] = {{"kernel_map_bytes", 345678901}, {"daemon_rss_bytes", 8u << 20}};
    st["tier"] = {{"live", "specialised"}, {"program_id", 41}, {"pending", false}, {"swaps", 3},
                  {"cancelled", 1}, {"failures", 0}, {"last_swap_ms", 21.5}};
    // After the memory lines, before the interfaces.
    const std::string out = format_status(st);
    EXPECT_NE(out.find("kernel maps  329.7 MiB\n"
                       "daemon RSS   8.0 MiB\n"
                       "tier         specialised (program 41)\n"
                       "\n"
                       "interface  ifindex"),
              std::string::npos)
        << out;

    // The line's value for one tier object.
    auto tier_line = [](const json& tier) {
        json s = sample_status();
        s["tier"] = tier;
        const std::string out = format_status(s);
        const size_t at = out.find("\ntier ");
        if (at == std::string::npos)
            return "no tier line in:\n" + out;
        const size_t begin = out.find_first_not_of(' ', at + 5);
        return out.substr(begin, out.find('\n', begin) - begin);
    };
    EXPECT_EQ(tier_line({{"live", "general"},
                         {"program_id", 40},
                         {"pending", false},
                         {"general_because", "71 rules (the specialised tier takes up to 64)"}}),
              "general (program 40): 71 rules (the specialised tier takes up to 64)");
    EXPECT_EQ(tier_line({{"live", "general"},
                         {"program_id", 40},
                         {"pending", true},
                         {"general_because", "rule 3 has a rate limit (limit=)"}}),
              "general (program 40), swap pending: rule 3 has a rate limit (limit=)");
    EXPECT_EQ(tier_line({{"live", "specialised"}, {"program_id", 41}, {"pending", true}}),
              "specialised (program 41), swap pending");
    EXPECT_EQ(tier_line({{"live", "specialised"}, {"program_id", 42}, {"form", "generated"}}),
              "specialised (generated, program 42)");
    EXPECT_EQ(tier_line({{"live", "specialised"},
                         {"program_id", 43},
                         {"form", "compiled"},
                         {"compiled_because", "the policy is not lean"}}),
              "specialised (compiled, program 43): not generated: the policy is not lean");
    EXPECT_EQ(tier_line({{"live", "general"},
                         {"program_id", 41},
                         {"pending", false},
                         {"failures", 1},
                         {"error", "load xdpfw_spec: Permission denied"}}),
              "general (program 41); last swap failed: load xdpfw_spec: Permission denied");
    // An earlier daemon's program, until this daemon's first swap.
    EXPECT_EQ(tier_line({{"live", "general"},
                         {"program_id", 17},
                         {"pending", true},
                         {"adopted_program", true}}),
              "general (program 17, adopted), swap pending");
    // An older daemon's tier object without a program id or pending.
    EXPECT_EQ(tier_line({{"live", "general"}}), "general");
    EXPECT_EQ(format_status(sample_status()).find("tier"), std::string::npos);
}

TEST(XdpfwctlFormat, StatusOfAFleetNode)
{
    json st = sample_status();
    st["fleet"] = {{"node", "fw1"},
                   {"prefix", "/xdpfw/prod"},
                   {"revision", 42},
                   {"latest_revision", 43},
                   {"connected", false},
                   {"error", "revision 43: too many rules"},
                   {"failed_revision", 43},
                   {"endpoints", {"https://10.0.0.10:2379", "https://10.0.0.11:2379"}},
                   {"lease_alive", false},
                   {"lease_ttl_seconds", 10},
                   {"etcd_error", "etcd https://10.0.0.10:2379: connect: Connection refused"},
                   {"etcd_error_at", "2026-12-06T17:00:00Z"}};
    const std::string text = format_status(st);
    EXPECT_NE(text.find("fleet             /xdpfw/prod as node fw1: etcd revision 42 live (latest "
                        "seen 43)\n"
                        "fleet etcd        https://10.0.0.10:2379,https://10.0.0.11:2379 (not "
                        "connected, lease not alive)\n"
                        "fleet error       revision 43: too many rules\n"
                        "fleet etcd error  etcd https://10.0.0.10:2379: connect: Connection refused "
                        "(at 2026-12-06T17:00:00Z)\n"),
              std::string::npos)
        << text;
    st["fleet"]["connected"] = true;
    st["fleet"]["lease_alive"] = true;
    st["fleet"]["error"] = nullptr;
    st["fleet"]["etcd_error"] = nullptr;
    const std::string ok = format_status(st);
    EXPECT_NE(ok.find("(connected, lease alive)\n"), std::string::npos) << ok;
    EXPECT_EQ(ok.find("fleet error"), std::string::npos) << ok;
    EXPECT_EQ(format_status(sample_status()).find("fleet"), std::string::npos);
}

TEST(XdpfwctlFormat, Rules)
{
    json list = {{"version", 4},
                 {"rules",
                  {{{"id", 2},
                    {"priority", -10},
                    {"action", "pass"},
                    {"text", "priority=-10 src=10.0.0.0/8 action=pass"}},
                   {{"id", 11},
                    {"priority", 5},
                    {"action", "drop"},
                    {"text", "priority=5 proto=tcp dport=22 action=drop"}}}}};
    EXPECT_EQ(format_rules(list), "id  prio  action  rule\n"
                                  " 2   -10  pass    priority=-10 src=10.0.0.0/8 action=pass\n"
                                  "11     5  drop    priority=5 proto=tcp dport=22 action=drop\n");
    EXPECT_EQ(format_rules({{"version", 4}, {"rules", json::array()}}), "no rules (version 4)\n");
}

TEST(XdpfwctlFormat, Sets)
{
    json all = {
        {"sets", {{{"name", "blocklist"}, {"size", 1000000}}, {{"name", "v6"}, {"size", 2}}}}};
    EXPECT_EQ(format_sets(all), "set         prefixes\n"
                                "blocklist  1,000,000\n"
                                "v6                 2\n");
    EXPECT_EQ(format_sets({{"sets", json::array()}}), "no sets\n");
    json one = {{"name", "v6"}, {"size", 2}, {"prefixes", {"2001:db8::/32", "2001:db8:bad::/48"}}};
    EXPECT_EQ(format_sets(one), "# set v6: 2 prefixes\n2001:db8::/32\n2001:db8:bad::/48\n");
}

TEST(XdpfwctlFormat, SetListingReadsBackAsPrefixFile)
{
    TempDir dir;
    json one = {{"name", "b"}, {"size", 2}, {"prefixes", {"10.0.0.0/8", "2001:db8::/32"}}};
    auto file = dir.write("b.txt", format_sets(one));
    EXPECT_EQ(set_load_request("b", file)["prefixes"], one["prefixes"]);
}

TEST(XdpfwctlFormat, History)
{
    json h = {{"history",
               {{{"version", 10}, {"time", "2024-05-01T12:00:00Z"}, {"summary", "rule.add 3"}},
                {{"version", 9},
                 {"time", "2024-05-01T11:59:00Z"},
                 {"summary", "load: 2 rules, 1 set"}}}}};
    EXPECT_EQ(format_history(h), "version  time                  summary\n"
                                 "     10  2024-05-01T12:00:00Z  rule.add 3\n"
                                 "      9  2024-05-01T11:59:00Z  load: 2 rules, 1 set\n");
    EXPECT_EQ(format_history({{"history", json::array()}}), "no commits yet\n");
}

TEST(XdpfwctlFormat, StatsGroupsNumbersAndShowsRates)
{
    EXPECT_EQ(format_stats(sample_stats()),
              "version 7  2024-05-01T12:00:00Z\n"
              "\n"
              "id  prio  action    packets           bytes    pps  bit/s  rule\n"
              " 1    -5  pass    1,234,567  98,765,432,100  1,234  9.88M  "
              "priority=-5 proto=icmp action=pass\n"
              "12    10  drop            0               0      0      0\n" // no text sent
              "\n"
              "reason        packets   bytes\n"
              "default_pass        5     320\n"
              "rule_drop       1,000  64,000\n");
}

TEST(XdpfwctlFormat, StatsShowsReasonRatesWhenSent)
{
    json st = sample_stats();
    for (auto& [name, c] : st["reasons"].items()) {
        c["pps"] = 2500.0;
        c["bps"] = 1.5e9;
    }
    std::string text = format_stats(st);
    EXPECT_NE(text.find("reason        packets   bytes    pps  bit/s\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("rule_drop       1,000  64,000  2,500  1.50G\n"), std::string::npos)
        << text;
}

TEST(XdpfwctlFormat, SiAndDuration)
{
    EXPECT_EQ(format_si(0), "0");
    EXPECT_EQ(format_si(-3), "0");
    EXPECT_EQ(format_si(std::nan("")), "0");
    EXPECT_EQ(format_si(999.4), "999");
    EXPECT_EQ(format_si(999.6), "1.00k");
    EXPECT_EQ(format_si(1234), "1.23k");
    EXPECT_EQ(format_si(45.6e6), "45.6M");
    EXPECT_EQ(format_si(999999), "1.00M");
    EXPECT_EQ(format_si(123.4e9), "123G");
    EXPECT_EQ(format_si(4e15), "4000T");
    EXPECT_EQ(format_duration(0), "0s");
    EXPECT_EQ(format_duration(42), "42s");
    EXPECT_EQ(format_duration(302), "5m 02s");
    EXPECT_EQ(format_duration(11102), "3h 05m 02s");
    EXPECT_EQ(format_duration(183900), "2d 03h 05m");
}

TEST(XdpfwctlFormat, MissingFieldIsBadResponseNamingIt)
{
    json st = sample_stats();
    st["rules"][0].erase("packets");
    try {
        format_stats(st);
        FAIL() << "no error";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), "bad_response");
        EXPECT_EQ(e.message(), "stats rule: \"packets\" is missing or not present");
    }
    json status = sample_status();
    status["version"] = "twelve";
    EXPECT_THROW(format_status(status), ClientError);
    json neg = sample_stats();
    neg["rules"][0]["bytes"] = -1;
    EXPECT_THROW(format_stats(neg), ClientError);
}

TEST(XdpfwctlFormat, Changes)
{
    EXPECT_EQ(format_change(rule_add_request({"action=drop"}), {{"rule_id", 3}, {"version", 12}}),
              "3\n");
    EXPECT_EQ(format_change(rule_del_request(3), {{"version", 13}}),
              "rule 3 deleted (version 13)\n");
    EXPECT_EQ(format_change(set_create_request("bl"), {{"version", 2}}),
              "set bl created (version 2)\n");
    EXPECT_EQ(format_change(set_add_request("bl", {"10.0.0.0/8", "10.0.0.0/8"}),
                            {{"version", 3}, {"added", 1}, {"size", 1001}}),
              "set bl: 1 of 2 prefixes added, size 1,001 (version 3)\n");
    EXPECT_EQ(format_change(set_del_request("bl", {"10.0.0.0/8"}),
                            {{"version", 4}, {"removed", 1}, {"size", 1000}}),
              "set bl: 1 of 1 prefix removed, size 1,000 (version 4)\n");
    EXPECT_EQ(format_change({{"cmd", "set.load"}, {"name", "bl"}, {"prefixes", json::array()}},
                            {{"version", 5}, {"size", 250000}}),
              "set bl loaded, size 250,000 (version 5)\n");
    EXPECT_EQ(format_change({{"cmd", "load"}}, {{"version", 6}, {"rules", 1}, {"sets", 2}}),
              "policy loaded: 1 rule, 2 sets (version 6)\n");
    EXPECT_EQ(format_change(detach_request(), {{"detached", {"veth0", "veth1"}}}),
              "detached from veth0, veth1; xdpfwd is exiting\n");
}

// ---- requests -------------------------------------------------------------

TEST(XdpfwctlRequests, SimpleCommands)
{
    EXPECT_EQ(status_request(), json({{"cmd", "status"}}));
    EXPECT_EQ(rule_add_request({"priority=10", "proto=tcp", "dport=22", "action=drop"}),
              json({{"cmd", "rule.add"}, {"rule", "priority=10 proto=tcp dport=22 action=drop"}}));
    EXPECT_EQ(rule_del_request(7), json({{"cmd", "rule.del"}, {"rule_id", 7}}));
    EXPECT_EQ(rule_list_request(), json({{"cmd", "rule.list"}}));
    EXPECT_EQ(set_create_request("bl"), json({{"cmd", "set.create"}, {"name", "bl"}}));
    EXPECT_EQ(set_add_request("bl", {"10.0.0.0/8", "2001:db8::/32"}),
              json({{"cmd", "set.add"},
                    {"name", "bl"},
                    {"prefixes", {"10.0.0.0/8", "2001:db8::/32"}}}));
    EXPECT_EQ(set_del_request("bl", {"10.0.0.0/8"}),
              json({{"cmd", "set.del"}, {"name", "bl"}, {"prefixes", {"10.0.0.0/8"}}}));
    EXPECT_EQ(set_list_request(std::nullopt), json({{"cmd", "set.list"}}));
    EXPECT_EQ(set_list_request("bl"), json({{"cmd", "set.list"}, {"name", "bl"}}));
    EXPECT_EQ(history_request(std::nullopt), json({{"cmd", "history"}}));
    EXPECT_EQ(history_request(5), json({{"cmd", "history"}, {"limit", 5}}));
    EXPECT_EQ(stats_request(), json({{"cmd", "stats"}}));
    EXPECT_EQ(detach_request(), json({{"cmd", "detach"}}));
}

TEST(XdpfwctlRequests, SetLoadParsesLocally)
{
    TempDir dir;
    auto file = dir.write("bl.txt", "# blocklist\n\n  198.51.100.0/24  # docs\n10.0.0.0/8\n"
                                    "2001:db8::/32\n10.0.0.0/8\n");
    EXPECT_EQ(set_load_request("bl", file),
              json({{"cmd", "set.load"},
                    {"name", "bl"},
                    {"prefixes", {"10.0.0.0/8", "198.51.100.0/24", "2001:db8::/32"}}}));

    auto bad = dir.write("bad.txt", "10.0.0.0/8\n\n10.0.0.0/33\n");
    try {
        set_load_request("bl", bad);
        FAIL() << "no error";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.kind(), ClientError::Kind::local);
        EXPECT_EQ(e.code(), "invalid_prefix");
        EXPECT_NE(e.message().find(bad.string() + ":3:"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("prefix length 33 > 32"), std::string::npos) << e.message();
    }
    try {
        set_load_request("bl", dir.path() / "missing.txt");
        FAIL() << "no error";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), "io_error");
        EXPECT_NE(e.message().find("missing.txt: No such file"), std::string::npos) << e.message();
    }
}

TEST(XdpfwctlRequests, LoadSendsThePolicyObject)
{
    TempDir dir;
    dir.write("big.txt", "203.0.113.0/24\n# comment\n192.0.2.0/24\n");
    auto file = dir.write("policy.yaml", "default: drop\n"
                                         "sets:\n"
                                         "  bl: [198.51.100.0/24, \"2001:db8:bad::/48\"]\n"
                                         "  big: {file: big.txt}\n"
                                         "rules:\n"
                                         "  - priority=10 src=@bl action=drop\n"
                                         "  - id=100 proto=udp dport=53 action=xsk fallback=drop\n"
                                         "  - dst=@big action=count\n");
    json expected = {{"cmd", "load"},
                     {"policy",
                      {{"default", "drop"},
                       {"malformed", "drop"},
                       {"rules",
                        {"id=1 priority=10 src=@bl action=drop",
                         "id=100 priority=0 proto=udp dport=53 action=xsk fallback=drop",
                         "id=3 priority=0 dst=@big action=count"}},
                       {"sets",
                        {{"big", {"192.0.2.0/24", "203.0.113.0/24"}},
                         {"bl", {"198.51.100.0/24", "2001:db8:bad::/48"}}}}}}};
    EXPECT_EQ(load_request(file), expected);
}

TEST(XdpfwctlRequests, LoadErrorNamesFileRuleAndKey)
{
    TempDir dir;
    auto file = dir.write("policy.yaml", "rules:\n  - action=drop\n  - dport=70000 action=drop\n");
    try {
        load_request(file);
        FAIL() << "no error";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), "invalid_policy");
        EXPECT_EQ(exit_code(e), 1);
        EXPECT_NE(e.message().find(file.string()), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("rule 2"), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("dport"), std::string::npos) << e.message();
    }
}

// ---- errors ---------------------------------------------------------------

TEST(XdpfwctlErrors, Formatting)
{
    ClientError daemon(ClientError::Kind::daemon, "unknown_rule", "no rule with id 7");
    EXPECT_EQ(format_error(daemon), "xdpfwctl: unknown_rule: no rule with id 7");
    EXPECT_EQ(exit_code(daemon), 1);
    ClientError conn(ClientError::Kind::connect, "connect",
                     "cannot connect to /x: Connection refused (is xdpfwd running?)");
    EXPECT_EQ(format_error(conn),
              "xdpfwctl: cannot connect to /x: Connection refused (is xdpfwd running?)");
    EXPECT_EQ(exit_code(conn), 2);
    ClientError timeout(ClientError::Kind::transport, "timeout", "no response");
    EXPECT_EQ(format_error(timeout), "xdpfwctl: timeout: no response");
    EXPECT_EQ(exit_code(timeout), 1);
}

TEST(XdpfwctlErrors, ResultDropsEnvelope)
{
    EXPECT_EQ(result_of({{"id", 1}, {"ok", true}, {"version", 3}}), json({{"version", 3}}));
}

// ---- end to end against a fake daemon ----------------------------------------

TEST(XdpfwctlEndToEnd, StatusHumanAndJson)
{
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) { return FakeDaemon::ok(req, sample_status()); });
    CliResult r = run({"--socket", d.path(), "status"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, format_status(sample_status()));
    EXPECT_EQ(r.err, "");

    // Global options also after the subcommand.
    r = run({"status", "--json", "--socket", d.path()});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, sample_status().dump(2) + "\n");

    auto reqs = d.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0]["cmd"], "status");
    EXPECT_TRUE(reqs[0]["id"].is_number_integer());
}

TEST(XdpfwctlEndToEnd, SocketFromEnvironment)
{
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) { return FakeDaemon::ok(req, sample_status()); });
    ::setenv("XDPFW_SOCKET", d.path().c_str(), 1);
    CliResult r = run({"status"});
    CliResult elsewhere = run({"--socket", (dir.path() / "other.sock").string(), "status"});
    ::unsetenv("XDPFW_SOCKET");
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(elsewhere.rc, 2); // --socket wins over the environment
}

TEST(XdpfwctlEndToEnd, RuleAddPrintsIdAndSendsText)
{
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) {
        return FakeDaemon::ok(req, {{"rule_id", 42}, {"version", 9}});
    });
    CliResult r = run({"--socket", d.path(), "rule", "add", "priority=10", "proto=tcp", "dport=22",
                 "tcp_flags=SYN,!ACK", "action=drop"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "42\n");
    ASSERT_EQ(d.requests().size(), 1u);
    EXPECT_EQ(d.requests()[0]["rule"],
              "priority=10 proto=tcp dport=22 tcp_flags=SYN,!ACK action=drop");
}

TEST(XdpfwctlEndToEnd, ErrorResponseExitsOneWithCodeOnStderr)
{
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) {
        return FakeDaemon::error(req, "unknown_rule", "no rule with id 7");
    });
    CliResult r = run({"--socket", d.path(), "rule", "del", "7"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "xdpfwctl: unknown_rule: no rule with id 7\n");
    EXPECT_EQ(d.requests().at(0), json({{"id", 1}, {"cmd", "rule.del"}, {"rule_id", 7}}));
}

TEST(XdpfwctlEndToEnd, UnknownErrorCodeIsPrintedAsSent)
{
    // A code this build does not know (a newer daemon's) is still the
    // daemon's error: printed as it came, exit 1.
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) {
        return FakeDaemon::error(req, "quota_exceeded", "too many rules for tenant");
    });
    CliResult r = run({"--socket", d.path(), "rule", "del", "7"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "xdpfwctl: quota_exceeded: too many rules for tenant\n");
}

TEST(XdpfwctlRequests, EveryRequestNamesItsCommand)
{
    // The client's request builders use the shared command table: each
    // command's builder sends exactly its wire name.
    using protocol::Command;
    const std::vector<std::pair<json, Command>> built = {
        {status_request(), Command::status},
        {rule_add_request({"action=drop"}), Command::rule_add},
        {rule_del_request(3), Command::rule_del},
        {rule_list_request(), Command::rule_list},
        {inspect_add_request({"action=drop"}), Command::inspect_add},
        {inspect_del_request(3), Command::inspect_del},
        {inspect_list_request(), Command::inspect_list},
        {set_create_request("a"), Command::set_create},
        {set_add_request("a", {"10.0.0.0/8"}), Command::set_add},
        {set_del_request("a", {"10.0.0.0/8"}), Command::set_del},
        {set_list_request(std::nullopt), Command::set_list},
        {history_request(std::nullopt), Command::history},
        {confirm_request(), Command::confirm},
        {rollback_request(std::nullopt), Command::rollback},
        {diff_request(1, std::nullopt), Command::diff},
        {stats_request(), Command::stats},
        {detach_request(), Command::detach},
    };
    for (const auto& [req, cmd] : built)
        EXPECT_EQ(req.at("cmd"), protocol::command_name(cmd)) << req.dump();
}

TEST(XdpfwctlSafeOps, DryRunAndConfirmGoIntoTheRequestAndTheOutput)
{
    TempDir dir;
    const json diff = {
        {"rules",
         {{"added", {{{"id", 4}, {"text", "priority=0 proto=udp action=drop"}}}},
          {"removed", json::array()},
          {"changed", json::array()}}},
        {"inspect_rules",
         {{"added", json::array()}, {"removed", json::array()}, {"changed", json::array()}}},
        {"sets",
         {{{"name", "blk"}, {"change", "changed"}, {"size_before", 1000}, {"size_after", 1002},
           {"added", 7}, {"removed", 5}, {"first_added", {"10.0.0.1/32", "10.0.0.2/32"}},
           {"first_removed", {"192.0.2.0/24"}}}}},
        {"default", {{"before", "pass"}, {"after", "drop"}}},
        {"malformed", {{"before", "drop"}, {"after", "drop"}}}};
    FakeDaemon d(dir.path(), [&](const json& req) {
        if (req.value("dry_run", false))
            return FakeDaemon::ok(req, {{"rule_id", 4}, {"version", 9}, {"dry_run", true},
                                        {"diff", diff}});
        return FakeDaemon::ok(req, {{"rule_id", 4},
                                    {"version", 10},
                                    {"pending_confirm",
                                     {{"deadline", "2026-01-01T00:00:30.000Z"},
                                      {"seconds_left", 29.2},
                                      {"version", 10},
                                      {"rollback_version", 9}}}});
    });
    CliResult dry = run({"--socket", d.path(), "rule", "add", "proto=udp", "action=drop",
                         "--dry-run"});
    EXPECT_EQ(dry.rc, 0) << dry.err;
    EXPECT_EQ(dry.out, "dry run: nothing committed (live version 9)\n"
                       "+ rule 4: priority=0 proto=udp action=drop\n"
                       "~ set blk: size 1,000 -> 1,002; +7 (10.0.0.1/32, 10.0.0.2/32, ...); "
                       "-5 (192.0.2.0/24, ...)\n"
                       "~ default: pass -> drop\n");
    CliResult confirmed = run({"--socket", d.path(), "rule", "add", "proto=udp", "action=drop",
                               "--confirm", "30"});
    EXPECT_EQ(confirmed.rc, 0) << confirmed.err;
    EXPECT_EQ(confirmed.out, "4\n"); // stdout stays the id, for scripts
    EXPECT_EQ(confirmed.err,
              "xdpfwctl: awaiting confirmation: version 10 until 2026-01-01T00:00:30.000Z (30 s "
              "left), then version 9's policy comes back; `xdpfwctl confirm` keeps it\n");
    const std::vector<json> reqs = d.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0].at("dry_run"), true);
    EXPECT_FALSE(reqs[0].contains("confirm"));
    EXPECT_EQ(reqs[1].at("confirm"), 30);
    EXPECT_FALSE(reqs[1].contains("dry_run"));
    // Both at once, or a wait out of range, are usage errors.
    EXPECT_EQ(run({"--socket", d.path(), "load", "x.yaml", "--dry-run", "--confirm", "5"}).rc, 64);
    EXPECT_EQ(run({"--socket", d.path(), "rule", "del", "3", "--confirm", "0"}).rc, 64);
    EXPECT_EQ(d.requests().size(), 2u);
}

TEST(XdpfwctlEndToEnd, RefusedPeerGetsTheDaemonsError)
{
    // The daemon answers a refused peer with id 0 (it never read the
    // request) and closes; that is its error, not an id mismatch.
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json&) {
        return FakeDaemon::error({{"id", 0}}, "permission_denied", "uid 1000 may not connect");
    });
    CliResult r = run({"--socket", d.path(), "history"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "xdpfwctl: permission_denied: uid 1000 may not connect\n");
}

TEST(XdpfwctlEndToEnd, DaemonNotRunningExitsTwo)
{
    TempDir dir;
    std::string path = (dir.path() / "xdpfwd.sock").string();
    CliResult r = run({"--socket", path, "status"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "xdpfwctl: cannot connect to " + path +
                         ": No such file or directory (is xdpfwd running?)\n");

    // A socket file nobody listens on: the stale file a crashed daemon leaves.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
    r = run({"--socket", path, "status"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_EQ(r.err, "xdpfwctl: cannot connect to " + path +
                         ": Connection refused (is xdpfwd running?)\n");
}

TEST(XdpfwctlEndToEnd, TimeoutBadResponseAndHangup)
{
    TempDir dir;
    std::atomic<int> mode = 0;
    std::atomic<bool> release = false;
    FakeDaemon d(dir.path(), [&](const json& req) -> std::optional<std::string> {
        switch (mode.load()) {
        case 0: // a daemon that does not answer until the client gave up
            while (!release)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return std::nullopt;
        case 1:
            return std::string("this is not json");
        case 2:
            return std::nullopt;
        default:
            return json({{"id", req["id"].get<int>() + 1}, {"ok", true}}).dump();
        }
    });
    CliResult r = run({"--socket", d.path(), "--timeout", "0.1", "status"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err,
              "xdpfwctl: timeout: no response from xdpfwd on " + d.path() + " within 0.1 s\n");
    release = true;
    mode = 1;
    r = run({"--socket", d.path(), "status"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err.rfind("xdpfwctl: bad_response: response is not JSON", 0), 0u) << r.err;
    mode = 2;
    r = run({"--socket", d.path(), "status"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "xdpfwctl: io_error: xdpfwd closed the connection without answering\n");
    mode = 3;
    r = run({"--socket", d.path(), "status"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, "xdpfwctl: bad_response: response id 2 does not match request id 1\n");
}

TEST(XdpfwctlEndToEnd, LoadAndSetLoadSendLocalFiles)
{
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) {
        if (req["cmd"] == "load")
            return FakeDaemon::ok(req, {{"version", 2}, {"rules", 1}, {"sets", 1}});
        return FakeDaemon::ok(req, {{"version", 3}, {"size", 2}});
    });
    auto policy = dir.write("p.yaml", "sets: {bl: [10.0.0.0/8]}\nrules: [src=@bl action=drop]\n");
    auto prefixes = dir.write("bl.txt", "192.0.2.0/24\n10.0.0.0/8\n");
    CliResult r = run({"--socket", d.path(), "load", policy.string()});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "policy loaded: 1 rule, 1 set (version 2)\n");
    r = run({"--socket", d.path(), "set", "load", "bl", prefixes.string(), "--json"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(json::parse(r.out), json({{"version", 3}, {"size", 2}}));
    auto reqs = d.requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0]["policy"]["rules"], json({"id=1 priority=0 src=@bl action=drop"}));
    EXPECT_EQ(reqs[1]["prefixes"], json({"10.0.0.0/8", "192.0.2.0/24"}));

    // A bad file is refused before anything is sent.
    auto bad = dir.write("bad.yaml", "rules: [src=@nosuch action=drop]\n");
    r = run({"--socket", d.path(), "load", bad.string()});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err.rfind("xdpfwctl: invalid_policy: " + bad.string(), 0), 0u) << r.err;
    EXPECT_NE(r.err.find("unknown set 'nosuch'"), std::string::npos) << r.err;
    EXPECT_EQ(d.requests().size(), 2u);
}

TEST(XdpfwctlEndToEnd, OptionalArgumentsReachTheRequest)
{
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) {
        if (req["cmd"] == "history")
            return FakeDaemon::ok(req, {{"history", json::array()}});
        return FakeDaemon::ok(req, {{"sets", json::array()}});
    });
    EXPECT_EQ(run({"--socket", d.path(), "history", "--limit", "5"}).out, "no commits yet\n");
    EXPECT_EQ(run({"--socket", d.path(), "set", "list"}).out, "no sets\n");
    run({"--socket", d.path(), "set", "list", "bl"});
    auto reqs = d.requests();
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(reqs[0]["limit"], 5);
    EXPECT_FALSE(reqs[1].contains("name"));
    EXPECT_EQ(reqs[2]["name"], "bl");
}

TEST(XdpfwctlEndToEnd, StatsWatchPrintsSuccessiveTables)
{
    TempDir dir;
    FakeDaemon d(dir.path(), [](const json& req) { return FakeDaemon::ok(req, sample_stats()); });
    CliResult r = run({"--socket", d.path(), "stats", "--watch", "0.01", "--count", "2"});
    EXPECT_EQ(r.rc, 0) << r.err;
    std::string table = format_stats(sample_stats());
    EXPECT_EQ(r.out, table + "\n" + table); // not a tty: no ANSI clearing

    r = run({"--socket", d.path(), "stats", "--json", "--watch", "0.01", "--count", "3"});
    EXPECT_EQ(r.rc, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
        EXPECT_EQ(json::parse(line), sample_stats());
        n++;
    }
    EXPECT_EQ(n, 3);

    r = run({"--socket", d.path(), "stats"});
    EXPECT_EQ(r.out, table);
}

TEST(XdpfwctlEndToEnd, UsageErrorsExit64)
{
    EXPECT_EQ(run({}).rc, 64);
    EXPECT_EQ(run({"frobnicate"}).rc, 64);
    EXPECT_EQ(run({"rule", "del", "abc"}).rc, 64);
    EXPECT_EQ(run({"rule", "add"}).rc, 64);
    EXPECT_EQ(run({"set", "add", "bl"}).rc, 64);
    EXPECT_EQ(run({"stats", "--count", "2"}).rc, 64);
    EXPECT_EQ(run({"--timeout", "0", "status"}).rc, 64);
    CliResult help = run({"--help"});
    EXPECT_EQ(help.rc, 0);
    EXPECT_NE(help.out.find("Usage: xdpfwctl"), std::string::npos) << help.out;
}

} // namespace
} // namespace xdpfw::ctl
