// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl commands: CLI11 definitions, request, output, exit code.
#include "apps/xdpfwctl/cli.hpp"

#include "apps/xdpfwctl/client.hpp"
#include "apps/xdpfwctl/fleet_cli.hpp"
#include "apps/xdpfwctl/format.hpp"
#include "apps/xdpfwctl/monitor.hpp"
#include "apps/xdpfwctl/requests.hpp"
#include "apps/xdpfwctl/save.hpp"
#include "apps/xdpfwctl/tap_cli.hpp"
#include "lib/base/version.hpp"
#include "lib/protocol/protocol.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <functional>
#include <limits>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

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

using Human = std::function<std::string(const json& req, const json& result)>;

// What the chosen subcommand sends and how its answer reads to a human; set
// by the subcommand's callback, run after parsing succeeded.
struct Chosen {
    std::function<json()> build;
    Human human;
};

// Where CLI11 stores the subcommands' arguments: alive while parsing and
// while the chosen subcommand's build() runs.
struct Args {
    std::vector<std::string> rule_words, inspect_words, prefixes;
    uint32_t rule_id = 0, inspect_id = 0;
    std::string set_name, set_file, policy_file;
    std::optional<std::filesystem::path> save_file;
    std::optional<std::string> list_name;
    std::optional<unsigned> limit;
    protocol::ChangeOptions change; // --dry-run, --confirm
    uint64_t diff_from = 0;
    std::optional<uint64_t> diff_to, rollback_to;
};

// What every add_*_commands() below works with.
struct Setup {
    CLI::App& app;
    Options& o;
    Args& a;
    Chosen& chosen;

    // A subcommand that prints the daemon's result object with --json.
    CLI::App* command(CLI::App* parent, const char* name, const char* help)
    {
        CLI::App* sub = parent->add_subcommand(name, help);
        sub->add_flag("--json", o.json, "print the daemon's result object as JSON");
        return sub;
    }
    // A command that changes the policy: also --dry-run and --confirm.
    CLI::App* change_command(CLI::App* parent, const char* name, const char* help)
    {
        CLI::App* sub = command(parent, name, help);
        auto* dry = sub->add_flag("--dry-run", a.change.dry_run,
                                  "check and compile (capacity included) and print what would "
                                  "change; commit nothing");
        sub->add_option("--confirm", a.change.confirm_seconds,
                        "commit, and roll back after SECONDS unless `xdpfwctl confirm` comes first")
            ->type_name("SECONDS")
            ->check(CLI::Range(uint64_t(1), uint64_t(86400)))
            ->excludes(dry);
        return sub;
    }
    void on_chosen(CLI::App* sub, std::function<json()> build, Human human)
    {
        sub->callback([this, build = std::move(build), human = std::move(human)] {
            chosen.build = build;
            chosen.human = human;
        });
    }
};

std::string change(const json& req, const json& result)
{
    if (result.value("dry_run", false))
        return format_dry_run(result);
    return format_change(req, result);
}

// The human form of a listing: only the result matters.
Human listing(std::string (*format)(const json&))
{
    return [format](const json&, const json& result) { return format(result); };
}

void add_status(Setup& s)
{
    auto* status = s.command(&s.app, "status", "instance, interfaces, live version, counts");
    s.on_chosen(status, status_request, listing(format_status));
}

void add_rule_commands(Setup& s)
{
    auto* rule = s.app.add_subcommand("rule", "add, delete, replace and list rules");
    rule->require_subcommand(1);
    auto* add = s.change_command(rule, "add", "add one rule (docs/RULES.md); prints its id");
    add->add_option("words", s.a.rule_words,
                    "rule text, e.g. priority=10 proto=tcp dport=22 action=drop")
        ->required();
    s.on_chosen(add, [&a = s.a] { return rule_add_request(a.rule_words); }, change);

    auto* del = s.change_command(rule, "del", "delete the rule with this id");
    del->add_option("id", s.a.rule_id, "rule id")->required()->check(
        CLI::Range(uint32_t(1), uint32_t(UINT32_MAX)));
    s.on_chosen(del, [&a = s.a] { return rule_del_request(a.rule_id); }, change);

    auto* replace = s.change_command(
        rule, "replace", "give the rule with this id new words (one commit; counters restart "
                         "unless only the comment changed)");
    replace->add_option("id", s.a.rule_id, "rule id")->required()->check(
        CLI::Range(uint32_t(1), uint32_t(UINT32_MAX)));
    replace->add_option("words", s.a.rule_words, "the new rule text")->required();
    s.on_chosen(replace, [&a = s.a] { return rule_replace_request(a.rule_id, a.rule_words); },
                change);

    auto* list = s.command(rule, "list", "rules in evaluation order");
    s.on_chosen(list, rule_list_request, listing(format_rules));
}

void add_inspect_commands(Setup& s)
{
    auto* insp = s.app.add_subcommand("inspect", "add, delete and list payload inspection rules");
    insp->require_subcommand(1);
    auto* add = s.change_command(
        insp, "add", "add one inspection rule (docs/RULES.md, \"Inspection rules\"); prints its id");
    add->add_option("words", s.a.inspect_words,
                    "rule text, e.g. priority=10 dns_suffix=evil.example action=drop")
        ->required();
    s.on_chosen(add, [&a = s.a] { return inspect_add_request(a.inspect_words); }, change);

    auto* del = s.change_command(insp, "del", "delete the inspection rule with this id");
    del->add_option("id", s.a.inspect_id, "inspection rule id")->required()->check(
        CLI::Range(1u, std::numeric_limits<uint32_t>::max()));
    s.on_chosen(del, [&a = s.a] { return inspect_del_request(a.inspect_id); }, change);

    auto* list = s.command(insp, "list", "inspection rules by priority, with counters");
    s.on_chosen(list, inspect_list_request, listing(format_inspect_rules));
}

void add_set_commands(Setup& s)
{
    auto* set = s.app.add_subcommand("set", "create, change and list named prefix sets");
    set->require_subcommand(1);
    Args& a = s.a;
    auto* create = s.change_command(set, "create", "create an empty set");
    create->add_option("name", a.set_name, "set name")->required();
    s.on_chosen(create, [&a] { return set_create_request(a.set_name); }, change);

    auto* add = s.change_command(set, "add", "add prefixes to a set");
    add->add_option("name", a.set_name, "set name")->required();
    add->add_option("prefixes", a.prefixes, "prefixes, e.g. 198.51.100.0/24")->required();
    s.on_chosen(add, [&a] { return set_add_request(a.set_name, a.prefixes); }, change);

    auto* del = s.change_command(
        set, "del", "remove prefixes from a set; without prefixes, remove the set (refused "
                    "while a rule uses it)");
    del->add_option("name", a.set_name, "set name")->required();
    del->add_option("prefixes", a.prefixes, "prefixes to remove");
    s.on_chosen(del, [&a] {
        return a.prefixes.empty() ? set_destroy_request(a.set_name)
                                  : set_del_request(a.set_name, a.prefixes);
    }, change);

    auto* load = s.change_command(
        set, "load", "replace a set with the prefixes of a file (one per line, # comments)");
    load->add_option("name", a.set_name, "set name (created if missing)")->required();
    load->add_option("file", a.set_file, "prefix file")->required();
    s.on_chosen(load, [&a] { return set_load_request(a.set_name, a.set_file); }, change);

    auto* list = s.command(set, "list", "sets and sizes, or the prefixes of one set");
    list->add_option("name", a.list_name, "list this set's prefixes");
    s.on_chosen(list, [&a] { return set_list_request(a.list_name); }, listing(format_sets));
}

void add_load(Setup& s)
{
    auto* load = s.change_command(
        &s.app, "load",
        "replace the whole policy with a YAML rule file (docs/RULES.md), atomically");
    load->add_option("file", s.a.policy_file, "YAML policy file")->required();
    s.on_chosen(load, [&a = s.a] { return load_request(a.policy_file); }, change);
}

void add_save(Setup& s)
{
    auto* save = s.command(&s.app, "save",
                           "write the live policy as a YAML rule file that `load` commits back "
                           "unchanged (stdout without FILE)");
    save->add_option("file", s.a.save_file, "rule file to write (replaced atomically)");
    s.on_chosen(save, policy_get_request, [&a = s.a](const json&, const json& result) {
        return save_policy(result, a.save_file);
    });
}

void add_history(Setup& s)
{
    auto* history = s.command(&s.app, "history", "commits, newest first");
    history->add_option("--limit", s.a.limit, "at most this many commits (daemon default 50)")
        ->check(CLI::PositiveNumber);
    s.on_chosen(history, [&a = s.a] { return history_request(a.limit); },
                listing(format_history));
}

void add_safe_operations(Setup& s)
{
    Args& a = s.a;
    auto* confirm = s.command(&s.app, "confirm",
                              "keep the change a --confirm commit made (else it is rolled back)");
    s.on_chosen(confirm, confirm_request, change);

    auto* rollback = s.change_command(
        &s.app, "rollback",
        "commit an earlier version's policy again as a new version (default: the previous one)");
    rollback->add_option("version", a.rollback_to, "the version to bring back")
        ->check(CLI::PositiveNumber);
    s.on_chosen(rollback, [&a] { return rollback_request(a.rollback_to); }, change);

    auto* diff = s.command(&s.app, "diff",
                           "rules and sets that differ between two versions (default: live)");
    diff->add_option("from", a.diff_from, "version")->required()->check(CLI::PositiveNumber);
    diff->add_option("to", a.diff_to, "version (default: the live one)")
        ->check(CLI::PositiveNumber);
    s.on_chosen(diff, [&a] { return diff_request(a.diff_from, a.diff_to); },
                listing(format_diff));
}

// Returns the --watch option: when given, stats repeats (watch_stats).
CLI::Option* add_stats(Setup& s)
{
    auto* stats = s.command(&s.app, "stats", "per-rule and per-reason counters and rates");
    auto* watch = stats->add_option("--watch", s.o.watch,
                                    "redraw every SECONDS (default 1) until interrupted; with "
                                    "--json one object per line")
                      ->expected(0, 1)
                      ->default_str("1")
                      ->type_name("[SECONDS]")
                      ->check(CLI::PositiveNumber);
    stats->add_option("--count", s.o.count, "with --watch: stop after this many updates")
        ->check(CLI::PositiveNumber)
        ->needs(watch);
    s.on_chosen(stats, stats_request, listing(format_stats));
    return watch;
}

void add_ct_commands(Setup& s)
{
    auto* ct = s.app.add_subcommand("ct", "connection tracking: list or flush the flow table");
    ct->require_subcommand(1);
    auto* list = s.command(ct, "list", "the tracked flows, as their opener sent them");
    list->add_option("--limit", s.a.limit, "at most this many flows (daemon default 100000)")
        ->check(CLI::PositiveNumber);
    s.on_chosen(list, [&a = s.a] { return ct_list_request(a.limit); }, listing(format_ct_flows));
    auto* flush = s.command(ct, "flush", "forget every flow (replies drop until flows reopen)");
    s.on_chosen(flush, ct_flush_request, change);
}

void add_detach(Setup& s)
{
    auto* detach = s.command(
        &s.app, "detach", "remove the program from every interface, remove the pins; xdpfwd exits");
    s.on_chosen(detach, detach_request, change);
}

} // namespace

int run_xdpfwctl(int argc, char** argv, std::ostream& out, std::ostream& err)
{
    if (wants_fleet(argc, argv)) // --etcd: the fleet's policy, not one daemon's
        return run_fleet_ctl(argc, argv, out, err);
    Options o;
    Args a;
    Chosen chosen;
    CLI::App app{"xdpfwctl: control the xdpfwd XDP firewall daemon (docs/PROTOCOL.md)"};
    app.name("xdpfwctl");
    app.footer(fleet_help()); // the --etcd commands (fleet_cli.cpp): in the man page too
    // Options of the top level (--socket, --timeout) also work after the
    // subcommand; set before the subcommands exist, which inherit it.
    app.fallthrough();
    app.require_subcommand(1);
    app.set_version_flag("--version", build::version_line("xdpfwctl"),
                         "print the version and the git revision, then exit");
    app.add_option("-s,--socket", o.socket, "control socket of xdpfwd")
        ->envname("XDPFW_SOCKET")
        ->capture_default_str();
    app.add_option("--timeout", o.timeout, "seconds to wait for each response")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();

    Setup s{app, o, a, chosen};
    add_status(s);
    add_rule_commands(s);
    add_inspect_commands(s);
    add_set_commands(s);
    add_load(s);
    add_save(s);
    add_history(s);
    add_safe_operations(s);
    CLI::Option* watch = add_stats(s);
    add_ct_commands(s);
    add_detach(s);
    // Not a request: a local capture by the helper program (tap_cli.hpp).
    TapArgs tap_args;
    CLI::App* tap = app.add_subcommand(
        "tap", "capture the frames that passed XDP on an interface, filtered by match words, "
               "into a pcap file (root, like tcpdump; docs/TAP.md)");
    add_tap_options(*tap, tap_args);
    StreamArgs stream;
    add_stream_commands(app, stream, o.json);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e, out, err);
        return rc == 0 ? 0 : 64;
    }
    if (tap->parsed())
        return exec_tap_helper(tap_args, err);

    try {
        if (watch->count() > 0)
            return watch_stats(o, out);
        if (stream.kind != StreamArgs::Kind::none)
            return run_stream(stream, o.socket, o.timeout, o.json, out, err);
        json req = chosen.build();
        if (auto cmd = protocol::command_from_name(req.value("cmd", ""));
            cmd && protocol::changes_policy(*cmd))
            protocol::add_change_options(req, a.change);
        json result = result_of(request(o.socket, req, o.timeout));
        out << (o.json ? pretty(result, 2) + "\n" : chosen.human(req, result));
        // On stderr: `rule add` prints only the id on stdout, for scripts.
        if (!o.json && result.contains("pending_confirm") && result["pending_confirm"].is_object())
            err << "xdpfwctl: awaiting confirmation: " << format_pending(result["pending_confirm"]);
        // Committed, but worth knowing (e.g. no AF_XDP engine): exit status 0.
        if (result.contains("warning") && result["warning"].is_string()) {
            std::istringstream lines(result["warning"].get<std::string>());
            for (std::string line; std::getline(lines, line);) // one warning per line
                err << "xdpfwctl: warning: " << line << "\n";
        }
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
