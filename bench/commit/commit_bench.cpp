// SPDX-License-Identifier: GPL-2.0-only
// Control-plane benchmark: commit latency of one rule and time to load a
// 100k-prefix set, end to end through xdpfwd's control socket, and in process
// (compile + PolicyMaps::commit) to separate the transport. docs/BENCHMARKS.md.
#include "bench/common/prefix_mix.hpp"
#include "lib/control/commands.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/store/policy_store.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/log.hpp"
#include "lib/kernel/policy_maps.hpp"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#ifndef XDPFW_XDPFWD_PATH
#error "XDPFW_XDPFWD_PATH (the xdpfwd binary) must be defined by the build"
#endif

namespace xdpfw::bench {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string daemon = XDPFW_XDPFWD_PATH;
    std::string mode = "all";               // all, daemon, direct
    unsigned samples = 500;                 // add/del pairs per case
    std::vector<unsigned> bg_rules = {10, 1000};
    unsigned bg_set = 10000;                // prefixes in the background set
    std::vector<std::string> kinds = {"ports", "set", "prefix"};
    unsigned set_size = 100000;             // the set.load case
    unsigned set_reps = 5;
    std::string state_root;                 // where the temp dir goes (default: $TMPDIR or /tmp)
    bool direct_state = true;               // in process: save the state file as xdpfwd does
    uint64_t seed = 0x5eed0c0;
};

// SIGINT/SIGTERM: stop the daemon, so that a blocked read returns and the
// normal cleanup (pins, temp dir) runs.
volatile sig_atomic_t g_interrupted = 0;
volatile pid_t g_daemon_pid = -1;

void on_signal(int)
{
    g_interrupted = 1;
    if (g_daemon_pid > 0)
        kill(g_daemon_pid, SIGTERM);
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

// ------------------------------------------------------------------ inputs

// Rng, v4_text() and the prefix mix come from bench/common/prefix_mix.hpp
// (the micro benchmark's mix, docs/BENCHMARKS.md).

// n distinct unicast IPv4 prefixes (1.0.0.0-223.255.255.255) of the mix.
std::vector<std::string> random_prefixes(size_t n, uint64_t seed)
{
    Rng rng(seed);
    std::unordered_set<uint64_t> seen;
    std::vector<std::string> out;
    out.reserve(n);
    while (out.size() < n) {
        const V4Pfx p = random_mix_prefix(rng);
        if (seen.insert((uint64_t{p.addr} << 8) | p.len).second)
            out.push_back(v4_text(p.addr, p.len));
    }
    return out;
}

// The response r to request, or runtime_error naming the command and the
// response's error.
json checked(const json& request, json r)
{
    if (!r.value("ok", false))
        throw std::runtime_error(fmt::format("{} failed: {}", request.value("cmd", "?"),
                                             r.contains("error") ? r["error"].dump() : r.dump()));
    return r;
}

// The background: n rules, one of them `src=@bg action=drop` on the
// background set, the others distinct /32 + UDP port drops (like a list of
// blocked services), all behind the benchmark rule's priority.
json background_policy(unsigned n_rules, const std::vector<std::string>& bg_set,
                       const std::vector<std::string>* big)
{
    Rng rng(0xb9c0 + n_rules);
    json rules = json::array();
    rules.push_back("priority=50 src=@bg action=drop");
    for (unsigned i = 1; i < n_rules; i++) {
        uint32_t a = static_cast<uint32_t>(((1 + rng.below(223)) << 24) | rng.below(1u << 24));
        rules.push_back(fmt::format("priority=100 src={} proto=udp dport={} action=drop",
                                    v4_text(a, 32), 20000 + i));
    }
    json sets = {{"bg", bg_set}};
    if (big) {
        rules.push_back("priority=40 src=@big action=drop");
        sets["big"] = *big;
    }
    return {{"default", "pass"}, {"malformed", "drop"}, {"rules", rules}, {"sets", sets}};
}

// The single rule that is added and deleted, by kind: no address (only the
// scalar tables change), an address set already compiled (the address
// tables are reused), or a new literal prefix (the source address tables
// are rebuilt and written).
std::string rule_of_kind(const std::string& kind)
{
    if (kind == "ports")
        return "priority=5 proto=tcp dport=2222 action=drop";
    if (kind == "set")
        return "priority=5 src=@bg proto=tcp dport=2222 action=drop";
    if (kind == "prefix")
        return "priority=5 src=203.0.113.0/24 proto=tcp dport=2222 action=drop";
    throw std::invalid_argument("--kinds: '" + kind + "' is not ports, set or prefix");
}

// ---------------------------------------------------------------- statistics

struct Summary {
    size_t n = 0;
    double min = 0, median = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles (p99 of 500 samples is the 495th smallest).
Summary summarize(std::vector<double> v)
{
    Summary s;
    s.n = v.size();
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    auto rank = [&](double p) {
        size_t r = static_cast<size_t>(std::ceil(p / 100.0 * double(v.size())));
        return v[std::clamp<size_t>(r, 1, v.size()) - 1];
    };
    s.min = v.front();
    s.max = v.back();
    s.median = rank(50);
    s.p90 = rank(90);
    s.p99 = rank(99);
    double sum = 0;
    for (double x : v)
        sum += x;
    s.mean = sum / double(v.size());
    return s;
}

void print_header()
{
    std::printf("| %-44s | %6s | %8s | %8s | %8s | %8s | %8s |\n", "case", "n", "median", "p90",
                "p99", "max", "mean");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(),
                std::string(8, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(10, '-').c_str(),
                std::string(10, '-').c_str(), std::string(10, '-').c_str());
}

void print_row(const std::string& name, const Summary& s)
{
    std::printf("| %-44s | %6zu | %8.3f | %8.3f | %8.3f | %8.3f | %8.3f |\n", name.c_str(), s.n,
                s.median, s.p90, s.p99, s.max, s.mean);
    std::fflush(stdout);
}

// ------------------------------------------------------------ process pieces

class TempDir {
public:
    explicit TempDir(const std::string& root)
    {
        std::string tmpl = root + "/xdpfwb-XXXXXX";
        if (!mkdtemp(tmpl.data()))
            throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
        path_ = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

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

// xdpfwd in a network namespace of its own (unshare in the forked child),
// on one end of a veth pair there; the namespace and veths die with the
// daemon. Socket, state and log live in dir. The destructor stops it
// (SIGTERM, --detach-on-exit removes the pins) and removes any pins left.
class DaemonProcess {
public:
    DaemonProcess(const Options& o, const std::string& dir)
        : instance_(fmt::format("xdpfwb-{}", getpid())), socket_(dir + "/xdpfwd.sock"),
          log_(dir + "/xdpfwd.log")
    {
        if (access(o.daemon.c_str(), X_OK) != 0)
            throw std::runtime_error("daemon binary " + o.daemon + " is not executable: " +
                                     std::strerror(errno));
        const std::string state = dir + "/state";
        std::vector<std::string> args = {o.daemon,        "--instance",  instance_,
                                         "--interface",   "xdpfwb0",     "--socket",
                                         socket_,         "--state-dir", state,
                                         "--detach-on-exit", "--log-level", "info"};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);

        const pid_t parent = getpid();
        std::fflush(nullptr);
        pid_ = fork();
        if (pid_ < 0)
            throw std::system_error(errno, std::generic_category(), "fork xdpfwd");
        if (pid_ == 0) {
            // The daemon must not outlive the benchmark, even one killed by SIGKILL.
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(125);
            int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
            }
            if (unshare(CLONE_NEWNET) != 0) {
                dprintf(STDERR_FILENO, "commit bench: unshare(CLONE_NEWNET): %s\n",
                        std::strerror(errno));
                _exit(126);
            }
            if (!run_ip({"link", "set", "lo", "up"}) ||
                !run_ip({"link", "add", "xdpfwb0", "type", "veth", "peer", "name", "xdpfwb1"}) ||
                !run_ip({"link", "set", "xdpfwb0", "up"}) ||
                !run_ip({"link", "set", "xdpfwb1", "up"})) {
                dprintf(STDERR_FILENO, "commit bench: creating the veth pair failed\n");
                _exit(126);
            }
            execv(argv[0], argv.data());
            dprintf(STDERR_FILENO, "commit bench: exec %s: %s\n", argv[0], std::strerror(errno));
            _exit(127);
        }
        g_daemon_pid = pid_;
        try {
            wait_ready();
        } catch (...) {
            stop();
            throw;
        }
    }
    ~DaemonProcess() { stop(); }
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    const std::string& socket() const { return socket_; }
    const std::string& instance() const { return instance_; }
    const std::string& log() const { return log_; }

    // Stops the daemon and removes what it may have left. Returns its exit
    // status (-1 when it had to be killed or was already reaped).
    int stop()
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

    std::string log_tail() const
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

private:
    // Until a connect succeeds; fails when the daemon exits or 60 s pass
    // (loading sizes 256 MiB of tables, which takes a moment).
    void wait_ready()
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

    std::string instance_, socket_, log_;
    pid_t pid_ = -1;
};

// One connection, raw JSON lines (docs/PROTOCOL.md).
class Client {
public:
    explicit Client(const std::string& path)
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
    ~Client() { close(fd_); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends line (without its newline) and returns the response line;
    // *ms is the time from the first byte sent to the newline received.
    std::string round_trip(std::string line, double* ms)
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

    // A request that must succeed; throws with the daemon's error otherwise.
    json call(const json& request, double* ms = nullptr)
    {
        double t = 0;
        json r = json::parse(round_trip(request.dump(), &t));
        if (ms)
            *ms = t;
        return checked(request, std::move(r));
    }

private:
    std::string read_line()
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

    int fd_ = -1;
    std::string buf_;
};

// ------------------------------------------------------------ request paths

// Runs one request line and returns the response line: through the daemon,
// or in process. Timing is done by the caller around it.
struct Timings {
    double total = 0;   // request sent to response received (or execute_line)
    double compile = 0; // in process only
    double commit = 0;  // in process only: PolicyMaps::commit
};

class Target {
public:
    virtual ~Target() = default;
    virtual json run(const json& request, Timings* t) = 0;
};

class DaemonTarget : public Target {
public:
    explicit DaemonTarget(const std::string& socket) : client_(socket) {}
    json run(const json& request, Timings* t) override
    {
        return client_.call(request, &t->total);
    }

private:
    Client client_;
};

// The daemon's PolicySink, timed: compile (with the compile cache, as
// Daemon::commit) and PolicyMaps::commit measured apart.
class TimingSink : public PolicySink {
public:
    TimingSink(PolicyMaps& maps, LoadOptions lo) : maps_(maps), lo_(std::move(lo)) {}
    void commit(const Policy& policy, uint64_t version) override
    {
        auto resolve = [](const std::string& name) -> uint32_t {
            if (unsigned idx = if_nametoindex(name.c_str()))
                return idx;
            throw PolicyError("interface", name, "no such interface");
        };
        const CompileOptions o{.caps = lo_.caps, .resolve = resolve, .cache = cache_};
        auto t0 = Clock::now();
        CompiledPolicy c = compile(policy, o);
        last_compile = ms_since(t0);
        t0 = Clock::now();
        maps_.commit(c, version);
        last_commit = ms_since(t0);
    }
    double last_compile = 0, last_commit = 0;

private:
    PolicyMaps& maps_;
    LoadOptions lo_;
    std::shared_ptr<CompileCache> cache_ = make_compile_cache();
};

// The commands need a DataplaneView only for status, stats and detach,
// which the benchmark does not send.
class NoDataplane : public DataplaneView {
public:
    std::string instance() const override { return "commit-bench"; }
    std::vector<InterfaceStatus> interfaces() const override { return {}; }
    bool adopted() const override { return false; }
    double uptime_seconds() const override { return 0; }
    CounterSample rule_counter(uint32_t) const override { return {}; }
    std::vector<std::pair<std::string, CounterSample>> reason_counters() const override
    {
        return {};
    }
    std::vector<std::string> detach() override { return {}; }
};

// The same request handling as xdpfwd (execute_line on a PolicyStore that
// saves its state file) minus the socket and the event loop: a loaded,
// unattached object and a timed sink.
class DirectTarget : public Target {
public:
    // state_dir empty: no state file (shows what saving it costs).
    explicit DirectTarget(const std::string& state_dir)
        : obj_(XdpfwObject::load(LoadOptions{})), maps_(obj_), sink_(maps_, obj_.options()),
          store_(sink_, obj_.options().caps.max_rules,
                 state_dir.empty() ? std::filesystem::path()
                                   : std::filesystem::path(state_dir) / "commit-bench.json")
    {
        store_.on_rule_created = [this](uint32_t id) { maps_.reset_rule_counter(id); };
    }
    json run(const json& request, Timings* t) override
    {
        std::string line = request.dump();
        sink_.last_compile = sink_.last_commit = 0;
        bool exit_after = false;
        const auto t0 = Clock::now();
        json r = execute_line(line, store_, view_, &exit_after);
        t->total = ms_since(t0);
        t->compile = sink_.last_compile;
        t->commit = sink_.last_commit;
        return checked(request, std::move(r));
    }

private:
    XdpfwObject obj_;
    PolicyMaps maps_;
    TimingSink sink_;
    PolicyStore store_;
    NoDataplane view_;
};

// ------------------------------------------------------------------- cases

struct Results {
    // For the target summary: worst p99 of a single-rule commit (add or
    // del) through the daemon, median set.load.
    double worst_p99 = 0;
    std::string worst_case;
    double set_load_median = -1;
};

void rule_cases(Target& target, const char* path, bool direct, const Options& o,
                const std::vector<std::string>& bg_set, Results* res)
{
    uint64_t id = 1;
    for (unsigned n_rules : o.bg_rules) {
        Timings t;
        target.run({{"id", id++},
                    {"cmd", "load"},
                    {"policy", background_policy(n_rules, bg_set, nullptr)}},
                   &t);
        std::printf("\n%s: background %u rules + set of %u prefixes loaded in %.1f ms\n", path,
                    n_rules, o.bg_set, t.total);
        print_header();
        for (const std::string& kind : o.kinds) {
            const std::string text = rule_of_kind(kind);
            std::vector<double> add, del, add_compile, add_commit, del_compile, del_commit;
            // Two untimed pairs: the first commits after a load also write the
            // address tables into the other generation.
            for (unsigned i = 0; i < o.samples + 2; i++) {
                check_interrupted();
                Timings ta, td;
                json r = target.run({{"id", id++}, {"cmd", "rule.add"}, {"rule", text}}, &ta);
                const uint32_t rule_id = r.at("rule_id").get<uint32_t>();
                target.run({{"id", id++}, {"cmd", "rule.del"}, {"rule_id", rule_id}}, &td);
                if (i < 2)
                    continue;
                add.push_back(ta.total);
                del.push_back(td.total);
                add_compile.push_back(ta.compile);
                add_commit.push_back(ta.commit);
                del_compile.push_back(td.compile);
                del_commit.push_back(td.commit);
            }
            const std::string base = fmt::format("{}/{}r/{}", path, n_rules, kind);
            const Summary sa = summarize(add), sd = summarize(del);
            print_row(base + "/rule.add", sa);
            if (direct) {
                print_row("  compile", summarize(add_compile));
                print_row("  PolicyMaps::commit", summarize(add_commit));
            }
            print_row(base + "/rule.del", sd);
            if (direct) {
                print_row("  compile", summarize(del_compile));
                print_row("  PolicyMaps::commit", summarize(del_commit));
            }
            if (!direct && std::max(sa.p99, sd.p99) >= res->worst_p99) {
                res->worst_p99 = std::max(sa.p99, sd.p99);
                res->worst_case = base + (sa.p99 >= sd.p99 ? "/rule.add" : "/rule.del");
            }
        }
    }
}

void set_load_case(Target& target, const char* path, bool direct, const Options& o,
                   const std::vector<std::string>& bg_set, Results* res)
{
    const std::vector<std::string> empty;
    Timings t;
    target.run({{"id", 1}, {"cmd", "load"}, {"policy", background_policy(10, bg_set, &empty)}}, &t);
    std::printf("\n%s: set.load of %u prefixes into @big (rule src=@big action=drop; background "
                "10 rules + %u-prefix set)\n",
                path, o.set_size, o.bg_set);
    std::printf("| %-4s | %10s | %12s | %10s | %10s | %10s |\n", "rep", "total ms", "prefixes/s",
                "compile", "map commit", "rest");
    std::printf("|------|------------|--------------|------------|------------|------------|\n");
    std::vector<double> totals, compiles, commits;
    for (unsigned rep = 0; rep < o.set_reps; rep++) {
        check_interrupted();
        // A new set each time: the same contents would be a compile-cache hit.
        json req = {{"id", 100 + rep},
                    {"cmd", "set.load"},
                    {"name", "big"},
                    {"prefixes", random_prefixes(o.set_size, o.seed + 1 + rep)}};
        json r = target.run(req, &t);
        if (r.at("size").get<unsigned>() != o.set_size)
            throw std::runtime_error(fmt::format("set.load: size {} after loading {} prefixes",
                                                 r.at("size").dump(), o.set_size));
        totals.push_back(t.total);
        compiles.push_back(t.compile);
        commits.push_back(t.commit);
        if (direct)
            std::printf("| %-4u | %10.1f | %12.0f | %10.1f | %10.1f | %10.1f |\n", rep + 1, t.total,
                        o.set_size / (t.total / 1000.0), t.compile, t.commit,
                        t.total - t.compile - t.commit);
        else
            std::printf("| %-4u | %10.1f | %12.0f | %10s | %10s | %10s |\n", rep + 1, t.total,
                        o.set_size / (t.total / 1000.0), "-", "-", "-");
        std::fflush(stdout);
    }
    Summary s = summarize(totals);
    if (direct)
        std::printf("| med  | %10.1f | %12.0f | %10.1f | %10.1f | %10.1f |\n", s.median,
                    o.set_size / (s.median / 1000.0), summarize(compiles).median,
                    summarize(commits).median,
                    s.median - summarize(compiles).median - summarize(commits).median);
    else {
        std::printf("| med  | %10.1f | %12.0f | %10s | %10s | %10s |\n", s.median,
                    o.set_size / (s.median / 1000.0), "-", "-", "-");
        res->set_load_median = s.median;
    }
}

std::vector<unsigned> parse_counts(const std::string& flag, const std::string& text)
{
    std::vector<unsigned> out;
    std::stringstream ss(text);
    for (std::string item; std::getline(ss, item, ',');) {
        size_t used = 0;
        unsigned long v = 0;
        try {
            v = std::stoul(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || v == 0 || v > 4000)
            throw std::invalid_argument(flag + ": '" + item +
                                        "' is not a rule count from 1 to 4000");
        out.push_back(unsigned(v));
    }
    if (out.empty())
        throw std::invalid_argument(flag + ": expected a comma-separated list of rule counts");
    return out;
}

int run(int argc, char** argv)
{
    Options o;
    const char* tmp = std::getenv("TMPDIR");
    o.state_root = tmp && *tmp ? tmp : "/tmp";
    CLI::App app{"xdpfw_commit_bench: control-plane commit latency and set load time"};
    std::string bg_rules = "10,1000", kinds = "ports,set,prefix";
    app.add_option("--daemon", o.daemon, "xdpfwd binary")->capture_default_str();
    app.add_option("--mode", o.mode, "all, daemon (through xdpfwd) or direct (in process)")
        ->check(CLI::IsMember({"all", "daemon", "direct"}))
        ->capture_default_str();
    app.add_option("--samples", o.samples, "rule.add/rule.del pairs per case")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--bg-rules", bg_rules, "background rule counts, comma-separated")
        ->capture_default_str();
    app.add_option("--bg-set", o.bg_set, "prefixes in the background set")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--kinds", kinds, "single-rule kinds: ports, set, prefix")->capture_default_str();
    app.add_option("--set-size", o.set_size, "prefixes per set.load")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--set-reps", o.set_reps, "set.load repetitions (0: skip)")->capture_default_str();
    app.add_option("--state-root", o.state_root,
                   "directory for the temp dir (socket, state files, daemon log)")
        ->capture_default_str();
    app.add_option("--seed", o.seed, "seed of the random sets")->capture_default_str();
    bool no_state = false;
    app.add_flag("--no-state-file", no_state,
                 "in process: do not save the state file (xdpfwd always does)");
    try {
        app.parse(argc, argv);
        o.bg_rules = parse_counts("--bg-rules", bg_rules);
        o.direct_state = !no_state;
        o.kinds.clear();
        std::stringstream ss(kinds);
        for (std::string k; std::getline(ss, k, ',');) {
            rule_of_kind(k);
            o.kinds.push_back(k);
        }
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "xdpfw_commit_bench: %s\n", e.what());
        return 64;
    }
    if (geteuid() != 0) {
        std::fprintf(stderr, "xdpfw_commit_bench: needs root (BPF maps, network namespace)\n");
        return 77;
    }
    init_logging(spdlog::level::warn);

    struct sigaction sa{};
    sa.sa_handler = on_signal; // no SA_RESTART: a blocked read returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    TempDir dir(o.state_root);
    std::printf("xdpfw_commit_bench: samples=%u bg_set=%u set_size=%u set_reps=%u state in %s\n",
                o.samples, o.bg_set, o.set_size, o.set_reps, dir.path().c_str());
    std::printf("Times in ms. add/del cases: %u pairs each, after 2 untimed pairs.\n", o.samples);
    const std::vector<std::string> bg_set = random_prefixes(o.bg_set, o.seed);
    Results res;

    if (o.mode != "direct") {
        DaemonProcess d(o, dir.path());
        std::printf("\nxdpfwd %s: instance %s, veth xdpfwb0 in a private netns, log %s\n",
                    o.daemon.c_str(), d.instance().c_str(), d.log().c_str());
        try {
            DaemonTarget t(d.socket());
            rule_cases(t, "daemon", false, o, bg_set, &res);
            if (o.set_reps)
                set_load_case(t, "daemon", false, o, bg_set, &res);
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string(e.what()) + "\nxdpfwd log " + d.log() + ":\n" +
                                     d.log_tail());
        }
        int code = d.stop();
        if (code != 0)
            throw std::runtime_error(fmt::format("xdpfwd exited with status {}; log:\n{}", code,
                                                 d.log_tail()));
    }
    if (o.mode != "daemon") {
        const std::string state = o.direct_state ? dir.path() + "/direct" : "";
        if (!state.empty())
            std::filesystem::create_directories(state);
        DirectTarget t(state);
        std::printf("\nIn process (execute_line -> PolicyStore -> compile + PolicyMaps::commit), "
                    "%s\n",
                    state.empty() ? "no state file" : ("state file in " + state).c_str());
        rule_cases(t, "direct", true, o, bg_set, &res);
        if (o.set_reps)
            set_load_case(t, "direct", true, o, bg_set, &res);
    }

    if (o.mode != "direct") {
        std::printf("\nTargets (reported, not asserted):\n");
        std::printf("  one rule, p99 < 5 ms: worst p99 %.3f ms (%s): %s\n", res.worst_p99,
                    res.worst_case.c_str(), res.worst_p99 < 5 ? "met" : "MISSED");
        if (res.set_load_median >= 0)
            std::printf("  %u prefixes live < 1 s: median %.1f ms: %s\n", o.set_size,
                        res.set_load_median, res.set_load_median < 1000 ? "met" : "MISSED");
    }
    return 0;
}

} // namespace
} // namespace xdpfw::bench

int main(int argc, char** argv)
{
    try {
        return xdpfw::bench::run(argc, argv);
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "xdpfw_commit_bench: %s\n", e.what());
        return 1;
    }
}
