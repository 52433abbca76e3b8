// SPDX-License-Identifier: GPL-2.0-only
// The capabilities xdpfwd needs for its configuration, checked at start so
// that a missing one is a clear error instead of a verifier log or a crash.
#pragma once

#include "apps/xdpfwd/config.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace xdpfw {

// One capability the configuration needs (a CAP_* number) and what for.
struct CapabilityNeed {
    int cap = 0;
    std::string why;
};

// What the process around the check is: its effective set and whether
// RLIMIT_MEMLOCK is unlimited (AF_XDP's UMEM is charged to it without
// CAP_IPC_LOCK).
struct ProcessPrivileges {
    uint64_t effective = 0; // bit n: capability n
    bool memlock_unlimited = false;
    static ProcessPrivileges current(); // capget(2) and getrlimit(2)
};

// "CAP_SYS_ADMIN" for CAP_SYS_ADMIN; "CAP_<n>" for a number it does not know.
std::string capability_name(int cap);

// Every capability the configuration needs, in a stable order (the basic
// ones first, then those of optional features).
std::vector<CapabilityNeed> required_capabilities(const DaemonConfig& c,
                                                  const ProcessPrivileges& p);

// The needs whose capability is not in p.effective.
std::vector<CapabilityNeed> missing_capabilities(const DaemonConfig& c,
                                                 const ProcessPrivileges& p);

// "xdpfwd: missing capabilities: CAP_A (why), CAP_B (why)"; empty when
// nothing is missing.
std::string missing_capabilities_message(const std::vector<CapabilityNeed>& missing);

// Throws std::runtime_error with missing_capabilities_message() when the
// running process lacks a capability c needs. Called before anything is
// loaded, pinned or attached.
void check_capabilities(const DaemonConfig& c);

} // namespace xdpfw
