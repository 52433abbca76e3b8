// SPDX-License-Identifier: GPL-2.0-only
// The commit benchmark's process pieces: signals, temp dir, xdpfwd, client.
#include "bench/commit/daemon_process.hpp"

#include "lib/kernel/attach.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace xdpfw::bench {

volatile sig_atomic_t g_interrupted = 0;
volatile pid_t g_daemon_pid = -1;

namespace {

void on_signal(int)
{
    g_interrupted = 1;
    if (g_daemon_pid > 0)
        kill(g_daemon_pid, SIGTERM);
}

// Runs `ip ARGS...` and waits; returns false when it did not exit 0.
// Used in the daemon's child after fork, so it only forks and execs.
bool run_ip(const std::vector<const char*>& args)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>("ip"));
        for (const char* a : args)
            argv.push_back(const_cast<char*>(a));
        argv.push_back(nullptr);
        execvp("ip", argv.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The forked child: log to `log`, a private network namespace with the veth
// pair, then exec argv. Never returns.
[[noreturn]] void daemon_child(pid_t parent, const std::string& log, std::vector<char*>& argv)
{
    // The daemon must not outlive the benchmark, even one killed by SIGKILL.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(125);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    if (unshare(CLONE_NEWNET) != 0) {
        dprintf(STDERR_FILENO, "commit bench: unshare(CLONE_NEWNET): %s\n", std::strerror(errno));
        _exit(126);
    }
    if (!run_ip({"link", "set", "lo", "up"}) ||
        !run_ip({"link", "add", "xdpfwb0", "type", "veth", "peer", "name", "xdpfwb1"}) ||
        !run_ip({"link", "set", "xdpfwb0", "up"}) || !run_ip({"link", "set", "xdpfwb1", "up"})) {
        dprintf(STDERR_FILENO, "commit bench: creating the veth pair failed\n");
        _exit(126);
    }
    execv(argv[0], argv.data());
    dprintf(STDERR_FILENO, "commit bench: exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
}

} // namespace

void install_signal_handlers()
{
    struct sigaction sa{};
    sa.sa_handler = on_signal; // no SA_RESTART: a blocked read returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

void check_interrupted()
{
    if (g_interrupted)
        throw std::runtime_error("interrupted");
}

double ms_since(Clock::time_point t0)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

json checked(const json& request, json r)
{
    if (!r.value("ok", false))
        throw std::runtime_error(fmt::format("{} failed: {}", request.value("cmd", "?"),
                                             r.contains("error") ? r["error"].dump() : r.dump()));
    return r;
}

TempDir::TempDir(const std::string& root)
{
    std::string tmpl = root + "/xdpfwb-XXXXXX";
    if (!mkdtemp(tmpl.data()))
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    path_ = tmpl;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

DaemonProcess::DaemonProcess(const std::string& daemon, const std::string& dir,
                             const std::string& config)
    : instance_(fmt::format("xdpfwb-{}", getpid())), socket_(dir + "/xdpfwd.sock"),
      log_(dir + "/xdpfwd.log")
{
    if (access(daemon.c_str(), X_OK) != 0)
        throw std::runtime_error("daemon binary " + daemon + " is not executable: " +
                                 std::strerror(errno));
    const std::string state = dir + "/state";
    std::vector<std::string> args = {daemon,        "--instance",  instance_,
                                     "--interface",   "xdpfwb0",     "--socket",
                                     socket_,         "--state-dir", state,
                                     "--lock-dir",    dir,
                                     "--detach-on-exit", "--log-level", "info"};
    if (!config.empty()) {
        const std::string file = dir + "/xdpfwd.yaml";
        std::ofstream out(file);
        out << config;
        if (!out.flush())
            throw std::runtime_error("cannot write " + file);
        args.push_back("--config");
        args.push_back(file);
    }
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = getpid();
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0)
        throw std::system_error(errno, std::generic_category(), "fork xdpfwd");
    if (pid_ == 0)
        daemon_child(parent, log_, argv);
    g_daemon_pid = pid_;
    try {
        wait_ready();
    } catch (...) {
        stop();
        throw;
    }
}

int DaemonProcess::stop()
{
    int code = -1;
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int status = 0;
        const auto deadline = Clock::now() + std::chrono::seconds(15);
        pid_t r = 0;
        while ((r = waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline)
            usleep(20000);
        if (r == 0) {
            std::fprintf(stderr, "commit bench: xdpfwd did not stop in 15 s; killing it\n");
            kill(pid_, SIGKILL);
            waitpid(pid_, &status, 0);
        } else if (r > 0 && WIFEXITED(status)) {
            code = WEXITSTATUS(status);
        }
        pid_ = -1;
        g_daemon_pid = -1;
    }
    try {
        if (int n = remove_pin_dir(instance_pin_dir(instance_)))
            std::fprintf(stderr, "commit bench: removed %d pins xdpfwd left behind\n", n);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "commit bench: removing the pins of %s: %s\n", instance_.c_str(),
                     e.what());
    }
    return code;
}

std::string DaemonProcess::log_tail() const
{
    std::ifstream in(log_);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);)
        lines.push_back(l);
    std::string out;
    for (size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); i++)
        out += "  " + lines[i] + "\n";
    return out;
}

// Until a connect succeeds; fails when the daemon exits or 60 s pass
// (loading sizes 256 MiB of tables, which takes a moment).
void DaemonProcess::wait_ready()
{
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
        check_interrupted();
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            g_daemon_pid = -1;
            throw std::runtime_error(fmt::format(
                "xdpfwd exited (status {}) before serving its socket; log {}:\n{}",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, log_, log_tail()));
        }
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_.c_str());
        bool ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return;
        if (Clock::now() > deadline)
            throw std::runtime_error("xdpfwd did not serve " + socket_ + " within 60 s; log " +
                                     log_ + ":\n" + log_tail());
        usleep(20000);
    }
}

Client::Client(const std::string& path)
{
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path.c_str());
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
        int err = errno;
        close(fd_);
        throw std::system_error(err, std::generic_category(), "connect " + path);
    }
}

Client::~Client() { close(fd_); }

std::string Client::round_trip(std::string line, double* ms)
{
    line += '\n';
    const auto t0 = Clock::now();
    for (size_t done = 0; done < line.size();) {
        ssize_t n = write(fd_, line.data() + done, line.size() - done);
        if (n < 0) {
            if (errno == EINTR && !g_interrupted)
                continue;
            throw std::system_error(errno, std::generic_category(), "write to xdpfwd");
        }
        done += size_t(n);
    }
    std::string out = read_line();
    *ms = ms_since(t0);
    return out;
}

json Client::call(const json& request, double* ms)
{
    double t = 0;
    json r = json::parse(round_trip(request.dump(), &t));
    if (ms)
        *ms = t;
    return checked(request, std::move(r));
}

std::string Client::read_line()
{
    for (;;) {
        if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return line;
        }
        char chunk[65536];
        ssize_t n = read(fd_, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR && !g_interrupted)
            continue;
        if (n < 0)
            throw std::system_error(errno, std::generic_category(), "read from xdpfwd");
        if (n == 0)
            throw std::runtime_error("xdpfwd closed the connection");
        buf_.append(chunk, size_t(n));
    }
}

} // namespace xdpfw::bench
