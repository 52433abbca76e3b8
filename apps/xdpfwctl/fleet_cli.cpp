// SPDX-License-Identifier: GPL-2.0-only
// xdpfwctl's fleet commands: local validation and compile, push, status.
#include "apps/xdpfwctl/fleet_cli.hpp"

#include "lib/compiler/compiler.hpp"
#include "lib/fleet/publish.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace xdpfw::ctl {

namespace {

using json = nlohmann::json;

struct FleetArgs {
    std::string etcd, prefix, user, password_file, ca, cert, key, file, set_name;
    std::vector<std::string> words; // rule text, or prefixes
    uint32_t rule_id = 0;
    bool json = false;
    uint32_t max_rules = Capacities{}.max_rules;
    double timeout = 5;
};

fleet::EtcdOptions etcd_options(const FleetArgs& a)
{
    fleet::EtcdOptions o;
    o.endpoints = fleet::parse_endpoints(a.etcd);
    o.user = a.user;
    if (!a.password_file.empty()) {
        std::ifstream in(a.password_file);
        if (!in)
            throw std::invalid_argument("cannot read the password file " + a.password_file);
        std::getline(in, o.password);
    }
    o.ca_file = a.ca;
    o.cert_file = a.cert;
    o.key_file = a.key;
    o.timeout = std::chrono::milliseconds(int64_t(a.timeout * 1000));
    return o;
}

// What a node would check before committing, without its interfaces (any
// name resolves) and with the default capacities (or --max-rules): a bad
// policy never reaches etcd; one too big for a smaller node is refused and
// reported by that node.
void check_locally(const Policy& p, const FleetArgs& a)
{
    validate_policy(p);
    std::map<std::string, uint32_t> names;
    CompileOptions o;
    o.caps.max_rules = a.max_rules;
    o.resolve = [&names](const std::string& n) {
        return names.emplace(n, uint32_t(names.size() + 1)).first->second;
    };
    compile(p, o);
}

int do_load(const FleetArgs& a, std::ostream& out)
{
    Policy p = load_policy_file(a.file);
    check_locally(p, a);
    fleet::EtcdClient c(etcd_options(a));
    const std::string summary = fmt::format("load {}: {} rules, {} sets", a.file, p.rules.size(),
                                            p.sets.size());
    const fleet::PushResult r = fleet::push_policy(c, {a.prefix}, p, summary);
    if (a.json)
        out << json{{"revision", r.revision},
                    {"chunks_written", r.chunks_written},
                    {"chunks_kept", r.chunks_kept},
                    {"chunks_deleted", r.chunks_deleted}}
                   .dump(2)
            << "\n";
    else
        out << fmt::format("pushed revision {} to {} ({} chunks written, {} kept, {} deleted)\n",
                           r.revision, a.prefix, r.chunks_written, r.chunks_kept, r.chunks_deleted);
    return 0;
}

// Read, change, check, push: the change applies to the revision read, and
// the push fails (changing nothing) if another came in between.
int do_change(const FleetArgs& a, std::ostream& out, const std::string& what,
              const std::function<void(Policy&)>& change)
{
    fleet::EtcdClient c(etcd_options(a));
    const fleet::FleetKeys keys{a.prefix};
    std::optional<fleet::FleetPolicy> cur = fleet::read_policy(c, keys);
    Policy p = cur ? cur->policy : Policy{};
    change(p);
    check_locally(p, a);
    const fleet::PushResult r = fleet::push_policy(c, keys, p, what, cur ? cur->revision : 0);
    if (a.json)
        out << json{{"revision", r.revision}, {"change", what}}.dump(2) << "\n";
    else
        out << fmt::format("{}: pushed revision {} to {}\n", what, r.revision, a.prefix);
    return 0;
}

PrefixSet prefixes_of(const std::vector<std::string>& words)
{
    std::string lines;
    for (const std::string& w : words)
        lines += w + "\n";
    std::istringstream in(lines);
    return parse_prefix_lines(in, "prefixes");
}

void add_change_commands(CLI::App& app, FleetArgs& a, std::function<int(std::ostream&)>& run)
{
    auto* rule = app.add_subcommand("rule", "add or delete a rule of the fleet's policy");
    rule->require_subcommand(1);
    auto* radd = rule->add_subcommand("add", "add a rule (docs/RULES.md)");
    radd->add_option("text", a.words, "rule words")->required();
    radd->callback([&] {
        run = [&a](std::ostream& out) {
            std::string text;
            for (const std::string& w : a.words)
                text += (text.empty() ? "" : " ") + w;
            Rule r = parse_rule(text, "rule");
            return do_change(a, out, "rule add " + text, [&](Policy& p) {
                for (const Rule& x : p.rules)
                    r.id = std::max(r.id, x.id);
                ++r.id;
                p.rules.push_back(r);
            });
        };
    });
    auto* rdel = rule->add_subcommand("del", "delete a rule by id");
    rdel->add_option("id", a.rule_id, "rule id")->required();
    rdel->callback([&] {
        run = [&a](std::ostream& out) {
            return do_change(a, out, fmt::format("rule del {}", a.rule_id), [&](Policy& p) {
                auto it = std::find_if(p.rules.begin(), p.rules.end(),
                                       [&](const Rule& r) { return r.id == a.rule_id; });
                if (it == p.rules.end())
                    throw CommandError(ErrorCode::unknown_rule, fmt::format("no rule {}", a.rule_id));
                p.rules.erase(it);
            });
        };
    });
    auto* set = app.add_subcommand("set", "change a set of the fleet's policy");
    set->require_subcommand(1);
    for (const char* verb : {"add", "del", "load"}) {
        const std::string v = verb;
        auto* cmd = set->add_subcommand(v, v == "load"  ? "replace a set with a file's prefixes"
                                           : v == "add" ? "add prefixes to a set"
                                                        : "delete prefixes from a set");
        cmd->add_option("name", a.set_name, "set name")->required();
        if (v == "load")
            cmd->add_option("file", a.file, "prefix file")->required();
        else
            cmd->add_option("prefixes", a.words, "prefixes")->required();
        cmd->callback([&a, &run, v] {
            run = [&a, v](std::ostream& out) {
                PrefixSet given;
                if (v == "load") {
                    std::ifstream in(a.file);
                    if (!in)
                        throw std::invalid_argument("cannot read " + a.file);
                    given = parse_prefix_lines(in, a.file);
                } else {
                    given = prefixes_of(a.words);
                }
                return do_change(a, out, fmt::format("set {} {}: {} prefixes", v, a.set_name,
                                                     given.prefixes().size()),
                                 [&](Policy& p) {
                                     PrefixSet& s = p.sets[a.set_name];
                                     if (v == "load") {
                                         s = given;
                                     } else if (v == "add") {
                                         s.edit([&](std::vector<Prefix>& v) {
                                             v.insert(v.end(), given.prefixes().begin(),
                                                      given.prefixes().end());
                                         });
                                         normalize_set(s);
                                     } else {
                                         s.edit([&](std::vector<Prefix>& v) {
                                             std::erase_if(v, [&](const Prefix& x) {
                                                 return std::binary_search(given.prefixes().begin(),
                                                                           given.prefixes().end(), x);
                                             });
                                         });
                                     }
                                 });
            };
        });
    }
}

json fleet_status(const FleetArgs& a)
{
    fleet::EtcdClient c(etcd_options(a));
    const fleet::FleetKeys keys{a.prefix};
    const std::optional<fleet::KeyValue> policy = c.get(keys.policy());
    fleet::RangeOptions o;
    o.range_end = fleet::prefix_end(keys.nodes());
    json nodes = json::array();
    const int64_t want = policy ? policy->mod_revision : 0;
    for (const fleet::KeyValue& kv : c.range(keys.nodes(), o).kvs) {
        json n = json::parse(kv.value, nullptr, false);
        if (!n.is_object())
            n = {{"error", "an unreadable status"}};
        n["node"] = kv.key.substr(keys.nodes().size());
        const int64_t have = n.value("revision", int64_t(0));
        n["current"] = have == want;
        n["lag_revisions"] = want - have;
        nodes.push_back(std::move(n));
    }
    json out = {{"prefix", a.prefix}, {"revision", want}, {"nodes", std::move(nodes)}};
    if (policy) {
        const json m = json::parse(policy->value, nullptr, false);
        out["summary"] = m.is_object() ? m.value("summary", "") : "";
    }
    return out;
}

std::string human_status(const json& s)
{
    std::string text = fmt::format("fleet {}: revision {}", s["prefix"].get<std::string>(),
                                   s["revision"].get<int64_t>());
    if (s.contains("summary"))
        text += " (" + s["summary"].get<std::string>() + ")";
    text += "\n";
    text += fmt::format("{:<20} {:>9} {:>8} {:<10} {:<9} {:<10} {}\n", "NODE", "REVISION", "VERSION",
                        "LAG", "TIER", "MODE", "ERROR");
    for (const json& n : s["nodes"]) {
        std::string mode;
        for (const json& i : n.value("interfaces", json::array()))
            mode += (mode.empty() ? "" : ",") + i.value("mode", "?");
        std::string tier = "-";
        if (n.contains("tier") && n["tier"].is_object())
            tier = n["tier"].value("live", "-");
        const std::string lag =
            n["current"].get<bool>() ? "current" : fmt::format("behind {}", n["lag_revisions"].get<int64_t>());
        text += fmt::format("{:<20} {:>9} {:>8} {:<10} {:<9} {:<10} {}\n",
                            n["node"].get<std::string>(), n.value("revision", int64_t(0)),
                            n.value("version", uint64_t(0)), lag, tier, mode.empty() ? "-" : mode,
                            n.value("error", json()).is_string() ? n["error"].get<std::string>() : "");
    }
    if (s["nodes"].empty())
        text += "(no node reports: none runs, or none reached etcd within its lease)\n";
    return text;
}

} // namespace

bool wants_fleet(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--etcd" || a.rfind("--etcd=", 0) == 0)
            return true;
    }
    return false;
}

namespace {

// The fleet commands' parser: run_fleet_ctl parses with it, fleet_help()
// describes it.
struct FleetCli {
    FleetArgs a;
    CLI::App app{"xdpfwctl --etcd: push to and watch a fleet of xdpfwd nodes (docs/FLEET.md)"};
    CLI::App* load = nullptr;
    CLI::App* status = nullptr;
    std::function<int(std::ostream&)> change;

    FleetCli()
    {
        app.name("xdpfwctl");
        app.fallthrough();
        app.require_subcommand(1);
        app.add_option("--etcd", a.etcd, "etcd endpoints (http:// or https://)")
            ->required()
            ->type_name("URL[,URL...]");
        app.add_option("--etcd-prefix", a.prefix, "the fleet's prefix, e.g. /xdpfw/prod")
            ->required()
            ->type_name("PREFIX");
        app.add_option("--etcd-user", a.user, "etcd user (password from --etcd-password-file)")
            ->type_name("USER");
        app.add_option("--etcd-password-file", a.password_file,
                       "file whose first line is the etcd password")
            ->type_name("FILE");
        app.add_option("--etcd-ca", a.ca,
                       "CA certificate (PEM) to trust for https endpoints (default: the system's)")
            ->type_name("FILE");
        app.add_option("--etcd-cert", a.cert,
                       "client certificate (PEM), for etcd's --client-cert-auth")
            ->type_name("FILE");
        app.add_option("--etcd-key", a.key, "the client certificate's key (PEM)")->type_name("FILE");
        app.add_option("--timeout", a.timeout, "seconds to wait for each etcd call")
            ->check(CLI::PositiveNumber)
            ->type_name("SECONDS");
        app.add_flag("--json", a.json, "print JSON");
        load = app.add_subcommand("load",
                                  "validate and compile a YAML policy locally, then push it");
        load->add_option("file", a.file, "YAML policy file")->required();
        load->add_option("--max-rules", a.max_rules,
                         "rule capacity to check against (the nodes' --max-rules)")
            ->type_name("N");
        auto* fleet_cmd = app.add_subcommand("fleet", "the fleet's nodes");
        fleet_cmd->require_subcommand(1);
        status = fleet_cmd->add_subcommand("status",
                                           "every node: revision live, version, lag, error");
        add_change_commands(app, a, change);
    }
};

// "NAME ARG..." of a subcommand's positionals and options, for fleet_help().
std::string usage_words(const CLI::App& cmd)
{
    std::string words;
    for (const CLI::Option* o : cmd.get_options()) {
        if (o->get_name() == "--help")
            continue;
        std::string w = o->get_name();
        if (!o->nonpositional()) {
            std::transform(w.begin(), w.end(), w.begin(),
                           [](unsigned char c) { return std::toupper(c); });
            if (o->get_expected_max() > 1)
                w += "...";
        } else if (!o->get_type_name().empty()) {
            w += " " + o->get_type_name(); // not a flag
        }
        words += " " + (o->get_required() ? w : "[" + w + "]");
    }
    return words;
}

void list_commands(const CLI::App& parent, const std::string& path, std::string& out)
{
    for (const CLI::App* sub : parent.get_subcommands({})) {
        const std::string name = path + sub->get_name();
        if (sub->get_subcommands({}).empty())
            out += fmt::format("  {:<34} {}\n", name + usage_words(*sub), sub->get_description());
        else
            list_commands(*sub, name + " ", out);
    }
}

} // namespace

std::string fleet_help()
{
    FleetCli cli;
    std::string out =
        "Fleet mode (docs/FLEET.md): with --etcd, xdpfwctl changes the policy a fleet of\n"
        "xdpfwd nodes follows in etcd instead of one daemon's, and shows the nodes:\n"
        "  xdpfwctl --etcd URL[,URL...] --etcd-prefix PREFIX [ETCD OPTIONS] COMMAND\n"
        "\nFleet commands:\n";
    list_commands(cli.app, "", out);
    out += "\nEtcd options:\n";
    for (const CLI::Option* o : cli.app.get_options()) {
        if (o->get_name() == "--help")
            continue;
        const std::string name =
            o->get_name() + (o->get_type_name().empty() ? "" : " " + o->get_type_name());
        out += fmt::format("  {:<34} {}\n", name, o->get_description());
    }
    return out;
}

int run_fleet_ctl(int argc, char** argv, std::ostream& out, std::ostream& err)
{
    FleetCli cli;
    FleetArgs& a = cli.a;
    CLI::App& app = cli.app;
    CLI::App* load = cli.load;
    CLI::App* status = cli.status;
    std::function<int(std::ostream&)>& change = cli.change;
    try {
        app.parse(argc, argv);
        fleet::check_prefix(a.prefix);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e, out, err);
        return rc == 0 ? 0 : 64;
    } catch (const std::invalid_argument& e) {
        err << "xdpfwctl: bad_request: " << e.what() << "\n";
        return 64;
    }
    try {
        if (load->parsed())
            return do_load(a, out);
        if (change)
            return change(out);
        if (status->parsed()) {
            const json s = fleet_status(a);
            out << (a.json ? s.dump(2) + "\n" : human_status(s));
            return 0;
        }
        return 64;
    } catch (const fleet::EtcdError& e) {
        err << "xdpfwctl: etcd: " << e.what() << "\n";
        return e.grpc_code() == 0 ? 2 : 1;
    } catch (const Error& e) {
        err << "xdpfwctl: " << error_name(e.code()) << ": " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        err << "xdpfwctl: " << e.what() << "\n";
        return 1;
    }
}

} // namespace xdpfw::ctl
