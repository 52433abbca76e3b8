// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd's capability check: which capabilities a configuration needs on
// this kernel (found by experiment, docs/DAEMON.md "Privileges"), and the
// error that names each missing one.
#include "apps/xdpfwd/capabilities.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace xdpfw {

namespace {

constexpr std::array<std::pair<int, const char*>, 8> kNames = {{
    {CAP_CHOWN, "CAP_CHOWN"},
    {CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"},
    {CAP_NET_ADMIN, "CAP_NET_ADMIN"},
    {CAP_NET_RAW, "CAP_NET_RAW"},
    {CAP_IPC_LOCK, "CAP_IPC_LOCK"},
    {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
    {CAP_PERFMON, "CAP_PERFMON"},
    {CAP_BPF, "CAP_BPF"},
}};

// The group the control socket is given, or -1 when it does not resolve
// (the listener reports that itself).
long socket_gid(const std::string& group)
{
    long gid = -1;
    const char* end = group.data() + group.size();
    if (auto [p, ec] = std::from_chars(group.data(), end, gid); ec == std::errc() && p == end)
        return gid;
    const struct group* g = ::getgrnam(group.c_str());
    return g != nullptr ? long(g->gr_gid) : -1;
}

// chown(2) to a group the process is not in needs CAP_CHOWN, even for root.
bool in_group(long gid)
{
    if (gid < 0 || gid_t(gid) == ::getegid())
        return true;
    std::vector<gid_t> groups(size_t(std::max(::getgroups(0, nullptr), 0)));
    const int n = ::getgroups(int(groups.size()), groups.data());
    for (int i = 0; i < n; i++)
        if (groups[size_t(i)] == gid_t(gid))
            return true;
    return false;
}

// Ports below this need CAP_NET_BIND_SERVICE (a per-namespace sysctl).
unsigned unprivileged_port_start()
{
    std::ifstream in("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    unsigned port = 1024;
    in >> port;
    return in ? port : 1024;
}

} // namespace

ProcessPrivileges ProcessPrivileges::current()
{
    ProcessPrivileges p;
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
    if (::syscall(SYS_capget, &hdr, data.data()) != 0)
        throw std::runtime_error(fmt::format("xdpfwd: cannot read its capabilities (capget): {}",
                                             std::strerror(errno)));
    p.effective = uint64_t(data[0].effective) | uint64_t(data[1].effective) << 32;
    rlimit lim{};
    p.memlock_unlimited = ::getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur == RLIM_INFINITY;
    return p;
}

std::string capability_name(int cap)
{
    for (const auto& [n, name] : kNames)
        if (n == cap)
            return name;
    return fmt::format("CAP_{}", cap);
}

std::vector<CapabilityNeed> required_capabilities(const DaemonConfig& c, const ProcessPrivileges& p)
{
    // CAP_SYS_ADMIN and not CAP_BPF + CAP_PERFMON: the daemon reopens its
    // table pages and pinned maps by id (BPF_MAP_GET_FD_BY_ID), which the
    // kernel allows only with CAP_SYS_ADMIN; CAP_SYS_ADMIN also passes
    // every check CAP_BPF and CAP_PERFMON would (bpf_capable(),
    // perfmon_capable()), so they add nothing beside it.
    std::vector<CapabilityNeed> need = {
        {CAP_SYS_ADMIN, "loading the BPF program and maps and reopening them by id "
                        "(BPF_MAP_GET_FD_BY_ID); CAP_BPF and CAP_PERFMON are not enough"},
        {CAP_NET_ADMIN, "attaching the XDP program to the interfaces"},
    };
    if (c.xsk_enabled) {
        need.push_back({CAP_NET_RAW, "AF_XDP sockets, needed with --xsk"});
        if (!p.memlock_unlimited)
            need.push_back({CAP_IPC_LOCK, "the AF_XDP UMEM with --xsk, charged to RLIMIT_MEMLOCK "
                                          "without it; or set the limit to unlimited"});
    }
    if (!c.socket_group.empty() && !in_group(socket_gid(c.socket_group)))
        need.push_back({CAP_CHOWN, fmt::format("giving the control socket to group {}",
                                               c.socket_group)});
    if (c.metrics && c.metrics->port < unprivileged_port_start())
        need.push_back({CAP_NET_BIND_SERVICE,
                        fmt::format("the metrics endpoint on port {}", c.metrics->port)});
    return need;
}

std::vector<CapabilityNeed> missing_capabilities(const DaemonConfig& c, const ProcessPrivileges& p)
{
    std::vector<CapabilityNeed> missing;
    for (auto& n : required_capabilities(c, p))
        if ((p.effective >> n.cap & 1) == 0)
            missing.push_back(std::move(n));
    return missing;
}

std::string missing_capabilities_message(const std::vector<CapabilityNeed>& missing)
{
    if (missing.empty())
        return {};
    std::string text = "xdpfwd: missing capabilities: ";
    for (size_t i = 0; i < missing.size(); i++)
        text += fmt::format("{}{} ({})", i ? ", " : "", capability_name(missing[i].cap),
                            missing[i].why);
    return text;
}

void check_capabilities(const DaemonConfig& c)
{
    const std::string text = missing_capabilities_message(missing_capabilities(c, ProcessPrivileges::current()));
    if (!text.empty())
        throw std::runtime_error(text);
}

} // namespace xdpfw
