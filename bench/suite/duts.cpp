// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-bench's lab and devices under test (see the header).
#include "bench/suite/duts.hpp"

#include "bench/common/prefix_mix.hpp"
#include "bench/common/xsk_setup.hpp"
#include "bench/suite/memory.hpp"
#include "bench/suite/report.hpp"

#include "lib/compiler/compiler.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/conntrack.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/kernel/spec_program.hpp"
#include "lib/xsk/engine.hpp"
#include "lib/xsk/rule_inspector.hpp"
#include "xdpfw_bench_sink.skel.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <system_error>
#include <vector>

namespace xdpfw::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool have_tool(const std::string& name)
{
    return lab::run("command -v " + name + " >/dev/null").ok();
}

// GRO on the DUT veth: a veth accepts XDP-redirected frames only when its
// own end runs an XDP program or has GRO on. The stack DUTs (nftables,
// iptables) get GRO rather than a foreign XDP program in their path.
void enable_gro(const Lab& lab)
{
    const int fd = lab::socket_in(lab.dut, AF_INET, SOCK_DGRAM, 0);
    ethtool_value ev{};
    ev.cmd = ETHTOOL_SGRO;
    ev.data = 1;
    ifreq req{};
    std::strncpy(req.ifr_name, Lab::dut_if, IFNAMSIZ - 1);
    req.ifr_data = reinterpret_cast<char*>(&ev);
    const int rc = ioctl(fd, SIOCETHTOOL, &req);
    const int err = errno;
    ::close(fd);
    if (rc != 0)
        throw std::system_error(err, std::generic_category(),
                                fmt::format("enable GRO on {}", Lab::dut_if));
}

// The memlock of an XDP DUT's maps, or why it cannot be read.
template <class Fn>
void map_memory(DutMemory& m, const char* what, Fn&& bytes)
{
    try {
        m.kernel_bytes = bytes();
        m.kernel_what = what;
    } catch (const std::exception& e) {
        m.kernel_what = std::string("n/a: ") + e.what();
    }
}

// A stack DUT's install commands run in a memory cgroup of their own; what
// stays charged there once they have exited is the ruleset they installed.
class KernelCharge {
public:
    KernelCharge()
    {
        try {
            cgroup_.emplace();
        } catch (const std::exception& e) {
            why_ = e.what();
        }
    }
    std::string wrap(const std::string& cmd) const { return cgroup_ ? cgroup_->wrap(cmd) : cmd; }
    void read(DutMemory& m, const std::string& what) const
    {
        if (!cgroup_) {
            m.kernel_what = "n/a: " + why_;
            return;
        }
        try {
            m.kernel_bytes = cgroup_->kernel_bytes();
            m.kernel_what = what;
        } catch (const std::exception& e) {
            m.kernel_what = std::string("n/a: ") + e.what();
        }
    }

private:
    std::optional<KmemCgroup> cgroup_;
    std::string why_;
};

// ------------------------------------------------------------- XDP sink

class SinkDut : public Dut {
public:
    explicit SinkDut(bool pass) : pass_(pass) {}
    ~SinkDut() override
    {
        attachment_.reset(); // detach before the program goes
        if (skel_)
            xdpfw_bench_sink__destroy(skel_);
    }

    void setup(Lab& lab, const Workload&) override
    {
        const auto t0 = Clock::now();
        skel_ = xdpfw_bench_sink__open();
        if (skel_ == nullptr)
            throw BpfError(errno, "open the XDP sink");
        skel_->rodata->cfg_action = pass_ ? XDP_PASS : XDP_DROP;
        LibbpfLogCapture capture;
        if (int err = xdpfw_bench_sink__load(skel_))
            throw BpfError(-err, "load the XDP sink", capture.text());
        lab::EnterNetns in(lab.dut);
        AttachOptions ao;
        ao.mode = AttachMode::native;
        ao.use_libxdp = false;
        attachment_.emplace(XdpAttachment::attach_fd(bpf_program__fd(skel_->progs.bench_sink),
                                                     lab.veth.ifindex_b(), ao));
        setup_seconds = seconds_since(t0);
    }

    uint64_t counted() override
    {
        const int ncpu = libbpf_num_possible_cpus();
        std::vector<uint64_t> per_cpu(static_cast<size_t>(std::max(ncpu, 1)));
        const uint32_t key = 0;
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sink_packets), &key, per_cpu.data()) != 0)
            throw BpfError(errno, "read the XDP sink counter");
        uint64_t sum = 0;
        for (uint64_t v : per_cpu)
            sum += v;
        return sum;
    }

    std::string counter_name() const override { return "XDP sink counter"; }

    DutMemory memory() override
    {
        DutMemory m;
        map_memory(m, "memlock of the no-op's maps (its counter, its settings)",
                   [&] { return program_map_bytes(bpf_program__fd(skel_->progs.bench_sink)); });
        m.rss_what = "n/a: no policy (xdpfw-bench holds the no-op)";
        return m;
    }

private:
    bool pass_;
    xdpfw_bench_sink* skel_ = nullptr;
    std::optional<XdpAttachment> attachment_;
};

// ---------------------------------------------------------------- xdpfw

uint32_t no_interfaces(const std::string& name)
{
    throw PolicyError("interface", name, "the benchmark policies name no interfaces");
}

// One loaded object serves every case that fits its rule capacity: the
// daemon's default of 4,096 rules (Capacities), or the most the program
// takes for the 10,000-rule cases. The capacity is what the per-packet walk
// pays for (one summary word per 4,096 rules), as in a deployment that loads
// once and grows its policy. Sized for the 1M set (~500k host routes,
// ~30k chunks). Each case commits into it.
uint32_t rule_capacity(size_t rules)
{
    return rules <= Capacities{}.max_rules ? Capacities{}.max_rules : XDPFW_MAX_RULES;
}

struct XdpfwShared {
    uint32_t capacity;
    XdpfwObject obj;
    PolicyMaps maps;
    CompileOptions copts;
    uint64_t version = 0;

    static LoadOptions load_options(uint32_t capacity)
    {
        LoadOptions o;
        o.caps.max_rules = capacity;
        o.caps.max_bitmaps = 16384;
        o.caps.max_addr_classes = 65536;
        o.caps.max_v4_chunks = kMix1MChunks;
        o.caps.max_v4_hosts = kMix1MHostRoutes;
        o.caps.max_v6_prefixes = 64;
        return o;
    }
    explicit XdpfwShared(uint32_t cap)
        : capacity(cap), obj(XdpfwObject::load(load_options(cap))), maps(obj),
          copts{.caps = load_options(cap).caps, .resolve = no_interfaces}
    {
    }
};

std::unique_ptr<XdpfwShared> g_xdpfw;

// The xsk path's inspection rules: the issue's three (no match), a DNS
// name rule (no match: the traffic is not DNS), and a pattern every
// generated payload holds, so each frame is inspected and dropped by verdict.
std::vector<std::string> xsk_inspect_rules()
{
    auto rules = xsk_nomatch_inspect_rules();
    rules.push_back("priority=35 dns_name=ads.example action=drop");
    rules.push_back(kXskPayloadDropRule);
    return rules;
}

// Every flow the generator sends (source i of the traffic's prefix, source
// port 1024 + i % 256, to the DUT's port 5001; Runner::make_flow) as an
// answered UDP flow in the flow table, for `xdpfw/ct-established`.
void preset_flows(const XdpfwObject& obj, const V4Pfx& traffic)
{
    const FlowTable flows(obj);
    flows.ensure();
    const UniqueFd fd(flows.table_fd());
    const uint64_t n = uint64_t{1} << (32 - traffic.len);
    std::array<uint8_t, 16> dut{};
    inet_pton(AF_INET, Lab::dut_addr, dut.data());
    for (uint64_t i = 0; i < n; i++) {
        std::array<uint8_t, 16> src{};
        const uint32_t a = htonl(traffic.addr + uint32_t(i));
        std::memcpy(src.data(), &a, 4);
        const uint16_t sport = uint16_t(kTrafficSportFirst + i % kTrafficSportCount);
        // The key's sides sorted as the data path sorts them.
        const bool src_first = std::pair{src, sport} <= std::pair{dut, kTrafficDport};
        xdpfw_ct_key k{};
        k.family = XDPFW_FAMILY_IPV4;
        k.proto = 17;
        k.port_a = src_first ? sport : kTrafficDport;
        k.port_b = src_first ? kTrafficDport : sport;
        std::memcpy(k.addr_a, (src_first ? src : dut).data(), 16);
        std::memcpy(k.addr_b, (src_first ? dut : src).data(), 16);
        const xdpfw_ct_entry e{~0ull >> 1, XDPFW_CTF_REPLIED, uint8_t(src_first ? 0 : 1), {}};
        if (bpf_map_update_elem(fd.get(), &k, &e, BPF_ANY))
            throw std::system_error(errno, std::generic_category(), "preset the flow table");
    }
}

class XdpfwDut : public Dut {
public:
    explicit XdpfwDut(std::vector<int> worker_cpus) : worker_cpus_(std::move(worker_cpus)) {}
    ~XdpfwDut() override = default;

    void setup(Lab& lab, const Workload& w) override
    {
        const uint32_t cap = rule_capacity(w.rules.size());
        if (!g_xdpfw || g_xdpfw->capacity != cap) {
            g_xdpfw.reset();
            g_xdpfw = std::make_unique<XdpfwShared>(cap);
        }
        XdpfwShared& x = *g_xdpfw;
        const auto t0 = Clock::now();
        const Policy policy = to_policy(w);
        const CompiledPolicy compiled = compile(policy, x.copts);
        x.maps.commit(compiled, ++x.version);
        setup_seconds = seconds_since(t0);
        // The previous case's pages leave with the retired generation: the
        // memory row then shows this policy's.
        x.maps.wait_settled();
        if (w.drop) {
            const uint32_t last_id = policy.rules.back().id;
            for (const auto& r : compiled.rules)
                if (r.rule_id == last_id)
                    slot_ = r.counter_slot;
            if (!slot_)
                throw std::logic_error("the compiled policy lost its last rule");
        }
        drop_ = w.drop;
        if (w.ct_established)
            preset_flows(x.obj, w.traffic);
        // What xdpfwd runs: the specialised tier's program when the policy
        // has a spec (docs/ARCHITECTURE.md, "Tiers"), else the general one.
        spec_.reset();
        if (compiled.spec)
            spec_.emplace(SpecProgram::load(x.obj, *compiled.spec));
        lab::EnterNetns in(lab.dut);
        AttachOptions ao;
        ao.mode = AttachMode::native;
        attachment_.emplace(XdpAttachment::attach_fd(spec_ ? spec_->prog_fd() : x.obj.prog_fd(),
                                                     lab.veth.ifindex_b(), ao));
        if (w.xsk) {
            // The engine's worker on the DUT veth's queue (copy mode), in
            // host mode: its TUN device lives in the DUT namespace, and
            // nothing reaches it, since inspection drops every frame.
            inspection_.publish(compile_inspect_rules(xsk_inspect_rules()));
            xsk::EngineConfig c;
            c.interfaces = {Lab::dut_if};
            c.mode = xsk::ForwardMode::host;
            c.cpus = worker_cpus_;
            engine_.emplace(c, xsk_map_fds(x.obj), inspection_.factory());
            engine_->start();
        }
    }

    uint64_t counted() override
    {
        if (engine_) {
            // Redirected into the socket: taken by the worker, or dropped
            // by the kernel because the worker's rings were full (the
            // worker's share is the per-trial rate's, worker_received()).
            const auto s = interface_stats(*engine_, Lab::dut_if);
            return s.rx_packets + s.kernel.rx_ring_full + s.kernel.rx_dropped;
        }
        if (drop_)
            return g_xdpfw->maps.rule_counter(*slot_).packets;
        return g_xdpfw->maps.reason_counters()[XDPFW_REASON_DEFAULT_PASS].packets;
    }

    std::string counter_name() const override
    {
        if (engine_)
            return fmt::format("AF_XDP socket on {} (worker rx + ring full + dropped)", Lab::dut_if);
        return drop_ ? fmt::format("xdpfw rule counter (slot {})", slot_.value_or(0))
                     : "xdpfw default_pass reason counter";
    }

    DutMemory memory() override
    {
        DutMemory m;
        map_memory(m,
                   "memlock of every map of the xdpfw object, with the inner maps its tables "
                   "hold (bitmaps, IPv4 pages) once each (XdpfwObject::map_bytes)",
                   [] { return g_xdpfw->obj.map_bytes(); });
        try {
            m.rss_bytes = self_anon_rss_bytes();
            m.rss_what = "RssAnon of xdpfw-bench, which loads, compiles and commits xdpfw in "
                         "process (the generator and the harness included; the mmapped maps are "
                         "in kernel_bytes)";
        } catch (const std::exception& e) {
            m.rss_what = std::string("n/a: ") + e.what();
        }
        return m;
    }

    uint64_t worker_received() override
    {
        if (!engine_)
            return Dut::worker_received();
        return interface_stats(*engine_, Lab::dut_if).rx_packets;
    }

    void check() override
    {
        if (!engine_)
            return;
        const auto s = interface_stats(*engine_, Lab::dut_if);
        if (s.dropped_verdict != s.rx_packets)
            throw std::runtime_error(fmt::format(
                "the AF_XDP worker received {} frames but inspection dropped {} (forwarded {}): "
                "the inspection rules did not run as measured",
                s.rx_packets, s.dropped_verdict, s.forwarded));
    }

private:
    std::vector<int> worker_cpus_;
    bool drop_ = true;
    std::optional<uint32_t> slot_;
    std::optional<SpecProgram> spec_; // the specialised tier's program, if any
    std::optional<XdpAttachment> attachment_;
    // Declared after the attachment: the engine stops (its sockets leave
    // the XskMap) first; the inspection outlives the engine's inspectors.
    xsk::RuleInspection inspection_;
    std::optional<xsk::Engine> engine_;
};

// ------------------------------------------------------------- nftables

constexpr const char* kNftTable = "xdpfwbench";

class NftDut : public Dut {
public:
    explicit NftDut(std::string tmp) : tmp_(std::move(tmp)) {}

    void setup(Lab& lab, const Workload& w) override
    {
        if (!have_tool("nft"))
            throw SkipCase("nft is not installed (Debian package nftables)");
        lab_ = &lab;
        const std::string file = tmp_ + "/nft.rules";
        write_text(file, to_nft(w, kNftTable, Lab::dut_if));
        enable_gro(lab);
        const KernelCharge charge;
        const auto t0 = Clock::now();
        lab::run_in_checked(lab.dut, charge.wrap("nft -f " + file));
        setup_seconds = seconds_since(t0);
        std::remove(file.c_str());
        charge.read(memory_, "kernel memory charged to a cgroup while nft -f loaded the table "
                             "(rules, set elements)");
        memory_.rss_what = "n/a: no process holds the policy (nft exits; the kernel keeps the table)";
    }

    DutMemory memory() override { return memory_; }

    uint64_t counted() override
    {
        const std::string out = lab::run_in_checked(
            lab_->dut, fmt::format("nft --json list counter netdev {} hit", kNftTable));
        const auto j = nlohmann::json::parse(out);
        for (const auto& item : j.at("nftables"))
            if (item.contains("counter"))
                return item["counter"].at("packets").get<uint64_t>();
        throw std::runtime_error("nft listed no counter \"hit\": " + out);
    }

    // setup() created the counter and nothing has been sent since: listing
    // it would only cost time (nft fetches every set element first).
    uint64_t counted_at_start() override { return 0; }

    std::string counter_name() const override { return "nft counter hit"; }

private:
    std::string tmp_;
    Lab* lab_ = nullptr;
    DutMemory memory_;
};

// ------------------------------------------------------------- iptables

class IptablesDut : public Dut {
public:
    IptablesDut(std::string binary, std::string tmp) : bin_(std::move(binary)), tmp_(std::move(tmp))
    {
    }

    void setup(Lab& lab, const Workload& w) override
    {
        if (!have_tool(bin_) || !have_tool(bin_ + "-restore"))
            throw SkipCase(bin_ + " is not installed (Debian package iptables)");
        if (!w.set.empty() && !have_tool("ipset"))
            throw SkipCase("ipset is not installed (Debian package ipset)");
        lab_ = &lab;
        // The drop path reads the dropping rule (the last); the pass path a
        // counting rule after the decoys.
        rule_no_ = w.rules.size() + (w.drop ? 0 : 1);
        std::string rules = to_iptables(w, Lab::dut_if);
        if (!w.drop)
            rules.insert(rules.rfind("COMMIT"),
                         fmt::format("-A PREROUTING -i {}\n", Lab::dut_if));
        const std::string rules_file = tmp_ + "/iptables.rules";
        const std::string set_file = tmp_ + "/ipset.rules";
        write_text(rules_file, rules);
        enable_gro(lab);
        const KernelCharge charge;
        const auto t0 = Clock::now();
        if (!w.set.empty()) {
            write_text(set_file, to_ipset(w));
            lab::run_in_checked(lab.dut, charge.wrap("ipset restore < " + set_file));
        }
        lab::run_in_checked(lab.dut, charge.wrap(bin_ + "-restore < " + rules_file));
        setup_seconds = seconds_since(t0);
        std::remove(rules_file.c_str());
        std::remove(set_file.c_str());
        charge.read(memory_, fmt::format("kernel memory charged to a cgroup while {}{}-restore "
                                         "loaded the rules",
                                         w.set.empty() ? "" : "ipset restore and ", bin_));
        memory_.rss_what = "n/a: no process holds the policy (the tools exit; the kernel keeps it)";
    }

    DutMemory memory() override { return memory_; }

    uint64_t counted() override
    {
        const std::string out = lab::run_in_checked(
            lab_->dut, fmt::format("{} -t raw -L PREROUTING {} -v -x -n", bin_, rule_no_));
        static const std::regex re(R"(^\s*([0-9]+)\s+[0-9]+\s)");
        std::smatch m;
        if (!std::regex_search(out, m, re))
            throw std::runtime_error(fmt::format("{}: cannot read rule {}'s counter from: {}", bin_,
                                                 rule_no_, out));
        return std::stoull(m[1].str());
    }

    std::string counter_name() const override
    {
        return fmt::format("{} raw PREROUTING rule {} counter", bin_, rule_no_);
    }

private:
    std::string bin_, tmp_;
    Lab* lab_ = nullptr;
    size_t rule_no_ = 0;
    DutMemory memory_;
};

// ------------------------------------------------------------ xdp-filter

class XdpFilterDut : public Dut {
public:
    ~XdpFilterDut() override
    {
        if (loaded_)
            lab::run_in(lab_->dut, fmt::format("xdp-filter unload {}", Lab::dut_if));
    }

    void setup(Lab& lab, const Workload& w) override
    {
        if (!have_tool("xdp-filter"))
            throw SkipCase("xdp-filter is not installed (Debian package xdp-tools)");
        if (w.rules.size() != 1 || !w.set.empty() || !w.drop)
            throw std::invalid_argument("xdp-filter cases take one rule (a destination port)");
        lab_ = &lab;
        const auto t0 = Clock::now();
        // libxdp's dispatcher cannot load on this kernel; xdp-filter then
        // falls back to attaching its program alone. If even that fails the
        // row is skipped with xdp-filter's own words.
        const lab::CmdResult load = lab::run_in(
            lab.dut, fmt::format("xdp-filter load {} --mode native --features udp,ipv4,ethernet",
                                 Lab::dut_if));
        if (!load.ok())
            throw SkipCase("xdp-filter load failed: " + load.output);
        loaded_ = true;
        lab::run_in_checked(lab.dut,
                            fmt::format("xdp-filter port {} --mode dst --proto udp", kTrafficDport));
        setup_seconds = seconds_since(t0);
    }

    uint64_t counted() override
    {
        const std::string out = lab::run_in_checked(lab_->dut, "xdp-filter status");
        const std::regex re(fmt::format(R"(\n\s*{}\s+dst,udp\s+([0-9]+))", kTrafficDport));
        std::smatch m;
        if (!std::regex_search(out, m, re))
            throw std::runtime_error("xdp-filter status shows no hit counter for port " +
                                     std::to_string(kTrafficDport) + ": " + out);
        return std::stoull(m[1].str());
    }

    std::string counter_name() const override
    {
        return fmt::format("xdp-filter port {} hit counter", kTrafficDport);
    }

    DutMemory memory() override
    {
        DutMemory m;
        map_memory(m, "memlock of the maps of the XDP program attached to the DUT veth", [&] {
            lab::EnterNetns in(lab_->dut);
            return attached_xdp_map_bytes(lab_->veth.ifindex_b());
        });
        m.rss_what = "n/a: no process holds the policy (xdp-filter exits; its maps are pinned)";
        return m;
    }

private:
    Lab* lab_ = nullptr;
    bool loaded_ = false;
};

} // namespace

Lab::Lab()
    : veth(lab::VethEnd{&gen, gen_if, "10.99.0.1", ""}, lab::VethEnd{&dut, dut_if, dut_addr, ""})
{
    // Sources of the benchmark range have no route back: no reverse-path
    // filter may drop them on the pass path.
    lab::run_in_checked(dut, fmt::format("sysctl -qw net.ipv4.conf.all.rp_filter=0 "
                                         "net.ipv4.conf.{}.rp_filter=0",
                                         dut_if));
}

std::unique_ptr<Dut> make_dut(DutKind kind, const DutOptions& opts)
{
    switch (kind) {
    case DutKind::sink: return std::make_unique<SinkDut>(opts.pass);
    case DutKind::xdpfw: return std::make_unique<XdpfwDut>(opts.worker_cpus);
    case DutKind::nftables: return std::make_unique<NftDut>(opts.tmp_dir);
    case DutKind::iptables: return std::make_unique<IptablesDut>(opts.iptables, opts.tmp_dir);
    case DutKind::xdp_filter: return std::make_unique<XdpFilterDut>();
    }
    throw std::logic_error("unknown DUT kind");
}

void release_shared_duts()
{
    g_xdpfw.reset();
}

} // namespace xdpfw::bench
