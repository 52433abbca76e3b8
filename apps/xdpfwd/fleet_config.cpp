// SPDX-License-Identifier: GPL-2.0-only
// The fleet section and flags of xdpfwd's configuration.
#include "apps/xdpfwd/fleet_config.hpp"

#include "lib/fleet/bundle.hpp"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace xdpfw {

namespace {

[[noreturn]] void bad(const std::string& source, const std::string& key, const std::string& what)
{
    throw std::invalid_argument(source + ": fleet." + key + ": " + what);
}

std::string text(const YAML::Node& v, const std::string& source, const std::string& key)
{
    if (!v.IsScalar())
        bad(source, key, "expected a single value");
    return v.as<std::string>();
}

// "a,b" and ["a", "b"] alike.
std::vector<std::string> split_urls(const std::string& s)
{
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string part;
    while (std::getline(ss, part, ','))
        if (!part.empty())
            out.push_back(part);
    return out;
}

} // namespace

void parse_fleet_section(const YAML::Node& n, const std::string& source, FleetConfig& f)
{
    if (!n.IsMap())
        bad(source, "(section)", "expected a mapping of keys");
    for (const auto& kv : n) {
        const std::string key = kv.first.as<std::string>();
        const YAML::Node& v = kv.second;
        try {
            if (key == "etcd") {
                f.etcd.clear();
                if (v.IsSequence())
                    for (const auto& e : v)
                        f.etcd.push_back(text(e, source, key));
                else
                    f.etcd = split_urls(text(v, source, key));
            } else if (key == "prefix") {
                f.prefix = text(v, source, key);
            } else if (key == "node") {
                f.node = text(v, source, key);
            } else if (key == "user") {
                f.user = text(v, source, key);
            } else if (key == "password_file") {
                f.password_file = text(v, source, key);
            } else if (key == "ca") {
                f.ca_file = text(v, source, key);
            } else if (key == "cert") {
                f.cert_file = text(v, source, key);
            } else if (key == "key") {
                f.key_file = text(v, source, key);
            } else if (key == "lease_ttl_seconds") {
                f.lease_ttl_seconds = v.as<int64_t>();
            } else if (key == "status_interval_ms") {
                f.status_interval_ms = v.as<uint32_t>();
            } else {
                bad(source, key, "unknown key");
            }
        } catch (const YAML::Exception& e) {
            bad(source, key, e.msg);
        }
    }
}

void add_fleet_options(CLI::App& app, FleetConfig& f)
{
    app.add_option_function<std::string>(
        "--etcd", [&f](const std::string& s) { f.etcd = split_urls(s); },
        "follow the policy in etcd: URL[,URL...] (docs/FLEET.md)");
    app.add_option("--etcd-prefix", f.prefix, "the cluster's etcd prefix, e.g. /xdpfw/prod");
    app.add_option("--node", f.node, "this node's name in the fleet (default: the host name)");
    app.add_option("--etcd-user", f.user, "etcd user (password from --etcd-password-file)");
    app.add_option("--etcd-password-file", f.password_file, "file holding the etcd password");
    app.add_option("--etcd-ca", f.ca_file, "CA certificate for https etcd endpoints");
    app.add_option("--etcd-cert", f.cert_file, "client certificate for etcd");
    app.add_option("--etcd-key", f.key_file, "client key for etcd");
    app.add_option("--etcd-lease-ttl", f.lease_ttl_seconds,
                   "seconds the node's status key outlives the node (fleet.lease_ttl_seconds)");
}

void validate_fleet_config(FleetConfig& f)
{
    if (!f.enabled()) {
        if (!f.prefix.empty() || !f.node.empty())
            throw std::invalid_argument("fleet: --etcd-prefix and --node need --etcd endpoints");
        return;
    }
    if (f.prefix.empty())
        throw std::invalid_argument("fleet: --etcd needs --etcd-prefix (e.g. /xdpfw/prod)");
    fleet::check_prefix(f.prefix);
    if (f.node.empty()) {
        char host[256] = {};
        if (gethostname(host, sizeof host - 1) == 0)
            f.node = host;
    }
    fleet::check_node_name(f.node);
    for (const std::string& url : f.etcd)
        fleet::parse_endpoint(url);
    if (!f.user.empty() && f.password_file.empty())
        throw std::invalid_argument("fleet: an etcd user needs a password file");
    if (f.cert_file.empty() != f.key_file.empty())
        throw std::invalid_argument("fleet: an etcd client certificate needs its key, and back");
    // Unreadable TLS files stop the start, rather than every retry failing.
    for (const auto& [key, file] : {std::pair<const char*, const std::string&>{"ca", f.ca_file},
                                    {"cert", f.cert_file},
                                    {"key", f.key_file}})
        if (!file.empty() && ::access(file.c_str(), R_OK) != 0)
            throw std::invalid_argument(std::string("fleet: ") + key + " " + file + ": " +
                                        std::strerror(errno));
    if (f.lease_ttl_seconds < 2)
        throw std::invalid_argument("fleet: lease_ttl_seconds must be at least 2");
}

fleet::EtcdOptions FleetConfig::etcd_options() const
{
    fleet::EtcdOptions o;
    for (const std::string& url : etcd)
        o.endpoints.push_back(fleet::parse_endpoint(url));
    o.user = user;
    if (!password_file.empty()) {
        std::ifstream in(password_file);
        if (!in)
            throw std::invalid_argument("fleet: cannot read the etcd password file " + password_file);
        std::getline(in, o.password);
    }
    o.ca_file = ca_file;
    o.cert_file = cert_file;
    o.key_file = key_file;
    o.timeout = std::chrono::milliseconds(3000);
    return o;
}

} // namespace xdpfw
