// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd configuration: YAML file plus command-line overrides.
#include "apps/xdpfwd/config.hpp"

#include "lib/base/version.hpp"
#include "lib/kernel/build_id.hpp"
#include "lib/lang/rule_parser.hpp"

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace xdpfw {

namespace {

[[noreturn]] void bad(const std::string& source, const std::string& key, const std::string& what)
{
    throw std::invalid_argument(source + ": " + key + ": " + what);
}

ActionType verdict_of(const std::string& source, const std::string& key, const std::string& v)
{
    if (v == "drop")
        return ActionType::drop;
    if (v == "pass")
        return ActionType::pass;
    bad(source, key, "'" + v + "' is not drop or pass");
}

mode_t mode_of(const std::string& source, const std::string& v)
{
    size_t used = 0;
    unsigned long m = 0;
    try {
        m = std::stoul(v, &used, 8);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || m > 0777)
        bad(source, "socket_mode", "'" + v + "' is not an octal mode like 0660");
    return mode_t(m);
}

void valid_mode(const std::string& source, const std::string& v)
{
    if (v != "auto" && v != "native" && v != "generic")
        bad(source, "attach_mode", "'" + v + "' is not auto, native or generic");
}

template <typename T> T scalar(const YAML::Node& n, const std::string& source, const std::string& key)
{
    if (!n.IsScalar())
        bad(source, key, "expected a single value");
    try {
        return n.as<T>();
    } catch (const YAML::Exception&) {
        bad(source, key, "'" + n.Scalar() + "' has the wrong type");
    }
}

std::vector<std::string> name_list(const YAML::Node& v, const std::string& source,
                                   const std::string& key)
{
    std::vector<std::string> out;
    if (v.IsScalar())
        return {v.Scalar()};
    if (!v.IsSequence())
        bad(source, key, "expected a name or a list of them");
    for (const auto& i : v)
        out.push_back(scalar<std::string>(i, source, key));
    return out;
}

// "A:B" (flag form of an inline pair).
std::pair<std::string, std::string> pair_of(const std::string& source, const std::string& text)
{
    const auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        bad(source, "xsk.pairs", "'" + text + "' is not IF1:IF2");
    return {text.substr(0, colon), text.substr(colon + 1)};
}

template <typename F> void parse_with(const std::string& source, const std::string& key, F&& f)
{
    try {
        f();
    } catch (const std::invalid_argument& e) {
        bad(source, key, e.what());
    }
}

void parse_xsk(const YAML::Node& v, const std::string& source, DaemonConfig& c)
{
    if (!v.IsMap())
        bad(source, "xsk", "expected a mapping (mode, interfaces, pairs, ...)");
    c.xsk_enabled = true;
    for (const auto& kv : v) {
        const std::string k = kv.first.as<std::string>();
        const std::string full = "xsk." + k;
        const YAML::Node& x = kv.second;
        if (k == "mode") {
            parse_with(source, full, [&] {
                c.xsk.mode = xsk::parse_forward_mode(scalar<std::string>(x, source, full));
            });
        } else if (k == "interfaces") {
            c.xsk.interfaces = name_list(x, source, full);
        } else if (k == "pairs") {
            if (!x.IsSequence())
                bad(source, full, "expected a list of [IF1, IF2] pairs");
            for (const auto& pr : x) {
                auto names = name_list(pr, source, full);
                if (names.size() != 2)
                    bad(source, full, "each pair is [IF1, IF2]");
                c.xsk.pairs.emplace_back(names[0], names[1]);
            }
        } else if (k == "host_device") {
            c.xsk.host_device = scalar<std::string>(x, source, full);
        } else if (k == "zero_copy") {
            parse_with(source, full, [&] {
                c.xsk.socket.zero_copy = xsk::parse_zero_copy(scalar<std::string>(x, source, full));
            });
        } else if (k == "busy_poll") {
            c.xsk.socket.busy_poll = scalar<bool>(x, source, full);
        } else if (k == "busy_poll_usecs") {
            c.xsk.socket.busy_poll_usecs = scalar<uint32_t>(x, source, full);
        } else if (k == "ring_size") {
            c.xsk.socket.ring_size = scalar<uint32_t>(x, source, full);
        } else if (k == "frame_size") {
            c.xsk.socket.frame_size = scalar<uint32_t>(x, source, full);
        } else if (k == "batch") {
            c.xsk.socket.batch = scalar<uint32_t>(x, source, full);
        } else if (k == "cpus") {
            if (x.IsScalar())
                c.xsk.cpus = {scalar<int>(x, source, full)};
            else if (x.IsSequence())
                for (const auto& cpu : x)
                    c.xsk.cpus.push_back(scalar<int>(cpu, source, full));
            else
                bad(source, full, "expected a CPU number or a list of them");
        } else {
            bad(source, full, "unknown key");
        }
    }
}

// `ct:` connection tracking: max_flows (flow table entries), egress.
void parse_ct(const YAML::Node& v, const std::string& source, DaemonConfig& c)
{
    if (!v.IsMap())
        bad(source, "ct", "expected a mapping (max_flows, egress)");
    for (const auto& kv : v) {
        const std::string k = kv.first.as<std::string>(), full = "ct." + k;
        if (k == "max_flows")
            c.load.ct_max_flows = scalar<uint32_t>(kv.second, source, full);
        else if (k == "egress")
            c.ct_egress = scalar<bool>(kv.second, source, full);
        else
            bad(source, full, "unknown key");
    }
    if (c.load.ct_max_flows < 1024)
        bad(source, "ct.max_flows", "must be at least 1024");
}

void parse_capacity(const YAML::Node& v, const std::string& source, DaemonConfig& c)
{
    if (!v.IsMap())
        bad(source, "capacity", "expected a mapping (max_rules, max_v4_hosts, ...)");
    for (const auto& ckv : v) {
        const std::string ck = ckv.first.as<std::string>();
        const std::string full = "capacity." + ck;
        uint32_t n = scalar<uint32_t>(ckv.second, source, full);
        if (ck == "max_rules")
            c.load.caps.max_rules = n;
        else if (ck == "max_bitmaps")
            c.load.caps.max_bitmaps = n;
        else if (ck == "max_addr_classes")
            c.load.caps.max_addr_classes = n;
        else if (ck == "max_v4_chunks")
            c.load.caps.max_v4_chunks = n;
        else if (ck == "max_v4_hosts")
            c.load.caps.max_v4_hosts = n;
        else if (ck == "max_v6_prefixes")
            c.load.caps.max_v6_prefixes = n;
        else if (ck == "max_queues")
            c.load.caps.max_queues = n;
        else if (ck == "max_v4_sparse")
            bad(source, full,
                "replaced by max_v4_hosts (host routes, not /24 blocks; room for "
                "about 15 per old sparse block)");
        else
            bad(source, full, "unknown key");
    }
}

// "interfaces": one name or a list of them.
std::vector<std::string> interface_list(const YAML::Node& v, const std::string& source,
                                        const std::string& key)
{
    if (v.IsScalar())
        return {v.Scalar()};
    if (!v.IsSequence())
        bad(source, key, "expected an interface name or a list of them");
    std::vector<std::string> out;
    for (const auto& i : v)
        out.push_back(scalar<std::string>(i, source, key));
    return out;
}

} // namespace

DaemonConfig parse_daemon_config(const std::string& yaml, const std::string& source)
{
    YAML::Node root;
    try {
        root = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
        throw std::invalid_argument(source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    DaemonConfig c;
    if (root.IsNull())
        return c;
    if (!root.IsMap())
        bad(source, "(top level)", "expected a mapping of keys");
    for (const auto& kv : root) {
        const std::string key = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        if (key == "instance") {
            c.instance = scalar<std::string>(v, source, key);
        } else if (key == "interfaces") {
            c.interfaces = interface_list(v, source, key);
        } else if (key == "attach_mode") {
            c.attach_mode = scalar<std::string>(v, source, key);
            valid_mode(source, c.attach_mode);
        } else if (key == "default") {
            c.default_action = verdict_of(source, key, scalar<std::string>(v, source, key));
        } else if (key == "default_non_ip") {
            c.default_non_ip_action = verdict_of(source, key, scalar<std::string>(v, source, key));
        } else if (key == "malformed") {
            c.malformed_action = verdict_of(source, key, scalar<std::string>(v, source, key));
        } else if (key == "socket") {
            c.socket = scalar<std::string>(v, source, key);
        } else if (key == "socket_mode") {
            c.socket_mode = mode_of(source, scalar<std::string>(v, source, key));
        } else if (key == "socket_group") {
            c.socket_group = scalar<std::string>(v, source, key);
        } else if (key == "rules") {
            c.rules = scalar<std::string>(v, source, key);
        } else if (key == "state_dir") {
            c.state_dir = scalar<std::string>(v, source, key);
        } else if (key == "lock_dir") {
            c.lock_dir = scalar<std::string>(v, source, key);
        } else if (key == "detach_on_exit") {
            c.detach_on_exit = scalar<bool>(v, source, key);
        } else if (key == "log_level") {
            c.log_level = scalar<std::string>(v, source, key);
        } else if (key == "max_message_bytes") {
            c.max_message_bytes = scalar<size_t>(v, source, key);
        } else if (key == "max_connections") {
            c.max_connections = scalar<size_t>(v, source, key);
        } else if (key == "control_idle_timeout_seconds") {
            c.control_idle_timeout_seconds = scalar<uint32_t>(v, source, key);
        } else if (key == "metrics") {
            parse_with(source, key, [&] {
                c.metrics = metrics::parse_listen_address(scalar<std::string>(v, source, key));
            });
        } else if (key == "sample_default") {
            c.events.sample_default = scalar<uint32_t>(v, source, key);
        } else if (key == "sample_malformed") {
            c.events.sample_malformed = scalar<uint32_t>(v, source, key);
        } else if (key == "event_snaplen") {
            c.events.snaplen = scalar<uint32_t>(v, source, key);
        } else if (key == "capacity") {
            parse_capacity(v, source, c);
        } else if (key == "xsk") {
            parse_xsk(v, source, c);
        } else if (key == "fleet") {
            parse_fleet_section(v, source, c.fleet);
        } else if (key == "ct") {
            parse_ct(v, source, c);
        } else {
            bad(source, key, "unknown key");
        }
    }
    // Relative paths in a file are relative to the file's directory.
    return c;
}

DaemonConfig load_daemon_config(const std::filesystem::path& file)
{
    std::ifstream in(file);
    if (!in)
        throw std::invalid_argument(file.string() + ": cannot read the config file");
    std::stringstream ss;
    ss << in.rdbuf();
    DaemonConfig c = parse_daemon_config(ss.str(), file.string());
    auto rel = [&](std::string& p) {
        if (!p.empty() && std::filesystem::path(p).is_relative())
            p = (file.parent_path() / p).lexically_normal().string();
    };
    rel(c.rules);
    return c;
}

void validate_daemon_config(const DaemonConfig& c)
{
    auto fail = [](const std::string& key, const std::string& what) {
        throw std::invalid_argument("config: " + key + ": " + what);
    };
    if (c.instance.empty() || c.instance == "." || c.instance == ".." ||
        c.instance.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
            std::string::npos)
        fail("instance", "'" + c.instance + "' must be letters, digits, '_', '.', '-'");
    if (c.interfaces.empty())
        fail("interfaces", "at least one interface is needed (--interface IF)");
    std::set<std::string> seen;
    for (const auto& i : c.interfaces) {
        if (!valid_iface_name(i))
            fail("interfaces", "'" + i + "' is not a valid interface name");
        if (!seen.insert(i).second)
            fail("interfaces", "'" + i + "' is listed twice");
    }
    valid_mode("config", c.attach_mode);
    if (c.events.snaplen > XDPFW_EVENT_SNAP_MAX)
        fail("event_snaplen", std::to_string(c.events.snaplen) + " is more than " +
                                  std::to_string(XDPFW_EVENT_SNAP_MAX));
    if (c.socket.empty() || c.socket[0] != '/')
        fail("socket", "'" + c.socket + "' must be an absolute path");
    if (c.state_dir.empty())
        fail("state_dir", "must not be empty");
    if (c.lock_dir.empty())
        fail("lock_dir", "must not be empty");
    if (c.max_message_bytes < 1024)
        fail("max_message_bytes", "must be at least 1024");
    if (c.max_connections < 1 || c.max_connections > 65536)
        fail("max_connections", "must be 1..65536");
    static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    if (!levels.count(c.log_level))
        fail("log_level", "'" + c.log_level + "' is not trace, debug, info, warn, error");
    if (c.xsk_enabled) {
        xsk::EngineConfig x = xsk_engine_config(c);
        for (const auto& i : x.interfaces)
            if (!seen.count(i))
                fail("xsk.interfaces", "'" + i + "' is not one of the filtered interfaces");
        try {
            xsk::validate_engine_config(x);
        } catch (const std::invalid_argument& e) {
            fail("xsk", e.what());
        }
        if (x.socket.ring_size < 64 || x.socket.ring_size > 32768 ||
            (x.socket.ring_size & (x.socket.ring_size - 1)))
            fail("xsk.ring_size", "must be a power of two in 64..32768");
        if (x.socket.frame_size != 2048 && x.socket.frame_size != 4096)
            fail("xsk.frame_size", "must be 2048 or 4096");
        if (x.socket.batch < 1 || x.socket.batch > x.socket.ring_size)
            fail("xsk.batch", "must be 1..ring_size");
    }
}

xsk::EngineConfig xsk_engine_config(const DaemonConfig& c)
{
    xsk::EngineConfig x = c.xsk;
    if (x.interfaces.empty())
        x.interfaces = c.interfaces;
    return x;
}

namespace {

// Only --config, read before the other flags so that they override the file.
std::string config_file_arg(int argc, const char* const* argv)
{
    std::string config_file;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--config" && i + 1 < argc)
            config_file = argv[i + 1];
        else if (a.rfind("--config=", 0) == 0)
            config_file = a.substr(9);
    }
    return config_file;
}

// Flags whose text is converted (and checked) after parsing; the others are
// stored straight into the config.
struct Flags {
    std::string config_file, default_action, default_non_ip_action, malformed_action, socket_mode, metrics;
    std::vector<std::string> ifaces;
    std::string xsk_mode, xsk_zero_copy;
    std::vector<std::string> xsk_ifaces, xsk_pairs;
    std::vector<int> xsk_cpus;
};

void add_daemon_options(CLI::App& app, DaemonConfig& c, Flags& f)
{
    app.add_option("--config", f.config_file, "YAML config file (docs/DAEMON.md)");
    app.add_option("--instance", c.instance, "instance name (pins under /sys/fs/bpf/xdpfw/NAME)");
    app.add_option("-i,--interface", f.ifaces, "interface to filter (repeatable; replaces the file's list)");
    app.add_option("--mode", c.attach_mode, "attach mode: auto, native, generic");
    app.add_option("--default", f.default_action, "default verdict: drop or pass");
    app.add_option("--default-non-ip", f.default_non_ip_action,
                   "verdict for non-IP frames (ARP, ...) no rule matches: drop or pass");
    app.add_option("--malformed", f.malformed_action, "verdict for malformed packets: drop or pass");
    app.add_option("--socket", c.socket, "control socket path");
    app.add_option("--socket-mode", f.socket_mode, "control socket mode (octal)");
    app.add_option("--socket-group", c.socket_group, "group allowed on the control socket");
    app.add_option("--rules", c.rules, "initial policy file, used when no saved state exists");
    app.add_option("--state-dir", c.state_dir, "where the committed policy is saved");
    app.add_option("--lock-dir", c.lock_dir, "where the instance lock file is (one daemon per instance)");
    app.add_flag("--replace-live", c.replace_live,
                 "commit the rules file (or an empty policy) over a live policy whose saved state "
                 "cannot be loaded, instead of refusing to start");
    app.add_flag("--upgrade-maps", c.upgrade_maps,
                 "when the pinned maps were made by another xdpfw version or for other "
                 "capacities, load new maps, commit the saved policy into them, carry the "
                 "counters over and replace the running program atomically");
    app.add_flag("--detach-on-exit", c.detach_on_exit, "remove the program at SIGTERM/SIGINT");
    app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error");
    app.add_option("--max-rules", c.load.caps.max_rules, "rule capacity (multiple of 64)");
    app.add_option("--ct-max-flows", c.load.ct_max_flows, "connection tracking table size (ct.max_flows)")
        ->check(CLI::Range(1024u, 1u << 30));
    app.add_option("--max-message-bytes", c.max_message_bytes, "largest control request");
    app.add_option("--max-connections", c.max_connections, "control socket clients at once");
    app.add_option("--control-idle-timeout", c.control_idle_timeout_seconds,
                   "seconds before an idle control client is closed (0: never)");
    app.add_option("--metrics", f.metrics,
                   "serve Prometheus metrics at http://ADDR/metrics (IPV4:PORT or [IPV6]:PORT)");
    app.add_option("--sample-default", c.events.sample_default,
                   "1 in N default verdicts make an event (0: none)");
    app.add_option("--sample-malformed", c.events.sample_malformed,
                   "1 in N malformed packets make an event (0: none)");
    app.add_option("--event-snaplen", c.events.snaplen, "frame bytes an event carries (0-256)");
    app.add_option("--xsk", f.xsk_mode, "run the AF_XDP engine: host or inline (xsk.mode)");
    app.add_option("--xsk-interface", f.xsk_ifaces, "AF_XDP interface (repeatable; default: all)");
    app.add_option("--xsk-pair", f.xsk_pairs, "inline pair IF1:IF2 (repeatable)");
    app.add_option("--xsk-host-device", c.xsk.host_device, "host mode TUN device name");
    app.add_option("--xsk-zero-copy", f.xsk_zero_copy, "auto, on, off");
    app.add_flag("--xsk-busy-poll", c.xsk.socket.busy_poll, "busy polling on the sockets");
    app.add_option("--xsk-cpu", f.xsk_cpus, "pin workers to these CPUs (repeatable)");
    app.add_option("--xsk-ring-size", c.xsk.socket.ring_size, "ring entries (power of two)");
    app.add_option("--xsk-batch", c.xsk.socket.batch, "frames per batch");
    add_fleet_options(app, c.fleet);
}

// Throws std::invalid_argument naming the flag.
void apply_flags(const Flags& f, DaemonConfig& c)
{
    if (!f.ifaces.empty())
        c.interfaces = f.ifaces;
    if (!f.default_action.empty())
        c.default_action = verdict_of("--default", "default", f.default_action);
    if (!f.default_non_ip_action.empty())
        c.default_non_ip_action =
            verdict_of("--default-non-ip", "default_non_ip", f.default_non_ip_action);
    if (!f.malformed_action.empty())
        c.malformed_action = verdict_of("--malformed", "malformed", f.malformed_action);
    if (!f.socket_mode.empty())
        c.socket_mode = mode_of("--socket-mode", f.socket_mode);
    if (!f.metrics.empty())
        parse_with("--metrics", "metrics", [&] { c.metrics = metrics::parse_listen_address(f.metrics); });
    if (!f.xsk_mode.empty()) {
        c.xsk_enabled = true;
        parse_with("--xsk", "xsk.mode", [&] { c.xsk.mode = xsk::parse_forward_mode(f.xsk_mode); });
    }
    if (!f.xsk_ifaces.empty())
        c.xsk.interfaces = f.xsk_ifaces;
    if (!f.xsk_pairs.empty()) {
        c.xsk.pairs.clear();
        for (const auto& p : f.xsk_pairs)
            c.xsk.pairs.push_back(pair_of("--xsk-pair", p));
    }
    if (!f.xsk_zero_copy.empty())
        parse_with("--xsk-zero-copy", "xsk.zero_copy",
                   [&] { c.xsk.socket.zero_copy = xsk::parse_zero_copy(f.xsk_zero_copy); });
    if (!f.xsk_cpus.empty())
        c.xsk.cpus = f.xsk_cpus;
}

} // namespace

std::optional<DaemonConfig> parse_daemon_args(int argc, const char* const* argv, int* exit_code)
{
    Flags f;
    f.config_file = config_file_arg(argc, argv);
    DaemonConfig c;
    try {
        if (!f.config_file.empty())
            c = load_daemon_config(f.config_file);
    } catch (const std::exception& e) {
        std::cerr << "xdpfwd: " << e.what() << "\n";
        *exit_code = 78; // EX_CONFIG
        return std::nullopt;
    }

    CLI::App app{"xdpfwd: the xdpfw daemon (policy owner, control socket)"};
    add_daemon_options(app, c, f);
    app.set_version_flag("--version", build::version_line("xdpfwd", kernel_build_details()),
                         "print the version, the git revision and the BPF object's id, then exit");
    try {
        app.parse(argc, argv);
        apply_flags(f, c);
        validate_daemon_config(c);
        validate_fleet_config(c.fleet);
    } catch (const CLI::ParseError& e) {
        *exit_code = app.exit(e);
        return std::nullopt;
    } catch (const std::exception& e) {
        std::cerr << "xdpfwd: " << e.what() << "\n";
        *exit_code = 64; // EX_USAGE
        return std::nullopt;
    }
    return c;
}

} // namespace xdpfw
