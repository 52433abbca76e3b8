// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-xsk-bench: packets per second through the AF_XDP path on a veth lab,
// beside a minimal AF_XDP receive-and-drop loop on the same lab in the same
// run (the ceiling). docs/BENCHMARKS.md, "AF_XDP path".
//
// Lab (a private network namespace of this process, gone when it exits):
//   xdpfw-pktgen -> g0 ==veth== d0 [XDP + AF_XDP under test] d1 ==veth== s0 (XDP drop)
// Each configuration runs xdpfw-pktgen at full speed out of g0 and counts
// what the receiving loop handled in a fixed window.
#include "bench/common/xsk_setup.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/xsk/engine.hpp"
#include "lib/xsk/rule_inspector.hpp"

#include "xdpfw_bench_noop.skel.h"
#include "xdpfw_bpf.skel.h"
#include "xdpfw_xsk_ceiling.skel.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <fmt/format.h>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace xdpfw;
using Clock = std::chrono::steady_clock;

struct Args {
    double duration = 3;   // measured window, seconds
    double warmup = 0.5;   // traffic before the window opens
    unsigned size = 64;    // frame size
    int gen_cpu = 0;       // xdpfw-pktgen (and the veth receive softirq it drives)
    int worker_cpu = 1;    // the AF_XDP loop
    uint32_t ring_size = 2048;
    uint32_t batch = 64;
    bool json = false;
};

void sh(const std::string& cmd)
{
    if (std::system(cmd.c_str()) != 0)
        throw std::runtime_error("command failed: " + cmd);
}

// The lab, in a network namespace of this process's own.
void make_lab()
{
    if (unshare(CLONE_NEWNET))
        throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
    sh("ip link set lo up && ip link add g0 type veth peer name d0 && "
       "ip link add d1 type veth peer name s0 && "
       "for i in g0 d0 d1 s0; do ip link set $i up; done");
}

int ifindex(const std::string& name)
{
    const int i = int(if_nametoindex(name.c_str()));
    if (!i)
        throw std::runtime_error("no interface " + name);
    return i;
}

void pin_self(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// xdpfw-pktgen out of g0 for `seconds`, in the background.
class Generator {
public:
    Generator(const Args& a, double seconds)
    {
        std::vector<std::string> args = {XDPFW_PKTGEN_PATH, "--dev", "g0", "--dst-mac",
                                         "02:00:00:00:00:02", "--src", "198.18.0.1-198.18.0.255",
                                         "--dst", "198.19.0.1", "--dport", "9",
                                         "--size", std::to_string(a.size),
                                         "--duration", fmt::format("{}", seconds),
                                         "--cpu", std::to_string(a.gen_cpu), "--json"};
        std::vector<char*> argv;
        for (auto& s : args)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        if (pipe(out_))
            throw std::runtime_error("pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out_[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&fa, out_[0]);
        const int err = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        close(out_[1]);
        if (err)
            throw std::runtime_error(fmt::format("spawn {}: {}", argv[0], std::strerror(err)));
    }
    // Waits for the generator; returns its JSON report.
    nlohmann::json finish()
    {
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = read(out_[0], buf, sizeof(buf))) > 0)
            text.append(buf, size_t(n));
        close(out_[0]);
        int status = 0;
        waitpid(pid_, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            throw std::runtime_error("xdpfw-pktgen failed: " + text);
        return nlohmann::json::parse(text);
    }

private:
    pid_t pid_ = -1;
    int out_[2] = {-1, -1};
};

struct Result {
    std::string name;
    std::string what;
    double pps = 0;
    uint64_t packets = 0;
    double generated_pps = 0;
    nlohmann::json detail = nlohmann::json::object();
};

// Runs the generator, opens the window after the warm-up, and reads
// `count()` at both ends of it.
Result measure(const Args& a, const std::string& name, const std::function<uint64_t()>& count)
{
    Generator gen(a, a.warmup + a.duration + 0.3);
    std::this_thread::sleep_for(std::chrono::duration<double>(a.warmup));
    const uint64_t c0 = count();
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(a.duration));
    const uint64_t c1 = count();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto report = gen.finish();
    Result r;
    r.name = name;
    r.packets = c1 - c0;
    r.pps = double(r.packets) / secs;
    r.generated_pps = report.value("pps", 0.0);
    return r;
}

// The forwarding ceiling's step: frees the tx frames the kernel completed,
// then copies as many of the n received frames as fit into tx frames of
// `out` and sends them.
void copy_to_tx(xsk::XskSocket& in, xsk::XskSocket& out, std::vector<uint64_t>& tx_free,
                uint32_t rx_idx, uint32_t n)
{
    uint32_t done_idx = 0, tx_idx = 0;
    const uint32_t done = xsk_ring_cons__peek(out.comp(), out.options().ring_size, &done_idx);
    for (uint32_t i = 0; i < done; ++i)
        tx_free.push_back(*xsk_ring_cons__comp_addr(out.comp(), done_idx + i));
    xsk_ring_cons__release(out.comp(), done);
    const uint32_t m = xsk_ring_prod__reserve(
        out.tx(), std::min<uint32_t>(n, uint32_t(tx_free.size())), &tx_idx);
    for (uint32_t i = 0; i < m; ++i) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(in.rx(), rx_idx + i);
        xdp_desc* t = xsk_ring_prod__tx_desc(out.tx(), tx_idx + i);
        t->addr = tx_free.back();
        tx_free.pop_back();
        t->len = d->len;
        t->options = 0;
        std::memcpy(xsk_umem__get_data(out.umem_area(), t->addr),
                    xsk_umem__get_data(in.umem_area(), d->addr), d->len);
    }
    xsk_ring_prod__submit(out.tx(), m);
    for (uint32_t k = 0; k <= m / 32 + 1 && out.kick_tx() == EAGAIN; ++k) {
    }
}

// The ceiling's receive loop: each received frame goes straight back to the
// fill ring, after a copy out of `out` when forwarding. `received` counts.
void ceiling_loop(const Args& a, xsk::XskSocket& sock, xsk::XskSocket* out,
                  const std::atomic<bool>& stop, std::atomic<uint64_t>& received)
{
    pin_self(a.worker_cpu);
    std::vector<uint64_t> tx_free;
    if (out)
        for (uint32_t i = 0; i < out->options().ring_size; ++i)
            tx_free.push_back(out->tx_frame(i));
    uint64_t total = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        uint32_t rx_idx = 0, fill_idx = 0;
        const uint32_t n = xsk_ring_cons__peek(sock.rx(), a.batch, &rx_idx);
        if (!n) {
            pollfd p{sock.fd(), POLLIN, 0};
            poll(&p, 1, 10);
            continue;
        }
        while (xsk_ring_prod__reserve(sock.fill(), n, &fill_idx) != n) {
        }
        for (uint32_t i = 0; i < n; ++i)
            *xsk_ring_prod__fill_addr(sock.fill(), fill_idx + i) =
                xsk_umem__extract_addr(xsk_ring_cons__rx_desc(sock.rx(), rx_idx + i)->addr);
        if (out)
            copy_to_tx(sock, *out, tx_free, rx_idx, n);
        xsk_ring_prod__submit(sock.fill(), n);
        xsk_ring_cons__release(sock.rx(), n);
        total += n;
        received.store(total, std::memory_order_relaxed);
    }
}

// The ceilings: an XDP program that redirects every frame to its queue's
// socket and a loop that hands each received frame straight back to the fill
// ring (drop) or first copies it into a tx frame of a socket on d1 and sends
// it (forward). Nothing is parsed or inspected.
Result run_ceiling(const Args& a, bool forward)
{
    VerifiedLoad vl;
    std::unique_ptr<xdpfw_xsk_ceiling, void (*)(xdpfw_xsk_ceiling*)> skel(
        xdpfw_xsk_ceiling__open_opts(vl.open_opts()), xdpfw_xsk_ceiling__destroy);
    if (!skel)
        throw std::runtime_error("open xsk_ceiling");
    vl.load([&] { return xdpfw_xsk_ceiling__load(skel.get()); }, "load xsk_ceiling");
    AttachOptions ao;
    ao.mode = AttachMode::native;
    auto link = XdpAttachment::attach_fd(bpf_program__fd(skel->progs.xsk_ceiling), ifindex("d0"), ao);

    xsk::SocketOptions so;
    so.ring_size = a.ring_size;
    so.batch = a.batch;
    auto sock = xsk::XskSocket::create("d0", 0, so);
    std::unique_ptr<xsk::XskSocket> out;
    if (forward)
        out = xsk::XskSocket::create("d1", 0, so);
    const uint32_t key = 0;
    const int fd = sock->fd();
    if (bpf_map_update_elem(bpf_map__fd(skel->maps.ceiling_xsks), &key, &fd, BPF_ANY))
        throw std::runtime_error("insert ceiling socket");

    std::atomic<uint64_t> received{0};
    std::atomic<bool> stop{false};
    std::thread loop([&] { ceiling_loop(a, *sock, out.get(), stop, received); });
    // Stopped and joined however measure() ends (it throws when the
    // generator fails): a joinable thread's destructor would abort.
    struct Joiner {
        std::atomic<bool>& stop;
        std::thread& t;
        ~Joiner()
        {
            stop = true;
            t.join();
        }
    } joiner{stop, loop};
    Result r = measure(a, forward ? "ceiling_forward" : "ceiling",
                       [&] { return received.load(); });
    r.what = forward ? "minimal AF_XDP receive-and-forward loop (copy to d1, send)"
                     : "minimal AF_XDP receive-and-drop loop";
    const auto k = sock->kernel_stats();
    r.detail = {{"zero_copy", sock->zero_copy()},
                {"rx_ring_full", k.rx_ring_full},
                {"fill_ring_empty", k.rx_fill_ring_empty}};
    return r;
}

// The xsk path: the xdpfw program (parse, classify, action=xsk) on d0 and
// d1, the engine in inline mode (d0 <-> d1), inspection as given.
Result run_engine(const Args& a, const std::string& name, const std::string& what,
                  xsk::InspectorFactory inspector)
{
    const LoadOptions lo = small_load_options();
    auto obj = XdpfwObject::load(lo);
    PolicyMaps maps(obj);
    Policy p;
    p.default_action = ActionType::pass;
    Rule r = parse_rule("priority=1 proto=udp action=xsk fallback=drop", "bench rule");
    r.id = 1;
    p.rules.push_back(r);
    auto resolve = [](const std::string& n) { return uint32_t(ifindex(n)); };
    maps.commit(compile(p, {.caps = lo.caps, .resolve = resolve}), 1);
    AttachOptions ao;
    ao.mode = AttachMode::native;
    auto l0 = XdpAttachment::attach(obj, "d0", ao);
    auto l1 = XdpAttachment::attach(obj, "d1", ao);

    xsk::EngineConfig c;
    c.interfaces = {"d0", "d1"};
    c.mode = xsk::ForwardMode::inline_;
    c.pairs = {{"d0", "d1"}};
    c.socket.ring_size = a.ring_size;
    c.socket.batch = a.batch;
    if (a.worker_cpu >= 0)
        c.cpus = {a.worker_cpu};
    xsk::Engine engine(c, bench::xsk_map_fds(obj), std::move(inspector));
    engine.start();
    auto d0 = [&] { return bench::interface_stats(engine, "d0"); };
    Result res = measure(a, name, [&] { return d0().rx_packets; });
    engine.stop();
    res.what = what;
    const auto w = d0();
    res.detail = {{"rx_packets", w.rx_packets},         {"forwarded", w.forwarded},
                  {"dropped_verdict", w.dropped_verdict}, {"tx_packets", w.tx_packets},
                  {"tx_busy", w.tx_busy},               {"rx_ring_full", w.kernel.rx_ring_full},
                  {"fill_ring_empty", w.kernel.rx_fill_ring_empty}, {"zero_copy", w.zero_copy}};
    return res;
}

void add_options(CLI::App& app, Args& a)
{
    app.add_option("--duration", a.duration, "measured seconds per configuration (default 3)")
        ->check(CLI::Range(0.05, 600.0));
    app.add_option("--warmup", a.warmup, "seconds of traffic before measuring (default 0.5)")
        ->check(CLI::Range(0.0, 60.0));
    app.add_option("--size", a.size, "frame size (default 64)")->check(CLI::Range(60, 1500));
    app.add_option("--gen-cpu", a.gen_cpu, "CPU of the generator (default 0, -1: none)");
    app.add_option("--worker-cpu", a.worker_cpu, "CPU of the AF_XDP loop (default 1, -1: none)");
    app.add_option("--ring-size", a.ring_size, "ring entries (default 2048)");
    app.add_option("--batch", a.batch, "rx batch (default 64)");
    app.add_flag("--json", a.json, "print one JSON object");
}

// The sink of the inline configurations drops at XDP, so forwarded frames
// cost the receiving side nothing. The returned attachment holds it on s0.
struct Sink {
    VerifiedLoad vl;
    std::unique_ptr<xdpfw_bench_noop, void (*)(xdpfw_bench_noop*)> skel{nullptr,
                                                                       xdpfw_bench_noop__destroy};
    std::optional<XdpAttachment> link;
};

void attach_sink(Sink& s)
{
    s.skel.reset(xdpfw_bench_noop__open_opts(s.vl.open_opts()));
    if (!s.skel)
        throw std::runtime_error("open bench_noop");
    s.vl.load([&] { return xdpfw_bench_noop__load(s.skel.get()); }, "load bench_noop");
    AttachOptions ao;
    ao.mode = AttachMode::native;
    s.link.emplace(XdpAttachment::attach_fd(bpf_program__fd(s.skel->progs.bench_noop),
                                            ifindex("s0"), ao));
}

// Every configuration in turn: the two ceilings first, then the engine's.
std::vector<Result> run_all(const Args& a)
{
    std::vector<Result> results;
    results.push_back(run_ceiling(a, false));
    results.push_back(run_ceiling(a, true));
    results.push_back(run_engine(a, "xsk_no_inspection", "xdpfw + engine, no inspector, "
                                 "forwarded inline", {}));
    // The three example rules; the generator's frames match none
    // of them, so every frame is inspected in full and forwarded.
    const std::vector<std::string>& rules = bench::xsk_nomatch_inspect_rules();
    xsk::RuleInspection forward_rules;
    forward_rules.publish(bench::compile_inspect_rules(rules));
    results.push_back(run_engine(a, "xsk_inspect_forward",
                                 "xdpfw + engine, 3 inspection rules (no match), forwarded "
                                 "inline", forward_rules.factory()));
    // The same plus a pattern the generator's payload holds: every frame
    // is dropped by verdict.
    auto drop_list = rules;
    drop_list.push_back(bench::kXskPayloadDropRule);
    xsk::RuleInspection drop_rules;
    drop_rules.publish(bench::compile_inspect_rules(drop_list));
    results.push_back(run_engine(a, "xsk_inspect_drop",
                                 "xdpfw + engine, 4 inspection rules, payload pattern "
                                 "matches: dropped by verdict", drop_rules.factory()));
    return results;
}

void print(const Args& a, const std::vector<Result>& results)
{
    // Each configuration against the minimal loop that does the same
    // with the packet: forwarding ones against ceiling_forward.
    auto reference = [&](const Result& r) {
        const bool fwd = r.name == "ceiling_forward" || r.name == "xsk_no_inspection" ||
                         r.name == "xsk_inspect_forward";
        return fwd ? results[1] : results[0];
    };
    auto ratio = [&](const Result& r) {
        const double c = reference(r).pps;
        return c > 0 ? r.pps / c : 0;
    };
    if (a.json) {
        nlohmann::json j = {{"duration", a.duration}, {"size", a.size}, {"results", nlohmann::json::array()}};
        for (const auto& r : results)
            j["results"].push_back({{"name", r.name}, {"what", r.what}, {"pps", r.pps},
                                    {"packets", r.packets}, {"generated_pps", r.generated_pps},
                                    {"ceiling", reference(r).name},
                                    {"of_ceiling", ratio(r)},
                                    {"detail", r.detail}});
        std::cout << j.dump() << "\n";
    } else {
        fmt::print("{:<20} {:>8} {:>8} {:<16} {:>10}  {}\n", "configuration", "Mpps",
                   "of", "ceiling", "gen Mpps", "what");
        for (const auto& r : results)
            fmt::print("{:<20} {:>8.3f} {:>7.1f}% {:<16} {:>10.3f}  {}\n", r.name,
                       r.pps / 1e6, 100 * ratio(r), reference(r).name, r.generated_pps / 1e6,
                       r.what);
    }
}

} // namespace

int main(int argc, char** argv)
{
    Args a;
    CLI::App app{"xdpfw-xsk-bench: AF_XDP path throughput beside a minimal AF_XDP loop "
                 "(docs/BENCHMARKS.md)"};
    add_options(app, a);
    CLI11_PARSE(app, argc, argv);
    if (geteuid() != 0) {
        std::fprintf(stderr, "xdpfw-xsk-bench: needs root (CAP_BPF, CAP_NET_ADMIN)\n");
        return 77;
    }

    try {
        init_logging(spdlog::level::warn);
        make_lab();
        Sink sink;
        attach_sink(sink);
        const std::vector<Result> results = run_all(a);
        print(a, results);
        for (const auto& r : results) {
            if (r.packets == 0) {
                std::fprintf(stderr, "xdpfw-xsk-bench: a configuration received no packets\n");
                return 1;
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xdpfw-xsk-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
