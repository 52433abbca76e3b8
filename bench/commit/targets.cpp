// SPDX-License-Identifier: GPL-2.0-only
// The in-process request path of the commit benchmark, timed.
#include "bench/commit/targets.hpp"

#include <net/if.h>

#include <filesystem>

namespace xdpfw::bench {

void TimingSink::commit(const Policy& policy, uint64_t version)
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

DirectTarget::DirectTarget(const std::string& state_dir, const LoadOptions& lo)
    : obj_(XdpfwObject::load(lo)), maps_(obj_), sink_(maps_, obj_.options()),
      store_(sink_, obj_.options().caps.max_rules,
             state_dir.empty() ? std::filesystem::path()
                               : std::filesystem::path(state_dir) / "commit-bench.json")
{
    store_.on_rule_created = [this](uint32_t id) { maps_.reset_rule_counter(id); };
}

json DirectTarget::run(const json& request, Timings* t)
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

} // namespace xdpfw::bench
