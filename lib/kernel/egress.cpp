// SPDX-License-Identifier: GPL-2.0-only
// attach_egress/detach_egress: libbpf's tc hooks on clsact egress.
#include "lib/kernel/egress.hpp"

#include <xdpfw/abi.h>

#include "xdpfw_bpf.skel.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

namespace xdpfw {

namespace {

// Our filter's place on the hook: a handle and priority of our own, so a
// replace or detach never touches another's filter.
constexpr uint32_t kHandle = 0x7866, kPriority = 0xc7c7;

bpf_tc_hook egress_hook(int ifindex)
{
    bpf_tc_hook h{};
    h.sz = sizeof(h);
    h.ifindex = ifindex;
    h.attach_point = BPF_TC_EGRESS;
    return h;
}

bpf_tc_opts our_filter()
{
    bpf_tc_opts o{};
    o.sz = sizeof(o);
    o.handle = kHandle;
    o.priority = kPriority;
    return o;
}

} // namespace

void attach_egress(const XdpfwObject& obj, int ifindex)
{
    bpf_tc_hook hook = egress_hook(ifindex);
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST)
        throw BpfError(-err, "add clsact qdisc for the ct egress program (ifindex " +
                                 std::to_string(ifindex) + ")");
    bpf_tc_opts o = our_filter();
    o.prog_fd = bpf_program__fd(obj.skel()->progs.xdpfw_ct_egress);
    o.flags = BPF_TC_F_REPLACE;
    err = bpf_tc_attach(&hook, &o);
    if (err)
        throw BpfError(-err, "attach the ct egress program (ifindex " + std::to_string(ifindex) +
                                 ")");
}

void detach_egress(int ifindex)
{
    bpf_tc_hook hook = egress_hook(ifindex);
    bpf_tc_opts o = our_filter();
    const int err = bpf_tc_detach(&hook, &o);
    if (err && err != -ENOENT && err != -EINVAL && err != -ENODEV)
        throw BpfError(-err, "detach the ct egress program (ifindex " + std::to_string(ifindex) +
                                 ")");
}

uint32_t egress_prog_id(int ifindex)
{
    bpf_tc_hook hook = egress_hook(ifindex);
    bpf_tc_opts o = our_filter();
    return bpf_tc_query(&hook, &o) == 0 ? o.prog_id : 0;
}

} // namespace xdpfw
