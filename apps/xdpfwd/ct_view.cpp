// SPDX-License-Identifier: GPL-2.0-only
// The daemon's connection tracking commands: `stats` "ct", `ct.list`,
// `ct.flush` (docs/PROTOCOL.md), read from the flow table.
#include "apps/xdpfwd/daemon.hpp"

#include "lib/kernel/conntrack.hpp"
#include "lib/lang/rule_parser.hpp"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <ctime>

namespace xdpfw {

namespace {

const char* flow_state_name(uint8_t s)
{
    switch (s) {
    case XDPFW_CTF_SYN_SENT: return "syn_sent";
    case XDPFW_CTF_SYN_RECV: return "syn_recv";
    case XDPFW_CTF_ESTABLISHED: return "established";
    case XDPFW_CTF_FIN_WAIT: return "fin_wait";
    case XDPFW_CTF_CLOSE: return "close";
    case XDPFW_CTF_UNREPLIED: return "unreplied";
    case XDPFW_CTF_REPLIED: return "replied";
    }
    return "unknown";
}

std::string addr_text(uint8_t family, const uint8_t* a)
{
    char buf[INET6_ADDRSTRLEN] = "";
    inet_ntop(family == XDPFW_FAMILY_IPV4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
    return buf;
}

uint64_t monotonic_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// One flow as its opener sent it: src is the side that sent the first packet.
nlohmann::json flow_json(const CtFlow& f, uint64_t now)
{
    const xdpfw_ct_key& k = f.key;
    const bool a_opened = f.entry.orig == 0;
    return {{"family", k.family == XDPFW_FAMILY_IPV4 ? "ipv4" : "ipv6"},
            {"proto", proto_name(k.proto)},
            {"src", addr_text(k.family, a_opened ? k.addr_a : k.addr_b)},
            {"sport", a_opened ? k.port_a : k.port_b},
            {"dst", addr_text(k.family, a_opened ? k.addr_b : k.addr_a)},
            {"dport", a_opened ? k.port_b : k.port_a},
            {"state", flow_state_name(f.entry.state)},
            {"expires_in", (f.entry.expires_ns - now) / 1000000000ull}};
}

} // namespace

nlohmann::json Daemon::ct_stats() const
{
    const CtCounters c = FlowTable(*obj_).counters();
    return {{"table", c.table},         {"max_flows", c.table ? c.max_flows : cfg_.load.ct_max_flows},
            {"entries", c.entries},     {"insertions", c.insertions},
            {"evictions", c.evictions}, {"lookups", c.lookups},
            {"failed", c.failed},       {"flushes", c.flushes},
            {"table_bytes", c.table_bytes}, {"egress", cfg_.ct_egress}};
}

nlohmann::json Daemon::ct_list(size_t limit) const
{
    const uint64_t now = monotonic_ns();
    const std::vector<CtFlow> flows = FlowTable(*obj_).list(limit + 1, now);
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < flows.size() && i < limit; i++)
        out.push_back(flow_json(flows[i], now));
    return {{"flows", std::move(out)}, {"truncated", flows.size() > limit}};
}

nlohmann::json Daemon::ct_flush()
{
    const uint64_t n = FlowTable(*obj_).flush();
    spdlog::info("event=ct_flush flows={}", n);
    return {{"flushed", n}};
}

} // namespace xdpfw
