// SPDX-License-Identifier: GPL-2.0-only
// Namespaces, veth pairs and traffic helpers (see the header).
#include "testing/lab_netns.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <system_error>

namespace xdpfw::lab {

namespace {

constexpr const char* kNetnsDir = "/var/run/netns";
constexpr const char* kNamePrefix = "xdpfwt-";

// Registry of the namespaces this process created, readable from a signal
// handler: fixed slots, plain char arrays, a sig_atomic_t flag per slot.
constexpr int kSlots = 128;
struct Slot {
    volatile sig_atomic_t used;
    char path[128];
};
Slot g_slots[kSlots];
std::mutex g_slots_mu;

// Deleting a named namespace is exactly what `ip netns del` does: detach the
// bind mount that keeps it alive and remove the file. Both are plain
// syscalls, so this is safe in a signal handler.
void delete_ns_file(const char* path)
{
    umount2(path, MNT_DETACH);
    unlink(path);
}

void cleanup_registered() noexcept
{
    for (auto& s : g_slots) {
        if (s.used) {
            delete_ns_file(s.path);
            s.used = 0;
        }
    }
}

void on_fatal_signal(int sig)
{
    cleanup_registered();
    // SA_RESETHAND restored the default action: die the way we would have.
    raise(sig);
}

void install_cleanup_handlers()
{
    std::atexit(cleanup_registered);
    struct sigaction sa{};
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS}) {
        struct sigaction old{};
        sigaction(sig, nullptr, &old);
        if (old.sa_handler == SIG_DFL) // keep handlers someone else installed
            sigaction(sig, &sa, nullptr);
    }
}

// Namespaces of earlier runs that were killed (SIGKILL, ctest timeout).
void remove_stale_namespaces()
{
    DIR* d = opendir(kNetnsDir);
    if (d == nullptr)
        return;
    const std::regex re("xdpfwt-([0-9]+)-[0-9]+");
    while (dirent* e = readdir(d)) {
        std::cmatch m;
        if (!std::regex_match(e->d_name, m, re))
            continue;
        pid_t pid = static_cast<pid_t>(std::stol(m[1].str()));
        if (pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH))
            delete_ns_file((std::string(kNetnsDir) + "/" + e->d_name).c_str());
    }
    closedir(d);
}

// Runs before this process creates its first namespace, so an
// xdpfwt-<our pid>-* found then belongs to a dead process with a recycled pid.
void prepare_once()
{
    static std::once_flag once;
    std::call_once(once, [] {
        remove_stale_namespaces();
        install_cleanup_handlers();
    });
}

int register_ns(const std::string& path)
{
    std::lock_guard lock(g_slots_mu);
    for (int i = 0; i < kSlots; ++i) {
        if (!g_slots[i].used) {
            std::snprintf(g_slots[i].path, sizeof(g_slots[i].path), "%s", path.c_str());
            g_slots[i].used = 1;
            return i;
        }
    }
    throw std::runtime_error("more than 128 test namespaces alive at once");
}

void unregister_ns(const std::string& path)
{
    std::lock_guard lock(g_slots_mu);
    for (auto& s : g_slots)
        if (s.used && path == s.path)
            s.used = 0;
}

std::atomic<unsigned> g_counter{0};

std::string shell_quote(const std::string& s)
{
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

// Only the test ranges: a typo must not send traffic to a real network.
bool is_test_v4(const in_addr& a)
{
    const auto* b = reinterpret_cast<const uint8_t*>(&a.s_addr);
    return b[0] == 10 && b[1] == 99;
}

bool is_test_v6(const in6_addr& a)
{
    static const uint8_t net[8] = {0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0};
    return std::memcmp(a.s6_addr, net, sizeof(net)) == 0;
}

struct SockAddr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_UNSPEC;
};

SockAddr test_sockaddr(const std::string& addr, uint16_t port)
{
    SockAddr out;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out.ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
    if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
        if (!is_test_v4(v4->sin_addr))
            throw std::invalid_argument("address " + addr + " is outside the test range 10.99.0.0/16");
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        out.len = sizeof(*v4);
        out.family = AF_INET;
    } else if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
        if (!is_test_v6(v6->sin6_addr))
            throw std::invalid_argument("address " + addr + " is outside the test range fd00:99::/64");
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        out.len = sizeof(*v6);
        out.family = AF_INET6;
    } else {
        throw std::invalid_argument("\"" + addr + "\" is not an IPv4 or IPv6 address");
    }
    return out;
}

[[noreturn]] void throw_errno(const std::string& what)
{
    throw std::system_error(errno, std::generic_category(), what);
}

// Waits up to `left` for fd to become readable; false on timeout.
bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
        return false;
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(left.count())) > 0;
}

} // namespace

CmdResult run(const std::string& cmd)
{
    CmdResult r;
    FILE* f = popen(("( " + cmd + " ) 2>&1").c_str(), "r");
    if (f == nullptr) {
        r.output = std::string("popen: ") + std::strerror(errno);
        return r;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        r.output.append(buf, n);
    int st = pclose(f);
    r.status = (st >= 0 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string run_checked(const std::string& cmd)
{
    CmdResult r = run(cmd);
    if (!r.ok())
        throw std::runtime_error(fmt::format("command failed (status {}): {}\n{}", r.status, cmd,
                                             r.output));
    return r.output;
}

NetNs::NetNs()
{
    name_ = fmt::format("{}{}-{}", kNamePrefix, getpid(), g_counter.fetch_add(1));
    const std::string p = path();
    prepare_once();
    run_checked("ip netns add " + name_);
    register_ns(p);
    fd_ = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
        int err = errno;
        delete_ns_file(p.c_str());
        unregister_ns(p);
        throw std::system_error(err, std::generic_category(), "open " + p);
    }
    try {
        run_checked(fmt::format("ip -n {} link set lo up", name_));
    } catch (...) {
        ::close(fd_);
        delete_ns_file(p.c_str());
        unregister_ns(p);
        throw;
    }
}

NetNs::~NetNs()
{
    if (fd_ >= 0)
        ::close(fd_);
    const std::string p = path();
    delete_ns_file(p.c_str());
    unregister_ns(p);
}

CmdResult run_in(const NetNs& ns, const std::string& cmd)
{
    return run(fmt::format("nsenter --net={} sh -c {}", ns.path(), shell_quote(cmd)));
}

std::string run_in_checked(const NetNs& ns, const std::string& cmd)
{
    return run_checked(fmt::format("nsenter --net={} sh -c {}", ns.path(), shell_quote(cmd)));
}

EnterNetns::EnterNetns(const NetNs& ns)
{
    back_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (back_ < 0)
        throw_errno("open /proc/thread-self/ns/net");
    if (setns(ns.fd(), CLONE_NEWNET) != 0) {
        int err = errno;
        ::close(back_);
        throw std::system_error(err, std::generic_category(), "setns " + ns.name());
    }
}

EnterNetns::~EnterNetns()
{
    // Failing to return would leave the thread in a test namespace; every
    // later test would run in the wrong place, so stop here.
    if (setns(back_, CLONE_NEWNET) != 0)
        std::abort();
    ::close(back_);
}

int ifindex_in(const NetNs& ns, const std::string& ifname)
{
    EnterNetns in(ns);
    unsigned idx = if_nametoindex(ifname.c_str());
    if (idx == 0)
        throw std::runtime_error(fmt::format("no interface {} in {}", ifname, ns.name()));
    return static_cast<int>(idx);
}

int socket_in(const NetNs& ns, int domain, int type, int protocol)
{
    EnterNetns in(ns);
    int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        throw_errno("socket in " + ns.name());
    return fd;
}

VethPair::VethPair(VethEnd a, VethEnd b) : a_(std::move(a)), b_(std::move(b))
{
    if (a_.ns == nullptr || b_.ns == nullptr)
        throw std::invalid_argument("veth pair: both ends need a test namespace");
    if (a_.ifname.empty() || a_.ifname.size() >= IF_NAMESIZE || b_.ifname.empty() ||
        b_.ifname.size() >= IF_NAMESIZE)
        throw std::invalid_argument(fmt::format(
            "veth pair: interface names \"{}\", \"{}\" must have 1..15 characters", a_.ifname,
            b_.ifname));
    for (const VethEnd* e : {&a_, &b_}) {
        if (!e->ipv4.empty())
            test_sockaddr(e->ipv4, 0); // throws outside 10.99.0.0/16
        if (!e->ipv6.empty())
            test_sockaddr(e->ipv6, 0);
    }
    // Locally administered MACs, unique per pair in this process.
    unsigned n = g_counter.fetch_add(1);
    mac_a_ = fmt::format("02:99:{:02x}:{:02x}:{:02x}:01", (getpid() >> 8) & 0xff, getpid() & 0xff,
                         n & 0xff);
    mac_b_ = mac_a_.substr(0, mac_a_.size() - 2) + "02";

    // Created directly in the namespaces: no moment in the root namespace.
    run_checked(fmt::format("ip link add {} address {} netns {} type veth peer name {} address {} "
                            "netns {}",
                            a_.ifname, mac_a_, a_.ns->name(), b_.ifname, mac_b_, b_.ns->name()));
    try {
        auto setup = [](const VethEnd& self, const VethEnd& peer, const std::string& peer_mac) {
            const std::string& ns = self.ns->name();
            // Neighbour discovery answers must not be needed, and router
            // advertisements must not add addresses behind the test's back.
            run_checked(fmt::format("nsenter --net={} sysctl -qw net.ipv6.conf.{}.accept_ra=0",
                                    self.ns->path(), self.ifname));
            if (!self.ipv4.empty())
                run_checked(fmt::format("ip -n {} addr add {}/24 dev {}", ns, self.ipv4, self.ifname));
            if (!self.ipv6.empty())
                run_checked(fmt::format("ip -n {} addr add {}/64 dev {} nodad", ns, self.ipv6,
                                        self.ifname));
            run_checked(fmt::format("ip -n {} link set {} up", ns, self.ifname));
            if (!peer.ipv4.empty())
                run_checked(fmt::format("ip -n {} neigh replace {} lladdr {} dev {} nud permanent",
                                        ns, peer.ipv4, peer_mac, self.ifname));
            if (!peer.ipv6.empty())
                run_checked(fmt::format("ip -n {} neigh replace {} lladdr {} dev {} nud permanent",
                                        ns, peer.ipv6, peer_mac, self.ifname));
        };
        setup(a_, b_, mac_b_);
        setup(b_, a_, mac_a_);
        ifindex_a_ = ifindex_in(*a_.ns, a_.ifname);
        ifindex_b_ = ifindex_in(*b_.ns, b_.ifname);
    } catch (...) {
        run(fmt::format("ip -n {} link del {}", a_.ns->name(), a_.ifname));
        throw;
    }
}

VethPair::~VethPair()
{
    // Deleting one end deletes both. Fails harmlessly if the namespace is
    // already gone (its veths went with it).
    run(fmt::format("ip -n {} link del {} 2>/dev/null", a_.ns->name(), a_.ifname));
}

UdpReceiver::UdpReceiver(const NetNs& ns, const std::string& addr, uint16_t port)
{
    SockAddr sa = test_sockaddr(addr, port);
    fd_ = socket_in(ns, sa.family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa.ss), sa.len) != 0) {
        int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(),
                                fmt::format("bind udp {} port {} in {}", addr, port, ns.name()));
    }
}

UdpReceiver::~UdpReceiver()
{
    ::close(fd_);
}

size_t UdpReceiver::receive(size_t want, std::chrono::milliseconds wait)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    size_t got = 0;
    char buf[2048];
    while (got < want) {
        ssize_t n = recv(fd_, buf, sizeof(buf), 0);
        if (n >= 0) {
            ++got;
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            throw_errno("recv udp");
        if (!wait_readable(fd_, deadline))
            break;
    }
    return got;
}

size_t send_udp(const NetNs& from, const std::string& dst, uint16_t port, size_t count, size_t size)
{
    SockAddr sa = test_sockaddr(dst, port);
    int fd = socket_in(from, sa.family, SOCK_DGRAM, 0);
    std::string payload(size, 'x');
    size_t sent = 0;
    for (size_t i = 0; i < count; ++i) {
        if (sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa.ss),
                   sa.len) == static_cast<ssize_t>(payload.size()))
            ++sent;
    }
    ::close(fd);
    return sent;
}

TcpListener::TcpListener(const NetNs& ns, const std::string& addr, uint16_t port)
{
    SockAddr sa = test_sockaddr(addr, port);
    fd_ = socket_in(ns, sa.family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa.ss), sa.len) != 0 || listen(fd_, 16) != 0) {
        int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(),
                                fmt::format("listen tcp {} port {} in {}", addr, port, ns.name()));
    }
}

TcpListener::~TcpListener()
{
    ::close(fd_);
}

size_t TcpListener::accept_pending()
{
    size_t n = 0;
    for (;;) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0)
            break;
        ::close(c);
        ++n;
    }
    return n;
}

const char* tcp_outcome_name(TcpOutcome o)
{
    switch (o) {
    case TcpOutcome::connected: return "connected";
    case TcpOutcome::refused: return "refused";
    case TcpOutcome::timed_out: return "timed_out";
    }
    return "unknown";
}

TcpOutcome tcp_connect(const NetNs& from, const std::string& dst, uint16_t port,
                       std::chrono::milliseconds timeout)
{
    SockAddr sa = test_sockaddr(dst, port);
    int fd = socket_in(from, sa.family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    TcpOutcome out = TcpOutcome::timed_out;
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa.ss), sa.len);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, static_cast<int>(timeout.count())) > 0) {
            socklen_t len = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        } else {
            err = ETIMEDOUT;
        }
    }
    if (err == 0)
        out = TcpOutcome::connected;
    else if (err == ECONNREFUSED)
        out = TcpOutcome::refused;
    ::close(fd);
    return out;
}

int ping(const NetNs& from, const std::string& dst, int count)
{
    test_sockaddr(dst, 0); // refuses addresses outside the test ranges
    CmdResult r = run_in(from, fmt::format("ping -n -q -c {} -i 0.2 -W 1 {}", count, dst));
    std::smatch m;
    static const std::regex re("([0-9]+) received");
    if (!std::regex_search(r.output, m, re))
        throw std::runtime_error(fmt::format("ping {} from {}: unexpected output: {}", dst,
                                             from.name(), r.output));
    return std::stoi(m[1].str());
}

UdpFrameCounter::UdpFrameCounter(const NetNs& ns, const std::string& ifname, uint16_t dport)
    : dport_(dport)
{
    int idx = ifindex_in(ns, ifname);
    fd_ = socket_in(ns, AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = idx;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
        int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(),
                                fmt::format("bind packet socket to {} in {}", ifname, ns.name()));
    }
}

UdpFrameCounter::~UdpFrameCounter()
{
    ::close(fd_);
}

size_t UdpFrameCounter::receive(size_t want, std::chrono::milliseconds wait)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    size_t got = 0;
    uint8_t buf[2048];
    while (got < want) {
        sockaddr_ll from{};
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                throw_errno("recv packet socket");
            if (!wait_readable(fd_, deadline))
                break;
            continue;
        }
        if (from.sll_pkttype == PACKET_OUTGOING || n < 14)
            continue;
        const uint16_t type = static_cast<uint16_t>(buf[12] << 8 | buf[13]);
        size_t l4 = 0;
        if (type == ETH_P_IP && n >= 14 + 20 && buf[14 + 9] == IPPROTO_UDP)
            l4 = 14 + static_cast<size_t>(buf[14] & 0x0f) * 4;
        else if (type == ETH_P_IPV6 && n >= 14 + 40 && buf[14 + 6] == IPPROTO_UDP)
            l4 = 14 + 40;
        if (l4 == 0 || static_cast<size_t>(n) < l4 + 8)
            continue;
        if (static_cast<uint16_t>(buf[l4 + 2] << 8 | buf[l4 + 3]) == dport_)
            ++got;
    }
    return got;
}

std::vector<std::string> live_namespaces()
{
    std::lock_guard lock(g_slots_mu);
    std::vector<std::string> out;
    for (const auto& s : g_slots)
        if (s.used)
            out.emplace_back(s.path);
    return out;
}

} // namespace xdpfw::lab
