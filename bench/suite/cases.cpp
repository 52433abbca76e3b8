// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's cases (see the header).
#include "bench/suite/cases.hpp"

#include <fmt/format.h>

namespace xdpfw::bench {

namespace {

std::string size_label(size_t n)
{
    if (n >= 1000000 && n % 1000000 == 0)
        return fmt::format("{}M", n / 1000000);
    if (n >= 1000 && n % 1000 == 0)
        return fmt::format("{}k", n / 1000);
    return std::to_string(n);
}

} // namespace

const char* path_name(Path p)
{
    switch (p) {
    case Path::drop: return "drop";
    case Path::pass: return "pass";
    case Path::xsk: return "xsk";
    }
    return "?";
}

const char* dut_name(DutKind k)
{
    switch (k) {
    case DutKind::sink: return "xdp-noop";
    case DutKind::xdpfw: return "xdpfw";
    case DutKind::nftables: return "nftables";
    case DutKind::iptables: return "iptables";
    case DutKind::xdp_filter: return "xdp-filter";
    }
    return "?";
}

// Every case of a full run, in run order: the ceilings first.
std::vector<CaseSpec> all_cases()
{
    std::vector<CaseSpec> out;
    out.push_back({"xdp-noop-drop", DutKind::sink, Path::drop, 0, 0, {}});
    const std::string ipt_1m_skip =
        "quick: ipset restore of 1M entries and the namespace's teardown take ~25 s under load "
        "here; the full run measures it";
    const std::string nft_1m_skip =
        "quick: a 1M-element nft interval set takes minutes here (26 s to load, more to list "
        "its counter, which fetches every element, and to remove it); the full run measures it";
    for (DutKind k : {DutKind::xdpfw, DutKind::nftables, DutKind::iptables}) {
        const std::string d = dut_name(k);
        for (size_t n : {1, 100, 1000})
            out.push_back({fmt::format("{}/rules-{}", d, n), k, Path::drop, n, 0, {}});
        // Connection tracking's fast path: every frame's flow is tracked.
        if (k == DutKind::xdpfw)
            out.push_back({"xdpfw/ct-established", k, Path::drop, 1, 0, {}, true});
        for (size_t s : {1000, 100000, 1000000}) {
            std::string skip;
            if (s == 1000000 && k == DutKind::nftables)
                skip = nft_1m_skip;
            if (s == 1000000 && k == DutKind::iptables)
                skip = ipt_1m_skip;
            out.push_back({fmt::format("{}/set-{}", d, size_label(s)), k, Path::drop, 1, s, skip});
        }
        out.push_back({fmt::format("{}/rules-1000+set-100k", d), k, Path::drop, 1000, 100000, {}});
        // Last of its DUT: xdpfw loads a larger object for it (16,384 rules).
        out.push_back({fmt::format("{}/rules-10000", d), k, Path::drop, 10000, 0, {}});
    }
    out.push_back({"xdp-filter/rules-1", DutKind::xdp_filter, Path::drop, 1, 0, {}});
    // The pass path: frames delivered to a UDP socket in the DUT namespace;
    // the decoy rules are all evaluated, none matches, the default passes.
    out.push_back({"xdp-noop-pass", DutKind::sink, Path::pass, 0, 0, {}});
    for (DutKind k : {DutKind::xdpfw, DutKind::nftables, DutKind::iptables})
        out.push_back({fmt::format("{}-pass/rules-1000", dut_name(k)), k, Path::pass, 1000, 0, {}});
    // The xsk path: 999 decoys, then the rule sending the traffic to the
    // AF_XDP socket, whose worker (on another CPU) inspects and drops it.
    out.push_back({"xdpfw-xsk/rules-1000", DutKind::xdpfw, Path::xsk, 1000, 0, {}});
    return out;
}

std::string ceiling_of(const CaseSpec& c)
{
    if (c.kind == DutKind::sink)
        return "";
    return c.path == Path::pass ? "xdp-noop-pass" : "xdp-noop-drop";
}

} // namespace xdpfw::bench
