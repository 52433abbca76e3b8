// SPDX-License-Identifier: GPL-2.0-only
// The compiler: a Policy becomes the contents of the classifier's tables
// (a CompiledPolicy, lib/tables; see docs/ARCHITECTURE.md). Kernel-free; the
// kernel layer's PolicyMaps writes a CompiledPolicy into one generation.
#pragma once

#include "lib/model/policy.hpp"
#include "lib/reference/reference.hpp"
#include "lib/tables/capacities.hpp"
#include "lib/tables/compiled_policy.hpp"

#include <memory>

namespace xdpfw {

// Remembers the address tables of earlier compiles (see compile()).
struct CompileCache;
std::shared_ptr<CompileCache> make_compile_cache();

struct CompileOptions {
    // What the tables have room for; with a loaded program, its
    // XdpfwObject::options().caps. max_queues is not used here.
    // Members have initializers so designated initializers may leave any out.
    Capacities caps = {};
    IfaceResolver resolve = {}; // iif= and redirect:IFACE names
    // When set, address tables are reused from the previous compile if the
    // prefixes and sets they come from are unchanged (commits that change
    // only rules then cost microseconds, not a 64 MiB table rebuild).
    std::shared_ptr<CompileCache> cache = {};
};

// Throws PolicyError (bad reference, capacity exceeded, unknown interface).
CompiledPolicy compile(const Policy& policy, const CompileOptions& opts);

// Software evaluation of the compiled tables (same walk as the BPF program);
// the compiler's tests check it against the reference.
Verdict evaluate(const CompiledPolicy& policy, const PacketFields& pkt);

} // namespace xdpfw
