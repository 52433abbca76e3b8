// SPDX-License-Identifier: GPL-2.0-only
// Shared setup of the AF_XDP path benchmarks (see the header).
#include "bench/common/xsk_setup.hpp"

#include "lib/lang/inspect_rules.hpp"
#include "xdpfw/abi.h"

#include "xdpfw_bpf.skel.h"

#include <bpf/libbpf.h>

#include <stdexcept>

namespace xdpfw::bench {

const std::vector<std::string>& xsk_nomatch_inspect_rules()
{
    static const std::vector<std::string> rules = {
        "priority=10 dns_suffix=evil.example action=drop",
        "priority=20 pattern=hex:deadbeef action=drop",
        "priority=30 pattern=text:\"GET /admin\" offset=0 action=drop"};
    return rules;
}

std::shared_ptr<const inspect::RuleSet> compile_inspect_rules(const std::vector<std::string>& texts)
{
    InspectPolicy p;
    uint32_t id = 1;
    for (const auto& t : texts) {
        auto r = parse_inspect_rule(t, "bench rule " + std::to_string(id));
        r.id = id++;
        p.rules.push_back(std::move(r));
    }
    return compile_inspect_policy(p);
}

xsk::XskMapFds xsk_map_fds(const XdpfwObject& obj)
{
    return {bpf_map__fd(obj.skel()->maps.xdpfw_xsks), bpf_map__fd(obj.skel()->maps.xdpfw_xsk_ports)};
}

xsk::WorkerStats interface_stats(const xsk::Engine& engine, const std::string& ifname)
{
    xsk::WorkerStats sum;
    bool found = false;
    for (const auto& w : engine.stats().workers) {
        if (w.ifname != ifname)
            continue;
        if (!found)
            sum = w;
        else {
            sum.rx_packets += w.rx_packets;
            sum.rx_bytes += w.rx_bytes;
            sum.forwarded += w.forwarded;
            sum.dropped_verdict += w.dropped_verdict;
            sum.tx_packets += w.tx_packets;
            sum.tx_busy += w.tx_busy;
            sum.kernel += w.kernel;
        }
        found = true;
    }
    if (!found)
        throw std::runtime_error("the AF_XDP engine has no worker on " + ifname);
    return sum;
}

} // namespace xdpfw::bench
