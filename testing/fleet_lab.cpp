// SPDX-License-Identifier: GPL-2.0-only
// FleetLab: namespaces, links, etcd and the nodes' daemons.
#include "testing/fleet_lab.hpp"

#include <fmt/format.h>

#include <thread>

namespace xdpfw::test {

namespace {

EtcdServerOptions hub_etcd(const NetNs& hub, std::optional<EtcdServerOptions::Tls> tls)
{
    EtcdServerOptions o;
    o.ns = &hub;
    o.listen = "0.0.0.0";
    o.tls = std::move(tls);
    return o;
}

} // namespace

std::string FleetLab::hub_address(size_t i)
{
    return fmt::format("10.99.{}.1", 20 + i);
}

FleetNode::FleetNode(int index, const EtcdServer& etcd, const std::string& xdpfwd,
                     const NetNs& hub, const std::string& prefix, std::vector<std::string> extra,
                     bool autostart)
    : name(fmt::format("node{}", index)),
      link({&dut, "dut0", DaemonLab::dut4, DaemonLab::dut6},
           {&peer, "peer0", DaemonLab::peer4, DaemonLab::peer6}),
      ctl({&hub, fmt::format("hub{}", index), FleetLab::hub_address(size_t(index)), ""},
          {&dut, "ctl0", fmt::format("10.99.{}.2", 20 + index), ""}),
      daemon([&] {
          DaemonOptions o;
          o.xdpfwd = xdpfwd;
          o.ns = &dut;
          o.interfaces = {"dut0"};
          o.extra_args = {"--etcd",
                          fmt::format("{}://{}:{}", etcd.scheme(),
                                      FleetLab::hub_address(size_t(index)), etcd.client_port()),
                          "--etcd-prefix", prefix, "--node", name, "--etcd-lease-ttl", "3"};
          // The lab's TLS flags, unless extra gives the flag itself.
          const std::vector<std::string> tls = etcd.tls_flags();
          for (size_t i = 0; i + 1 < tls.size(); i += 2)
              if (std::find(extra.begin(), extra.end(), tls[i]) == extra.end())
                  o.extra_args.insert(o.extra_args.end(), {tls[i], tls[i + 1]});
          o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
          o.autostart = autostart;
          return o;
      }())
{
}

FleetLab::FleetLab(const std::string& xdpfwd, size_t n, std::vector<std::vector<std::string>> extra,
                   std::vector<size_t> late, std::optional<EtcdServerOptions::Tls> tls)
    : etcd(hub_etcd(hub, std::move(tls)))
{
    extra.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const bool autostart = std::find(late.begin(), late.end(), i) == late.end();
        nodes.push_back(std::make_unique<FleetNode>(int(i), etcd, xdpfwd, hub, prefix, extra[i],
                                                    autostart));
    }
}

CtlResult FleetLab::ctl(const std::vector<std::string>& args)
{
    std::vector<std::string> all = {"--etcd", etcd.url(), "--etcd-prefix", prefix};
    const std::vector<std::string> tls = etcd.tls_flags();
    all.insert(all.end(), tls.begin(), tls.end());
    all.insert(all.end(), args.begin(), args.end());
    EnterNetns in(hub);
    return run_ctl(all);
}

nlohmann::json FleetLab::status()
{
    CtlResult r = ctl({"fleet", "status", "--json"});
    if (r.code != 0)
        throw std::runtime_error("fleet status failed: " + r.err);
    return r.json();
}

bool FleetLab::wait_revision(int64_t revision, std::chrono::milliseconds timeout,
                             const std::vector<size_t>& only)
{
    const auto end = std::chrono::steady_clock::now() + timeout;
    do {
        try {
            const nlohmann::json s = status();
            size_t ok = 0, want = 0;
            for (size_t i = 0; i < nodes.size(); ++i) {
                if (!nodes[i]->daemon.running() ||
                    (!only.empty() && std::find(only.begin(), only.end(), i) == only.end()))
                    continue;
                ++want;
                for (const auto& n : s["nodes"])
                    if (n["node"] == nodes[i]->name && n.value("revision", int64_t(0)) == revision)
                        ++ok;
            }
            if (ok == want)
                return true;
        } catch (const std::exception&) {
            // etcd not back yet: try again
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < end);
    return false;
}

int64_t FleetLab::load(const std::string& file)
{
    CtlResult r = ctl({"load", file, "--json"});
    if (r.code != 0)
        throw std::runtime_error("load failed (" + std::to_string(r.code) + "): " + r.err);
    return r.json().at("revision").get<int64_t>();
}

std::string FleetLab::logs() const
{
    std::string out;
    for (const auto& n : nodes)
        out += "---- " + n->name + " (" + n->daemon.instance() + ")\n" + n->daemon.log();
    out += "---- etcd\n" + etcd.log();
    return out;
}

} // namespace xdpfw::test
