// SPDX-License-Identifier: GPL-2.0-only
// Listening socket setup for the control server: stale socket, mode, group.
#include "lib/control/listener.hpp"

#include "lib/base/unique_fd.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace xdpfw {

namespace {

std::system_error errno_error(int err, const std::string& what)
{
    return std::system_error(err, std::system_category(), what);
}

sockaddr_un unix_address(const std::string& path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw errno_error(ENAMETOOLONG, fmt::format("socket {}: path longer than {} bytes", path,
                                                    sizeof(addr.sun_path) - 1));
    std::memcpy(addr.sun_path, path.data(), path.size());
    return addr;
}

// A socket file left by a daemon that died is removed; one a live daemon
// still accepts on is not (two daemons on one socket would each serve half
// the clients). Anything else at the path is the operator's and is kept.
void remove_stale_socket(const std::string& path, const sockaddr_un& addr)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT)
            return;
        throw errno_error(errno, fmt::format("stat socket {}", path));
    }
    if (!S_ISSOCK(st.st_mode))
        throw errno_error(EEXIST, fmt::format("socket {} exists and is not a socket", path));

    // Non-blocking, so a live daemon with a full backlog answers EAGAIN
    // instead of hanging the probe.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (probe.get() < 0)
        throw errno_error(errno, fmt::format("probe socket {}", path));
    int err = 0;
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0)
        err = errno;
    if (err == 0 || err == EAGAIN || err == EINPROGRESS)
        throw errno_error(EADDRINUSE,
                          fmt::format("socket {} is in use by another xdpfwd", path));
    if (err != ECONNREFUSED && err != ENOENT)
        throw errno_error(err, fmt::format("probe socket {}", path));
    if (::unlink(path.c_str()) < 0 && errno != ENOENT)
        throw errno_error(errno, fmt::format("remove stale socket {}", path));
    spdlog::info("event=control_stale_socket_removed socket={}", path);
}

void create_parent_directory(const std::string& path)
{
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (parent.empty())
        return;
    std::error_code ec;
    const bool created = std::filesystem::create_directories(parent, ec);
    if (ec)
        throw std::system_error(ec, fmt::format("create directory {} for socket {}",
                                                parent.string(), path));
    // create_directories honours the umask; the directory must be searchable
    // by the socket group.
    if (created && ::chmod(parent.c_str(), 0755) < 0)
        throw errno_error(errno, fmt::format("chmod directory {} to 0755", parent.string()));
}

} // namespace

ListeningSocket listen_unix(const std::string& path, mode_t mode, std::optional<gid_t> group)
{
    if (path.empty())
        throw errno_error(EINVAL, "control socket path is empty");
    const sockaddr_un addr = unix_address(path);
    create_parent_directory(path);
    remove_stale_socket(path, addr);

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0)
        throw errno_error(errno, fmt::format("create socket {}", path));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0)
        throw errno_error(errno, fmt::format("bind socket {}", path));
    // From here on the file is ours: remove it again if setup fails.
    auto fail = [&](int err, const std::string& what) {
        ::unlink(path.c_str());
        return errno_error(err, what);
    };
    struct stat st {};
    if (::stat(path.c_str(), &st) < 0)
        throw fail(errno, fmt::format("stat socket {}", path));
    // Until chmod the file has the umask's mode; the peer check at accept
    // still stands in that window.
    if (::chmod(path.c_str(), mode) < 0)
        throw fail(errno, fmt::format("chmod socket {} to {:04o}", path, mode));
    if (group && ::chown(path.c_str(), uid_t(-1), *group) < 0)
        throw fail(errno, fmt::format("chown socket {} to group {}", path, *group));
    if (::listen(fd.get(), SOMAXCONN) < 0)
        throw fail(errno, fmt::format("listen on socket {}", path));
    return ListeningSocket{fd.release(), st.st_dev, st.st_ino};
}

void remove_socket_if_ours(const std::string& path, dev_t dev, ino_t ino)
{
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev &&
        st.st_ino == ino)
        ::unlink(path.c_str());
}

} // namespace xdpfw
