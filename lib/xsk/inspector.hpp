// SPDX-License-Identifier: GPL-2.0-only
// What the AF_XDP workers ask of payload inspection: a verdict per frame.
// The engine knows nothing of rules or matchers; an InspectorFactory (the
// inspection library behind an adapter, or a test's lambda) makes one
// Inspector per worker thread, because matchers keep per-thread scratch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace xdpfw::xsk {

enum class Verdict : uint8_t { forward = 0, drop = 1 };

struct InspectResult {
    Verdict verdict = Verdict::forward;
    uint32_t rule_id = 0;   // the inspection rule that matched; 0: none (forwarded)
    bool malformed = false; // the payload could not be parsed as what a rule looks for
};

class Inspector {
public:
    virtual ~Inspector() = default;
    // frame: the whole Ethernet frame as received. Called on one worker
    // thread only; must not throw.
    virtual InspectResult inspect(std::span<const uint8_t> frame) = 0;
    // Called before each batch of frames (pick up new rules here).
    virtual void begin_batch() {}
};

// Thread-safe; called on each worker thread at start and whenever the
// engine's inspector is replaced (new rules).
using InspectorFactory = std::function<std::unique_ptr<Inspector>()>;

} // namespace xdpfw::xsk
