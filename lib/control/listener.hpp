// SPDX-License-Identifier: GPL-2.0-only
// The control socket file: a stale one removed, a live one refused, the new
// one bound with its mode and group, and removed again only while it is ours.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>

namespace xdpfw {

// A listening Unix stream socket (the caller owns fd) and the identity of
// the file it is bound to.
struct ListeningSocket {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
};

// Creates the parent directory (0755) if missing, removes a socket file a
// dead daemon left, binds, sets mode and group, listens. Throws
// std::system_error naming the path, e.g. when another live xdpfwd answers
// on it or the path is not a socket; a file it bound is removed again then.
ListeningSocket listen_unix(const std::string& path, mode_t mode, std::optional<gid_t> group);

// Removes path if it is still the socket file (dev, ino) and not one a newer
// daemon put in its place.
void remove_socket_if_ours(const std::string& path, dev_t dev, ino_t ino);

} // namespace xdpfw
