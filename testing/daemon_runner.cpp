// SPDX-License-Identifier: GPL-2.0-only
// Spawning, reaching, killing and cleaning up a real xdpfwd for the tests.
#include "testing/daemon_runner.hpp"
#include "testing/spawn.hpp"

#include "apps/xdpfwctl/cli.hpp"
#include "lib/kernel/attach.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace xdpfw::test {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::atomic<unsigned> g_daemon_counter{0};

int ms_left(Clock::time_point deadline)
{
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? int(left.count()) : 0;
}

std::string exit_text(int status)
{
    if (WIFEXITED(status))
        return fmt::format("exited with status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return fmt::format("killed by signal {}", WTERMSIG(status));
    return fmt::format("wait status {}", status);
}

struct Addr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_UNSPEC;
};

// Only the test ranges (10.99.0.0/16, fd00:99::/64): a typo must not send
// traffic anywhere real.
Addr test_addr(const std::string& text, uint16_t port)
{
    Addr a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    static const uint8_t net6[8] = {0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0};
    if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        const auto* b = reinterpret_cast<const uint8_t*>(&v4->sin_addr.s_addr);
        if (b[0] != 10 || b[1] != 99)
            throw std::invalid_argument("address " + text +
                                        " is outside the test range 10.99.0.0/16");
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len = sizeof(*v4);
        a.family = AF_INET;
    } else if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
        if (std::memcmp(v6->sin6_addr.s6_addr, net6, sizeof(net6)) != 0)
            throw std::invalid_argument("address " + text +
                                        " is outside the test range fd00:99::/64");
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len = sizeof(*v6);
        a.family = AF_INET6;
    } else {
        throw std::invalid_argument("\"" + text + "\" is not an IPv4 or IPv6 address");
    }
    return a;
}

std::string addr_text(const sockaddr_storage& ss)
{
    char buf[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf,
                  sizeof(buf));
    return buf;
}

void collect_ids(const nlohmann::json& j, std::vector<uint32_t>& out)
{
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            if (it.key() == "id" && it->is_number_unsigned())
                out.push_back(it->get<uint32_t>());
            else
                collect_ids(*it, out);
        }
    } else if (j.is_array()) {
        for (const auto& e : j)
            collect_ids(e, out);
    }
}

} // namespace

nlohmann::json CtlResult::json() const
{
    try {
        return nlohmann::json::parse(out);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(fmt::format("xdpfwctl output is not JSON ({}): {}\nstderr: {}",
                                             e.what(), out, err));
    }
}

// ---------------------------------------------------------------- connection

ControlConnection::ControlConnection(const std::string& socket_path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(addr.sun_path))
        throw std::invalid_argument("socket path too long: " + socket_path);
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX)");
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "connect " + socket_path);
    }
}

ControlConnection::~ControlConnection()
{
    ::close(fd_);
}

bool ControlConnection::send(const std::string& data)
{
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += size_t(n);
    }
    return true;
}

std::optional<std::string> ControlConnection::read_line(std::chrono::milliseconds wait)
{
    const auto deadline = Clock::now() + wait;
    for (;;) {
        if (auto nl = buf_.find('\n'); nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return line;
        }
        if (eof_)
            return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, ms_left(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return std::nullopt;
        char chunk[65536];
        ssize_t n = ::read(fd_, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) // EOF, or ECONNRESET from a daemon that closed with data unread
            eof_ = true;
        else
            buf_.append(chunk, size_t(n));
    }
}

bool ControlConnection::closed_by_peer(std::chrono::milliseconds wait)
{
    const auto deadline = Clock::now() + wait;
    while (!eof_) {
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, ms_left(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        char chunk[65536];
        ssize_t n = ::read(fd_, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            eof_ = true;
        else
            buf_.append(chunk, size_t(n));
    }
    return true;
}

// ---------------------------------------------------------------- daemon

DaemonProcess::DaemonProcess(DaemonOptions opts) : opts_(std::move(opts))
{
    if (opts_.ns == nullptr || opts_.interfaces.empty() || opts_.xdpfwd.empty())
        throw std::invalid_argument(
            "DaemonProcess: needs the xdpfwd path, a namespace and an interface");
    instance_ = fmt::format("xdpfwt-{}-d{}", getpid(), g_daemon_counter.fetch_add(1));
    std::string tmpl = "/tmp/xdpfwd-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    dir_ = tmpl;
    // Other users must reach the socket file for the peer-credential test.
    ::chmod(dir_.c_str(), 0755);
    socket_ = dir_ + "/ctl.sock";
    state_dir_ = dir_ + "/state";
    try {
        if (opts_.autostart)
            start();
    } catch (...) {
        cleanup();
        throw;
    }
}

DaemonProcess::~DaemonProcess()
{
    cleanup();
}

std::string DaemonProcess::pin_dir() const
{
    return instance_pin_dir(instance_);
}

std::string DaemonProcess::log() const
{
    std::ifstream in(log_path());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void DaemonProcess::start(std::chrono::milliseconds timeout)
{
    start_with({}, timeout);
}

std::vector<std::string> DaemonProcess::command(const std::vector<std::string>& more) const
{
    std::vector<std::string> args = {"nsenter", "--net=" + opts_.ns->path()};
    args.insert(args.end(), opts_.wrapper.begin(), opts_.wrapper.end());
    for (const std::string& a : {opts_.xdpfwd, std::string("--instance"), instance_,
                                 std::string("--socket"), socket_, std::string("--state-dir"),
                                 state_dir_, std::string("--lock-dir"), lock_dir(),
                                 std::string("--log-level"), std::string("debug")})
        args.push_back(a);
    for (const auto& i : opts_.interfaces) {
        args.push_back("--interface");
        args.push_back(i);
    }
    args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

int DaemonProcess::run_to_exit(std::chrono::milliseconds timeout)
{
    if (running())
        throw std::logic_error("xdpfwd " + instance_ + " is already running");
    const std::vector<std::string> args = command({});
    pid_ = spawn_logged(args, log_path(), false, "xdpfwd");
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return status;
        }
        if (r < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "waitpid xdpfwd");
        if (Clock::now() >= deadline) {
            kill();
            throw std::runtime_error(fmt::format("xdpfwd {} still ran after {} ms; log:\n{}",
                                                 instance_, timeout.count(), log()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void DaemonProcess::start_with(const std::vector<std::string>& more,
                               std::chrono::milliseconds timeout)
{
    if (running())
        throw std::logic_error("xdpfwd " + instance_ + " is already running");
    std::vector<std::string> args = command(more);
    {
        std::ofstream mark(log_path(), std::ios::app);
        mark << "---- test: starting xdpfwd:";
        for (const auto& a : args)
            mark << " " << a;
        mark << "\n";
    }
    const pid_t pid = spawn_logged(args, log_path(), false, "xdpfwd");
    pid_ = pid;

    const auto deadline = Clock::now() + timeout;
    std::string last_error = "no attempt";
    while (Clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error(fmt::format("xdpfwd {} {} before answering status; log:\n{}",
                                                 instance_, exit_text(status), log()));
        }
        try {
            ControlConnection c(socket_);
            if (c.send(R"({"id":1,"cmd":"status"})"
                       "\n")) {
                if (auto line = c.read_line(std::chrono::seconds(2))) {
                    json r = json::parse(*line);
                    if (r.value("ok", false))
                        return;
                    last_error = *line;
                }
            }
        } catch (const std::exception& e) {
            last_error = e.what();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill();
    throw std::runtime_error(fmt::format(
        "xdpfwd {} did not answer status within {} ms ({}); log:\n{}", instance_,
        timeout.count(), last_error, log()));
}

void DaemonProcess::kill()
{
    if (!running())
        return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
}

int DaemonProcess::terminate(std::chrono::milliseconds timeout)
{
    if (!running())
        throw std::logic_error("xdpfwd " + instance_ + " is not running");
    ::kill(pid_, SIGTERM);
    if (auto code = wait_exit(timeout))
        return *code;
    kill();
    throw std::runtime_error(fmt::format("xdpfwd {} ignored SIGTERM for {} ms; log:\n{}", instance_,
                                         timeout.count(), log()));
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout)
{
    if (!running())
        throw std::logic_error("xdpfwd " + instance_ + " is not running");
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (r < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "waitpid xdpfwd");
        if (Clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

json DaemonProcess::request(const json& req)
{
    ControlConnection c(socket_);
    if (!c.send(req.dump() + "\n"))
        throw std::runtime_error("xdpfwd closed the connection before the request was sent");
    auto line = c.read_line(std::chrono::seconds(60));
    if (!line)
        throw std::runtime_error("no answer from xdpfwd to " + req.dump() + "; log:\n" + log());
    return json::parse(*line);
}

json DaemonProcess::checked(const json& req)
{
    json r = request(req);
    if (!r.value("ok", false))
        throw std::runtime_error("xdpfwd refused " + req.dump() + ": " + r.dump());
    return r;
}

uint64_t DaemonProcess::version()
{
    return checked({{"cmd", "status"}}).at("version").get<uint64_t>();
}

uint64_t DaemonProcess::rule_packets(uint32_t rule_id)
{
    json stats = checked({{"cmd", "stats"}});
    for (const auto& r : stats.at("rules"))
        if (r.at("id").get<uint32_t>() == rule_id)
            return r.at("packets").get<uint64_t>();
    throw std::runtime_error(fmt::format("no rule {} in stats: {}", rule_id, stats.dump()));
}

CtlResult DaemonProcess::ctl(const std::vector<std::string>& args)
{
    std::vector<std::string> all = {"--socket", socket_};
    all.insert(all.end(), args.begin(), args.end());
    return run_ctl(all);
}

CtlResult run_ctl(const std::vector<std::string>& args)
{
    std::vector<std::string> all = {"xdpfwctl"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::ostringstream out, err;
    CtlResult r;
    r.code = ctl::run_xdpfwctl(int(all.size()), argv.data(), out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
}

void DaemonProcess::cleanup() noexcept
{
    kill();
    // A killed daemon leaves its program attached (by design); take off
    // every xdpfw program, whoever attached it, and the instance's pins.
    try {
        EnterNetns in(*opts_.ns);
        for (const auto& name : opts_.interfaces)
            if (unsigned idx = if_nametoindex(name.c_str()))
                detach_all(int(idx));
    } catch (const std::exception& e) {
        std::cerr << "daemon_runner: detach on " << instance_ << ": " << e.what() << "\n";
    }
    try {
        remove_pin_dir(pin_dir());
    } catch (const std::exception& e) {
        std::cerr << "daemon_runner: remove pins of " << instance_ << ": " << e.what() << "\n";
    }
    std::error_code ec;
    if (!dir_.empty())
        std::filesystem::remove_all(dir_, ec);
}

// ---------------------------------------------------------------- lab

DaemonLab::DaemonLab(const std::string& xdpfwd, std::vector<std::string> extra_args)
    : link({&dut, "dut0", dut4, dut6}, {&peer, "peer0", peer4, peer6}),
      daemon([&] {
          // The second source exists before the daemon starts, so nothing
          // the test sends depends on timing against it.
          run_checked(fmt::format("ip -n {} addr add {}/24 dev peer0", peer.name(), peer4_second));
          DaemonOptions o;
          o.xdpfwd = xdpfwd;
          o.ns = &dut;
          o.interfaces = {"dut0"};
          o.extra_args = std::move(extra_args);
          return o;
      }())
{
}

std::vector<uint32_t> xdp_prog_ids(const NetNs& ns, const std::string& ifname)
{
    nlohmann::json links =
        nlohmann::json::parse(run_in_checked(ns, "ip -j link show dev " + ifname));
    std::vector<uint32_t> ids;
    for (const auto& l : links)
        if (auto it = l.find("xdp"); it != l.end())
            collect_ids(*it, ids);
    return ids;
}

// ---------------------------------------------------------------- traffic

UdpStream::UdpStream(const NetNs& ns, const std::string& src, const std::string& dst,
                     uint16_t port, std::chrono::microseconds interval)
{
    Addr to = test_addr(dst, port);
    fd_ = socket_in(ns, to.family, SOCK_DGRAM, 0);
    if (!src.empty()) {
        Addr from = test_addr(src, 0);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&from.ss), from.len) != 0) {
            int err = errno;
            ::close(fd_);
            throw std::system_error(err, std::generic_category(),
                                    fmt::format("bind udp sender to {} in {}", src, ns.name()));
        }
    }
    const int on = 1;
    if (to.family == AF_INET6)
        ::setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof(on));
    else
        ::setsockopt(fd_, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
    thread_ = std::thread([this, to, interval] {
        const std::string payload(64, 's');
        auto next = Clock::now();
        while (!stop_) {
            if (::sendto(fd_, payload.data(), payload.size(), 0,
                         reinterpret_cast<const sockaddr*>(&to.ss), to.len) ==
                ssize_t(payload.size()))
                ++sent_;
            else if (errno == ENOBUFS)
                ++local_drops_;
            // A fixed schedule, not a fixed sleep: the rate stays the same
            // when the machine is busy (loading the daemon).
            next += interval;
            std::this_thread::sleep_until(next);
        }
    });
}

UdpStream::~UdpStream()
{
    stop();
    ::close(fd_);
}

void UdpStream::stop()
{
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
}

UdpSink::UdpSink(const NetNs& ns, const std::string& addr, uint16_t port)
{
    Addr at = test_addr(addr, port);
    fd_ = socket_in(ns, at.family, SOCK_DGRAM, 0);
    int rcvbuf = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&at.ss), at.len) != 0) {
        int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(),
                                fmt::format("bind udp {} port {} in {}", addr, port, ns.name()));
    }
    thread_ = std::thread([this] {
        char buf[2048];
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0)
                continue;
            sockaddr_storage from{};
            socklen_t len = sizeof(from);
            ssize_t n = ::recvfrom(fd_, buf, sizeof(buf), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &len);
            if (n < 0)
                continue;
            {
                std::lock_guard lock(mu_);
                ++by_source_[addr_text(from)];
            }
            ++total_;
        }
    });
}

UdpSink::~UdpSink()
{
    stop_ = true;
    if (thread_.joinable())
        thread_.join();
    ::close(fd_);
}

size_t UdpSink::from(const std::string& src) const
{
    std::lock_guard lock(mu_);
    auto it = by_source_.find(src);
    return it == by_source_.end() ? 0 : it->second;
}

uint64_t udp_snmp(const NetNs& ns, const std::string& name)
{
    // Two "Udp:" lines: the names, then the values.
    std::istringstream in(run_in_checked(ns, "cat /proc/net/snmp"));
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with("Udp: "))
            continue;
        std::istringstream words(line.substr(5));
        std::vector<std::string> row{std::istream_iterator<std::string>(words), {}};
        if (names.empty()) {
            names = std::move(row);
            continue;
        }
        for (size_t i = 0; i < names.size() && i < row.size(); i++)
            if (names[i] == name)
                return std::stoull(row[i]);
        return 0;
    }
    return 0;
}

size_t UdpSink::wait_for(size_t want, std::chrono::milliseconds wait) const
{
    const auto deadline = Clock::now() + wait;
    while (total_ < want && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return total_;
}

} // namespace xdpfw::test
