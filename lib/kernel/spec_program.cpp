// SPDX-License-Identifier: GPL-2.0-only
// Loading a specialised-tier program (spec_program.hpp).
#include "lib/kernel/spec_program.hpp"

#include "lib/kernel/knobs.hpp"
#include "xdpfw_bpf.skel.h"
#include "xdpfw_spec_bpf.skel.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace xdpfw {

SpecProgram SpecProgram::load(const XdpfwObject& general, const xdpfw_spec& spec)
{
    return load_form(general, spec, true);
}

SpecProgram SpecProgram::load_compiled(const XdpfwObject& general, const xdpfw_spec& spec)
{
    return load_form(general, spec, false);
}

SpecProgram SpecProgram::load_form(const XdpfwObject& general, const xdpfw_spec& spec, bool generate)
{
    if (spec.key == 0)
        throw BpfError(EINVAL, "load specialised program: the spec has no key");
    if (spec.bitmaps) {
        // No compiled form: the generated program or nothing, its
        // fallback the general program.
        if (!generate)
            throw BpfError(EINVAL, "load specialised program: a bitmaps spec has no compiled program");
        SpecProgram p(nullptr, spec.key);
        p.general_fd_ = general.prog_fd();
        p.gen_ = GeneratedProgram::load(general, spec, p.general_fd_); // throws why not
        return p;
    }
    VerifiedLoad vl;
    std::shared_ptr<xdpfw_spec_bpf> s(xdpfw_spec_bpf__open_opts(vl.open_opts()),
                                      [](xdpfw_spec_bpf* p) { xdpfw_spec_bpf__destroy(p); });
    if (!s)
        throw BpfError(errno, "open xdpfw specialised BPF object");
    set_knobs(s->rodata, general.options());
    std::memcpy(const_cast<xdpfw_spec*>(&s->rodata->cfg_spec), &spec, sizeof(spec));
    share_maps(s->obj, general.skel(), /*with_bss=*/true);
    vl.load([&] { return xdpfw_spec_bpf__load(s.get()); }, "load xdpfw specialised BPF program");
    SpecProgram p(std::move(s), spec.key);
    p.why_not_ = generate ? xdpfw::generated_why_not(spec) : "not asked for";
    if (p.why_not_.empty()) {
        // A generated program the kernel refuses would be a generator's
        // bug: the compiled program still serves the policy, and status
        // says why it runs alone.
        try {
            p.gen_ = GeneratedProgram::load(general, spec, p.compiled_fd());
        } catch (const std::exception& e) {
            const std::string what = e.what();
            p.why_not_ = "the generated program failed to load: " + what.substr(0, what.find('\n'));
            spdlog::error("event=generated_load_failed key={:016x} error=\"{}\"", spec.key, what);
        }
    }
    return p;
}

int SpecProgram::prog_fd() const
{
    return gen_ ? gen_->prog_fd() : compiled_fd();
}

int SpecProgram::compiled_fd() const
{
    if (!skel_)
        return general_fd_;
    return bpf_program__fd(skel_->progs.xdpfw_main);
}

} // namespace xdpfw
