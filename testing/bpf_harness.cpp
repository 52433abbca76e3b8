// SPDX-License-Identifier: GPL-2.0-only
// BPF_PROG_RUN harness: one loaded program, commits, single-frame runs.
#include "testing/bpf_harness.hpp"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <net/if.h>

#include <cerrno>

namespace xdpfw::test {

namespace {
LoadOptions with_record(LoadOptions o)
{
    o.record_verdict = true;
    return o;
}
} // namespace

BpfHarness::BpfHarness(LoadOptions opts)
    : obj_(XdpfwObject::load(with_record(std::move(opts)))),
      maps_(std::make_unique<PolicyMaps>(obj_))
{
}

CompileOptions BpfHarness::compile_options() const
{
    auto resolve = [](const std::string& name) -> uint32_t {
        if (name == "test0")
            return 1; // lo: the device BPF_PROG_RUN reports as ingress
        if (unsigned idx = if_nametoindex(name.c_str()))
            return idx;
        throw PolicyError("interface", name, "no such interface");
    };
    return CompileOptions{.caps = obj_.options().caps, .resolve = resolve, .cache = cache_};
}

void BpfHarness::commit(const Policy& policy)
{
    CompiledPolicy c = compile(policy, compile_options());
    maps_->commit(c, ++version_);
    live_spec_key_ = c.spec ? c.spec->key : 0;
    spec_why_not_ = c.spec_why_not;
    // A bitmaps spec has no compiled form: Tier::specialised runs its
    // policy on the general program.
    if (tier_ == Tier::specialised && !frozen_ && c.spec && c.spec->bitmaps)
        spec_.reset();
    else if (tier_ != Tier::general && !frozen_ && c.spec && !spec_live())
        spec_.emplace(tier_ == Tier::generated ? SpecProgram::load(obj_, *c.spec)
                                               : SpecProgram::load_compiled(obj_, *c.spec));
    compiled_ = std::make_shared<const CompiledPolicy>(std::move(c));
}

RunResult BpfHarness::run(const std::vector<uint8_t>& frame)
{
    return run(frame, 0);
}

RunResult BpfHarness::run(const std::vector<uint8_t>& frame, uint32_t ingress_ifindex)
{
    const int fd = tier_ != Tier::general && spec_ ? spec_->prog_fd() : obj_.prog_fd();
    return run_program(fd, frame, 1, ingress_ifindex);
}

RunResult BpfHarness::run_program(int prog_fd, const std::vector<uint8_t>& frame, uint32_t repeat,
                                  uint32_t ingress_ifindex) const
{
    std::vector<uint8_t> out(frame.size() + 256);
    // The kernel takes the device from ctx_in (queue 0); the frame starts at
    // offset 0 and ends at its size.
    xdp_md ctx{};
    ctx.data_end = uint32_t(frame.size());
    ctx.ingress_ifindex = ingress_ifindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_out = out.data(), .data_size_in = uint32_t(frame.size()),
                .data_size_out = uint32_t(out.size()), .repeat = int(repeat));
    if (ingress_ifindex) {
        opts.ctx_in = &ctx;
        opts.ctx_size_in = sizeof(ctx);
    }
    if (bpf_prog_test_run_opts(prog_fd, &opts))
        throw BpfError(errno, "BPF_PROG_RUN");
    return RunResult{opts.retval, maps_->last_verdict()};
}

} // namespace xdpfw::test
