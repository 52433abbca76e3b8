// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl commands: CLI11 definitions, request, output, exit code.
#include "apps/xdpfwctl/cli.hpp"

#include "apps/xdpfwctl/client.hpp"
#include "apps/xdpfwctl/format.hpp"
#include "apps/xdpfwctl/requests.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <functional>
#include <iostream>
#include <optional>

namespace xdpfw::ctl {

namespace {

using json = nlohmann::json;

// The daemon's result objects are UTF-8 JSON; a stray invalid byte in a
// name must not make printing the rest impossible.
std::string pretty(const json& j, int indent)
{
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

volatile std::sig_atomic_t interrupted = 0;

extern "C" void on_sigint(int)
{
    interrupted = 1;
}

// SIGINT ends `stats --watch` cleanly (exit 0) instead of killing the
// process mid-line; the previous disposition comes back afterwards.
class SigintGuard {
public:
    SigintGuard()
    {
        interrupted = 0;
        struct sigaction sa {};
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; // no SA_RESTART: the sleep ends at once
        sigaction(SIGINT, &sa, &old_);
    }
    ~SigintGuard() { sigaction(SIGINT, &old_, nullptr); }
    SigintGuard(const SigintGuard&) = delete;
    SigintGuard& operator=(const SigintGuard&) = delete;

private:
    struct sigaction old_ {};
};

void sleep_unless_interrupted(double seconds)
{
    auto end = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(seconds));
    while (!interrupted) {
        auto left = end - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero())
            return;
        auto slice = std::min<std::chrono::steady_clock::duration>(left,
                                                                   std::chrono::milliseconds(100));
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count();
        timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
        nanosleep(&ts, nullptr);
    }
}

struct Options {
    std::string socket = default_socket_path;
    double timeout = 30;
    bool json = false;
    double watch = 0;
    unsigned count = 0;
};

int watch_stats(const Options& o, std::ostream& out)
{
    // Clearing the screen only makes sense on a terminal; a pipe or file
    // gets the tables one after another.
    const bool tty = &out == &std::cout && ::isatty(STDOUT_FILENO);
    SigintGuard guard;
    for (unsigned n = 0; !interrupted;) {
        json result = result_of(request(o.socket, stats_request(), o.timeout));
        if (interrupted)
            break;
        if (o.json) {
            out << pretty(result, -1) << "\n";
        } else {
            std::string table = format_stats(result);
            if (tty)
                out << "\033[H\033[2J";
            else if (n > 0)
                out << "\n";
            out << table;
        }
        out.flush();
        if (++n == o.count)
            break;
        sleep_unless_interrupted(o.watch);
    }
    return 0;
}

} // namespace

int run_xdpfwctl(int argc, char** argv, std::ostream& out, std::ostream& err)
{
    Options o;
    // What the chosen subcommand sends and how its answer reads to a human;
    // set by the subcommand's callback, run after parsing succeeded.
    std::function<json()> build;
    std::function<std::string(const json& req, const json& result)> human;

    CLI::App app{"xdpfwctl: control the xdpfwd XDP firewall daemon (docs/PROTOCOL.md)"};
    app.name("xdpfwctl");
    // Options of the top level (--socket, --timeout) also work after the
    // subcommand; set before the subcommands exist, which inherit it.
    app.fallthrough();
    app.require_subcommand(1);
    app.add_option("-s,--socket", o.socket, "control socket of xdpfwd")
        ->envname("XDPFW_SOCKET")
        ->capture_default_str();
    app.add_option("--timeout", o.timeout, "seconds to wait for each response")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();

    auto json_flag = [&](CLI::App* sub) {
        sub->add_flag("--json", o.json, "print the daemon's result object as JSON");
    };
    auto simple = [&](CLI::App* sub, std::function<json()> b,
                      std::function<std::string(const json&, const json&)> h) {
        sub->callback([&build, &human, b, h] {
            build = b;
            human = h;
        });
    };
    auto change = [](const json& req, const json& result) { return format_change(req, result); };

    auto* status = app.add_subcommand("status", "instance, interfaces, live version, counts");
    json_flag(status);
    simple(status, status_request, [](const json&, const json& r) { return format_status(r); });

    auto* rule = app.add_subcommand("rule", "add, delete and list rules");
    rule->require_subcommand(1);
    std::vector<std::string> rule_words;
    auto* rule_add = rule->add_subcommand("add", "add one rule (docs/RULES.md); prints its id");
    rule_add->add_option("words", rule_words, "rule text, e.g. priority=10 proto=tcp dport=22 "
                                              "action=drop")
        ->required();
    json_flag(rule_add);
    simple(rule_add, [&rule_words] { return rule_add_request(rule_words); }, change);

    uint32_t rule_id = 0;
    auto* rule_del = rule->add_subcommand("del", "delete the rule with this id");
    rule_del->add_option("id", rule_id, "rule id")->required()->check(
        CLI::Range(uint32_t(1), uint32_t(UINT32_MAX)));
    json_flag(rule_del);
    simple(rule_del, [&rule_id] { return rule_del_request(rule_id); }, change);

    auto* rule_list = rule->add_subcommand("list", "rules in evaluation order");
    json_flag(rule_list);
    simple(rule_list, rule_list_request,
           [](const json&, const json& r) { return format_rules(r); });

    auto* insp = app.add_subcommand("inspect", "add, delete and list payload inspection rules");
    insp->require_subcommand(1);
    std::vector<std::string> inspect_words;
    auto* insp_add = insp->add_subcommand(
        "add", "add one inspection rule (docs/RULES.md, \"Inspection rules\"); prints its id");
    insp_add->add_option("words", inspect_words,
                         "rule text, e.g. priority=10 dns_suffix=evil.example action=drop")
        ->required();
    json_flag(insp_add);
    simple(insp_add, [&inspect_words] { return inspect_add_request(inspect_words); }, change);
    uint32_t inspect_id = 0;
    auto* insp_del = insp->add_subcommand("del", "delete the inspection rule with this id");
    insp_del->add_option("id", inspect_id, "inspection rule id")->required()->check(
        CLI::Range(1u, std::numeric_limits<uint32_t>::max()));
    json_flag(insp_del);
    simple(insp_del, [&inspect_id] { return inspect_del_request(inspect_id); }, change);
    auto* insp_list = insp->add_subcommand("list", "inspection rules by priority, with counters");
    json_flag(insp_list);
    simple(insp_list, inspect_list_request,
           [](const json&, const json& r) { return format_inspect_rules(r); });

    auto* set = app.add_subcommand("set", "create, change and list named prefix sets");
    set->require_subcommand(1);
    std::string set_name, set_file;
    std::vector<std::string> prefixes;
    auto* set_create = set->add_subcommand("create", "create an empty set");
    set_create->add_option("name", set_name, "set name")->required();
    json_flag(set_create);
    simple(set_create, [&set_name] { return set_create_request(set_name); }, change);

    auto* set_add = set->add_subcommand("add", "add prefixes to a set");
    set_add->add_option("name", set_name, "set name")->required();
    set_add->add_option("prefixes", prefixes, "prefixes, e.g. 198.51.100.0/24")->required();
    json_flag(set_add);
    simple(set_add, [&set_name, &prefixes] { return set_add_request(set_name, prefixes); }, change);

    auto* set_del = set->add_subcommand("del", "remove prefixes from a set");
    set_del->add_option("name", set_name, "set name")->required();
    set_del->add_option("prefixes", prefixes, "prefixes to remove")->required();
    json_flag(set_del);
    simple(set_del, [&set_name, &prefixes] { return set_del_request(set_name, prefixes); }, change);

    auto* set_load = set->add_subcommand(
        "load", "replace a set with the prefixes of a file (one per line, # comments)");
    set_load->add_option("name", set_name, "set name (created if missing)")->required();
    set_load->add_option("file", set_file, "prefix file")->required();
    json_flag(set_load);
    simple(set_load, [&set_name, &set_file] { return set_load_request(set_name, set_file); },
           change);

    std::optional<std::string> list_name;
    auto* set_list = set->add_subcommand("list", "sets and sizes, or the prefixes of one set");
    set_list->add_option("name", list_name, "list this set's prefixes");
    json_flag(set_list);
    simple(set_list, [&list_name] { return set_list_request(list_name); },
           [](const json&, const json& r) { return format_sets(r); });

    std::string policy_file;
    auto* load = app.add_subcommand(
        "load", "replace the whole policy with a YAML rule file (docs/RULES.md), atomically");
    load->add_option("file", policy_file, "YAML policy file")->required();
    json_flag(load);
    simple(load, [&policy_file] { return load_request(policy_file); }, change);

    std::optional<unsigned> limit;
    auto* history = app.add_subcommand("history", "commits, newest first");
    history->add_option("--limit", limit, "at most this many commits (daemon default 50)")
        ->check(CLI::PositiveNumber);
    json_flag(history);
    simple(history, [&limit] { return history_request(limit); },
           [](const json&, const json& r) { return format_history(r); });

    auto* stats = app.add_subcommand("stats", "per-rule and per-reason counters and rates");
    json_flag(stats);
    auto* watch = stats->add_option("--watch", o.watch,
                                    "redraw every SECONDS (default 1) until interrupted; with "
                                    "--json one object per line")
                      ->expected(0, 1)
                      ->default_str("1")
                      ->type_name("[SECONDS]")
                      ->check(CLI::PositiveNumber);
    stats->add_option("--count", o.count, "with --watch: stop after this many updates")
        ->check(CLI::PositiveNumber)
        ->needs(watch);
    simple(stats, stats_request, [](const json&, const json& r) { return format_stats(r); });

    auto* detach = app.add_subcommand(
        "detach", "remove the program from every interface, remove the pins; xdpfwd exits");
    json_flag(detach);
    simple(detach, detach_request, change);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e, out, err);
        return rc == 0 ? 0 : 64;
    }

    try {
        if (watch->count() > 0)
            return watch_stats(o, out);
        json req = build();
        json result = result_of(request(o.socket, req, o.timeout));
        out << (o.json ? pretty(result, 2) + "\n" : human(req, result));
        return 0;
    } catch (const ClientError& e) {
        err << format_error(e) << "\n";
        return exit_code(e);
    } catch (const std::exception& e) {
        err << "xdpfwctl: internal: " << e.what() << "\n";
        return 1;
    }
}

} // namespace xdpfw::ctl
