// SPDX-License-Identifier: GPL-2.0-only
// Single-run timings of the SYN cookie answer beside the no-op (single_runs.hpp).
#include "bench/stages/single_runs.hpp"

#include "lib/compiler/compiler.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "testing/packet_builder.hpp"
#include "testing/policy_text.hpp"
#include "xdpfw_bench_noop.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/bpf.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace xdpfw::bench {

namespace {

// The kernel's ns for one run of prog_fd on frame (its own timer, no
// syscall cost); checks the verdict.
double one_run(int prog_fd, const std::vector<uint8_t>& frame, uint32_t want)
{
    std::vector<uint8_t> out(frame.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame.data(),
                .data_out = out.data(), .data_size_in = static_cast<uint32_t>(frame.size()),
                .data_size_out = static_cast<uint32_t>(out.size()), .repeat = 1);
    if (bpf_prog_test_run_opts(prog_fd, &o) != 0)
        throw std::system_error(errno, std::generic_category(), "BPF_PROG_RUN");
    // The SYN cookie rule passes one SYN a second to the stack (RULES.md).
    if (o.retval != want && !(want == XDP_TX && o.retval == XDP_PASS))
        throw std::runtime_error(fmt::format("verdict {} where {} was expected", o.retval, want));
    return o.duration;
}

struct Prog {
    std::string name;
    int fd;
    uint32_t want;
};

} // namespace

std::string single_run_table(int calls)
{
    std::vector<std::vector<uint8_t>> frames;
    for (int i = 0; i < 8; i++)
        frames.push_back(build_frame(test::frame(fmt::format("198.18.{}.{}", i * 31, i * 13 + 1),
                                                 "10.0.0.2", 6, 1000, 9999)));
    std::unique_ptr<xdpfw_bench_noop, void (*)(xdpfw_bench_noop*)> noop(
        xdpfw_bench_noop__open_and_load(), xdpfw_bench_noop__destroy);
    if (!noop)
        throw std::system_error(errno, std::generic_category(), "load bench_noop");
    const std::pair<const char*, const char*> policies[] = {
        {"drop (rules-1)", "proto=tcp dport=9999 action=drop"},
        {"limited flood (per=src, all over)", "proto=tcp dport=9999 limit=1/m burst=1 per=src action=drop"},
        {"syncookie (SYN -> SYN-ACK, XDP_TX)",
         "proto=tcp dport=9999 tcp_flags=SYN,!ACK action=syncookie"}};
    std::vector<std::unique_ptr<XdpfwObject>> objs;
    std::vector<std::unique_ptr<PolicyMaps>> maps;
    std::vector<Prog> progs{{"no-op", bpf_program__fd(noop->progs.bench_noop), XDP_DROP}};
    for (const auto& [name, rule] : policies) {
        objs.push_back(std::make_unique<XdpfwObject>(XdpfwObject::load(small_load_options())));
        maps.push_back(std::make_unique<PolicyMaps>(*objs.back()));
        maps.back()->commit(compile(test::make_policy({rule}, ActionType::drop),
                                    CompileOptions{.caps = objs.back()->options().caps}),
                            1);
        progs.push_back({name, objs.back()->prog_fd(),
                         std::string(rule).find("syncookie") != std::string::npos ? uint32_t(XDP_TX)
                                                                                  : uint32_t(XDP_DROP)});
    }
    // Round robin over the programs, so a slow moment falls on all alike.
    std::vector<std::vector<double>> ns(progs.size());
    for (int c = 0; c < calls; c++)
        for (size_t p = 0; p < progs.size(); p++)
            ns[p].push_back(one_run(progs[p].fd, frames[size_t(c) % frames.size()], progs[p].want));
    std::string s = fmt::format("Single BPF_PROG_RUN calls (repeat 1, a fresh 8-source TCP SYN "
                                "frame each), median of {} calls; the kernel's timer, so each "
                                "figure includes its ~constant overhead, as the no-op shows:\n\n"
                                "| program | ns | Mpps | over the no-op, ns |\n|---|---|---|---|\n",
                                calls);
    std::vector<double> med;
    for (auto& v : ns) {
        std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
        med.push_back(v[v.size() / 2]);
    }
    for (size_t p = 0; p < progs.size(); p++)
        s += fmt::format("| {} | {:.0f} | {:.2f} | {:.0f} |\n", progs[p].name, med[p],
                         1000.0 / std::max(med[p], 1.0), med[p] - med[0]);
    return s;
}

} // namespace xdpfw::bench
