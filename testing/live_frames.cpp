// SPDX-License-Identifier: GPL-2.0-only
#include "testing/live_frames.hpp"

#include "lib/base/unique_fd.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace xdpfw::test {

namespace {

std::string probe()
{
    // r0 = XDP_DROP; exit
    const bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = XDP_DROP},
        {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_XDP);
    UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_XDP, "live_probe", "GPL", insns, 2, &lo));
    if (prog.get() < 0)
        return {}; // no BPF at all: the test will say so itself
    std::vector<uint8_t> frame(64, 0);
    frame[12] = 0x08; // an IPv4 ethertype, not that the program looks
    LIBBPF_OPTS(bpf_test_run_opts, run);
    run.data_in = frame.data();
    run.data_size_in = uint32_t(frame.size());
    run.repeat = 1;
    run.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    if (bpf_prog_test_run_opts(prog.get(), &run) == 0 || errno != EPERM)
        return {};
    std::string lockdown = "unknown";
    if (std::ifstream f("/sys/kernel/security/lockdown"); f)
        lockdown.assign(std::istreambuf_iterator<char>(f), {});
    while (!lockdown.empty() && lockdown.back() == '\n')
        lockdown.pop_back();
    return fmt::format("this kernel refuses BPF_PROG_RUN with live frames to root (EPERM; "
                       "/sys/kernel/security/lockdown: {}): no XDP traffic generator here",
                       lockdown);
}

} // namespace

const std::string& live_frames_refused()
{
    static const std::string why = probe();
    return why;
}

} // namespace xdpfw::test
