// SPDX-License-Identifier: GPL-2.0-only
// Who is on the other end of a control connection (SO_PEERCRED) and whether
// that peer may use the socket (docs/PROTOCOL.md, first paragraph).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace xdpfw {

// The connecting process as SO_PEERCRED saw it at connect time.
struct PeerCred {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

// SO_PEERCRED of a connected Unix socket; throws std::system_error.
PeerCred peer_credentials(int fd);

// True if uid 0, or group is set and the peer's gid is that group or the
// supplementary groups of the peer uid's passwd entry contain it.
bool peer_allowed(const PeerCred& peer, std::optional<gid_t> group);

// The message of the permission_denied answer to a peer that is not allowed.
std::string peer_refusal(const PeerCred& peer, std::optional<gid_t> group);

} // namespace xdpfw
