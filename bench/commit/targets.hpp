// SPDX-License-Identifier: GPL-2.0-only
// The commit benchmark's two request paths: through xdpfwd's socket, or in
// process (the daemon's request handling minus the socket and event loop).
#pragma once

#include "bench/commit/daemon_process.hpp"
#include "lib/compiler/compiler.hpp"
#include "lib/control/commands.hpp"
#include "lib/kernel/loader.hpp"
#include "lib/kernel/policy_maps.hpp"
#include "lib/store/policy_store.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xdpfw::bench {

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
    json run(const json& request, Timings* t) override { return client_.call(request, &t->total); }

private:
    Client client_;
};

// The daemon's PolicySink, timed: compile (with the compile cache, as
// Daemon::commit) and PolicyMaps::commit measured apart.
class TimingSink : public PolicySink {
public:
    TimingSink(PolicyMaps& maps, LoadOptions lo) : maps_(maps), lo_(std::move(lo)) {}
    void commit(const Policy& policy, uint64_t version) override;
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
    // state_dir empty: no state file (shows what saving it costs). lo: the
    // object's options (table capacities).
    explicit DirectTarget(const std::string& state_dir, const LoadOptions& lo = {});
    json run(const json& request, Timings* t) override;

private:
    XdpfwObject obj_;
    PolicyMaps maps_;
    TimingSink sink_;
    PolicyStore store_;
    NoDataplane view_;
};

} // namespace xdpfw::bench
