// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's lab (a sender and a DUT namespace joined by a veth pair) and
// its devices under test: the XDP sink (the ceiling), xdpfw (the real
// loader, compiler, policy maps and attach), nftables netdev ingress,
// iptables raw PREROUTING (with ipset) and xdp-filter; xdpfw also with its
// AF_XDP engine (the xsk path). Each installs itself on
// the DUT veth and reads back the counter that proves the traffic reached it.
#pragma once

#include "bench/suite/workload.hpp"
#include "testing/lab_netns.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xdpfw::bench {

// gen (10.99.0.1, xbgen0) <-> dut (10.99.0.2, xbdut0), fresh per case so no
// case inherits another's tables, hooks or programs.
struct Lab {
    lab::NetNs gen, dut;
    lab::VethPair veth;
    Lab();
    static constexpr const char* gen_if = "xbgen0";
    static constexpr const char* dut_if = "xbdut0";
    static constexpr const char* dut_addr = "10.99.0.2";
};

// A DUT that cannot run here (tool missing, program refused): the row is
// reported as skipped with this reason, not as an error.
class SkipCase : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class DutKind { sink, xdpfw, nftables, iptables, xdp_filter };

// What a DUT's installed policy costs in memory (docs/BENCHMARKS.md,
// "Memory"). A figure that cannot be had is absent and its `what` says why.
struct DutMemory {
    std::optional<uint64_t> kernel_bytes; // maps' memlock, or a cgroup's kernel charge
    std::string kernel_what;              // what was counted, or "n/a: why"
    std::optional<uint64_t> rss_bytes;    // the process that holds the policy
    std::string rss_what;                 // whose RSS, or "n/a: why"
};

class Dut {
public:
    virtual ~Dut() = default;
    // Installs the DUT on lab.dut_if with workload w (the sink ignores it).
    // Throws SkipCase, or anything else for an error.
    virtual void setup(Lab& lab, const Workload& w) = 0;
    // Cumulative packets the DUT counted for the traffic: the dropping
    // rule's counter on the drop path, the pass-through counter on the pass
    // path.
    virtual uint64_t counted() = 0;
    // The xsk path: frames the AF_XDP worker took off its socket (counted()
    // is what reached the socket, taken or dropped there as the worker fell
    // behind).
    virtual uint64_t worker_received() { throw std::logic_error("not an AF_XDP DUT"); }
    // counted() before the first frame of the case is sent.
    virtual uint64_t counted_at_start() { return counted(); }
    // What counted() reads, for messages ("nft counter hit").
    virtual std::string counter_name() const = 0;
    // After the case's traffic: throws when the DUT's other counters show
    // it did not do the work measured (the xsk path: a frame received but
    // not dropped by inspection).
    virtual void check() {}
    // After setup(): the memory the installed policy takes. Does not throw:
    // a figure it cannot read is absent, with the reason.
    virtual DutMemory memory() = 0;
    // Seconds setup() took to install the policy (load, compile, commit).
    double setup_seconds = 0;
};

struct DutOptions {
    bool pass = false;              // the sink returns XDP_PASS instead of XDP_DROP
    std::string iptables = "iptables-legacy"; // iptables binary (restore: <binary>-restore)
    std::string tmp_dir;            // where rule files are written
    std::vector<int> worker_cpus;   // xdpfw with an xsk workload: the AF_XDP worker's CPUs
};

std::unique_ptr<Dut> make_dut(DutKind kind, const DutOptions& opts);

// Frees what make_dut() keeps for the whole run (xdpfw's loaded object).
void release_shared_duts();

} // namespace xdpfw::bench
