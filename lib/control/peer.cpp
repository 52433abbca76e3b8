// SPDX-License-Identifier: GPL-2.0-only
// Peer credentials of control connections and the group check on them.
#include "lib/control/peer.hpp"

#include <fmt/format.h>

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <vector>

namespace xdpfw {

PeerCred peer_credentials(int fd)
{
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        throw std::system_error(errno, std::system_category(),
                                "read SO_PEERCRED of control client");
    return PeerCred{cred.pid, cred.uid, cred.gid};
}

bool peer_allowed(const PeerCred& peer, std::optional<gid_t> group)
{
    if (peer.uid == 0)
        return true;
    if (!group)
        return false;
    if (peer.gid == *group)
        return true;

    passwd pw{};
    passwd* found = nullptr;
    const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(hint > 0 ? size_t(hint) : 16384);
    int err;
    while ((err = ::getpwuid_r(peer.uid, &pw, buf.data(), buf.size(), &found)) == ERANGE)
        buf.resize(buf.size() * 2);
    if (err != 0 || found == nullptr)
        return false; // no passwd entry: no supplementary groups to consult

    std::vector<gid_t> groups(32);
    int n = int(groups.size());
    while (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
        // n now holds the number needed (glibc); grow at least twofold anyway.
        groups.resize(std::max(size_t(n), groups.size() * 2));
        n = int(groups.size());
    }
    return std::find(groups.begin(), groups.begin() + n, *group) != groups.begin() + n;
}

std::string peer_refusal(const PeerCred& peer, std::optional<gid_t> group)
{
    if (group)
        return fmt::format("uid {} is neither root nor in group {} (peer gid {})", peer.uid,
                           *group, peer.gid);
    return fmt::format("uid {} is not root and no socket group is configured", peer.uid);
}

} // namespace xdpfw
