// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-apply: standalone mode. Loads a YAML rule file, attaches xdpfw to
// interfaces, prints per-rule and per-reason counters until stopped, then
// detaches (unless --keep). The daemon (xdpfwd) is the managed mode.
#include "lib/compiler/compiler.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/base/table.hpp"
#include "lib/base/version.hpp"
#include "lib/kernel/attach.hpp"
#include "lib/kernel/build_id.hpp"
#include "lib/kernel/log.hpp"
#include "lib/kernel/policy_maps.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <net/if.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <ctime>
#include <iostream>

namespace {

using namespace xdpfw;

std::string counters_table(const Policy& policy, const PolicyMaps& maps)
{
    TextTable t({"id", "prio", "action", "packets", "bytes", "rule"});
    for (size_t c : {0u, 1u, 3u, 4u})
        t.set_numeric(c);
    for (const Rule& r : policy.evaluation_order()) {
        xdpfw_counter c = maps.rule_counter(r.id);
        t.add({std::to_string(r.id), std::to_string(r.priority), action_name(r.action.type),
               group_digits(c.packets), group_digits(c.bytes), r.text});
    }
    TextTable reasons({"reason", "packets", "bytes"});
    reasons.set_numeric(1);
    reasons.set_numeric(2);
    auto rc = maps.reason_counters();
    for (uint32_t i = 0; i < XDPFW_REASON_COUNT; i++)
        if (rc[i].packets)
            reasons.add({reason_name(i), group_digits(rc[i].packets), group_digits(rc[i].bytes)});
    return t.str() + "\n" + reasons.str();
}

nlohmann::json counters_json(const Policy& policy, const PolicyMaps& maps)
{
    nlohmann::json rules = nlohmann::json::array();
    for (const Rule& r : policy.evaluation_order()) {
        xdpfw_counter c = maps.rule_counter(r.id);
        rules.push_back({{"id", r.id},
                         {"priority", r.priority},
                         {"action", action_name(r.action.type)},
                         {"packets", c.packets},
                         {"bytes", c.bytes},
                         {"rule", r.text}});
    }
    nlohmann::json reasons = nlohmann::json::object();
    auto rc = maps.reason_counters();
    for (uint32_t i = 0; i < XDPFW_REASON_COUNT; i++)
        reasons[reason_name(i)] = {{"packets", rc[i].packets}, {"bytes", rc[i].bytes}};
    return {{"rules", rules}, {"reasons", reasons}};
}

struct Args {
    std::vector<std::string> ifaces;
    std::string rules_file, mode = "auto", instance, log_level = "info";
    double interval = 1.0, duration = 0;
    bool keep = false, json = false;
    uint32_t max_rules = Capacities{}.max_rules;
};

void add_options(CLI::App& app, Args& a)
{
    app.add_option("-i,--interface", a.ifaces, "interface to attach to (repeatable)")->required();
    app.add_option("-r,--rules", a.rules_file, "YAML rule file (docs/RULES.md)")
        ->required()
        ->check(CLI::ExistingFile);
    app.add_option("-m,--mode", a.mode, "attach mode: auto (native, else generic), native, generic");
    app.add_option("--instance", a.instance,
                   "pin maps and program under /sys/fs/bpf/xdpfw/<instance>");
    app.add_option("--interval", a.interval, "seconds between counter tables (0: only at exit)");
    app.add_option("--duration", a.duration, "stop after this many seconds (0: at SIGINT/SIGTERM)");
    app.add_option("--max-rules", a.max_rules, "rule capacity (multiple of 64)");
    app.add_flag("--keep", a.keep, "leave the program attached and pinned at exit");
    app.add_flag("--json", a.json, "print the final counters as JSON on stdout");
    app.add_option("--log-level", a.log_level, "trace, debug, info, warn, error");
}

// Fresh counters for the file's rules, then its compiled form goes live.
void commit_policy(const Args& a, const Policy& policy, const LoadOptions& lo, PolicyMaps& maps)
{
    for (const Rule& r : policy.rules)
        maps.reset_rule_counter(r.id);
    auto resolve = [](const std::string& name) -> uint32_t {
        if (unsigned idx = if_nametoindex(name.c_str()))
            return idx;
        throw PolicyError("interface", name, "no such interface");
    };
    maps.commit(compile(policy, {.caps = lo.caps, .resolve = resolve}), maps.live_version() + 1);
    spdlog::info("policy={} rules={} sets={} version={}", a.rules_file, policy.rules.size(),
                 policy.sets.size(), maps.live_version());
}

std::vector<XdpAttachment> attach_all(const Args& a, const XdpfwObject& obj)
{
    std::vector<XdpAttachment> links;
    AttachOptions ao;
    ao.mode = parse_attach_mode(a.mode);
    for (const auto& name : a.ifaces) {
        links.push_back(XdpAttachment::attach(obj, name, ao));
        const AttachInfo& ai = links.back().info();
        spdlog::info("attached interface={} ifindex={} mode={} multiprog={}", ai.ifname,
                     ai.ifindex, xdp_mode_name(ai.mode), ai.multiprog);
    }
    return links;
}

// Prints the counters every --interval until a signal in `stop` arrives or
// --duration has passed.
void watch(const Args& a, const sigset_t& stop, const Policy& policy, const PolicyMaps& maps)
{
    timespec start{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        double wait = a.interval > 0 ? a.interval : 3600;
        if (a.duration > 0) {
            timespec now{};
            clock_gettime(CLOCK_MONOTONIC, &now);
            double left = a.duration - (double(now.tv_sec - start.tv_sec) +
                                        double(now.tv_nsec - start.tv_nsec) / 1e9);
            if (left <= 0)
                break;
            wait = std::min(wait, left);
        }
        timespec ts{time_t(wait), long((wait - double(time_t(wait))) * 1e9)};
        if (sigtimedwait(&stop, nullptr, &ts) > 0)
            break;
        if (a.interval > 0 && !a.json)
            std::cout << counters_table(policy, maps) << std::endl;
    }
}

// Final counters, then detach and unpin, or leave everything in place (--keep).
void finish(const Args& a, const LoadOptions& lo, const Policy& policy, const PolicyMaps& maps,
            std::vector<XdpAttachment>& links)
{
    if (a.json)
        std::cout << counters_json(policy, maps).dump(2) << std::endl;
    else
        std::cout << counters_table(policy, maps) << std::flush;
    if (a.keep) {
        for (auto& l : links)
            l.release();
        spdlog::info("kept attached{}", a.instance.empty() ? "" : ", pinned at " + lo.pin_dir);
    } else {
        links.clear();
        if (!a.instance.empty())
            remove_pin_dir(lo.pin_dir);
        spdlog::info("detached");
    }
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"xdpfw-apply: attach an xdpfw rule file to interfaces and show its counters"};
    Args a;
    add_options(app, a);
    app.set_version_flag("--version", build::version_line("xdpfw-apply", kernel_build_details()),
                         "print the version, the git revision and the BPF object's id, then exit");
    CLI11_PARSE(app, argc, argv);

    init_logging(spdlog::level::from_str(a.log_level));
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    try {
        Policy policy = load_policy_file(a.rules_file);
        LoadOptions lo;
        lo.caps.max_rules = a.max_rules;
        if (!a.instance.empty()) {
            lo.pin_dir = instance_pin_dir(a.instance);
            make_pin_dir(lo.pin_dir);
        }
        XdpfwObject obj = XdpfwObject::load(lo);
        PolicyMaps maps(obj);
        commit_policy(a, policy, lo, maps);
        std::vector<XdpAttachment> links = attach_all(a, obj);
        if (!a.instance.empty())
            pin_program(obj.prog_fd(), lo.pin_dir);
        watch(a, stop, policy, maps);
        finish(a, lo, policy, maps, links);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
    return 0;
}
