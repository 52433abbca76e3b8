// SPDX-License-Identifier: GPL-2.0-only
// Durable file writes (fsync, rename into place) and whole-file reads.
#include "lib/store/durable_file.hpp"

#include "lib/store/policy_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace xdpfw {

std::filesystem::path tmp_path(const std::filesystem::path& file)
{
    std::filesystem::path t = file;
    t += ".tmp";
    return t;
}

std::string open_error(int err)
{
    // O_NOFOLLOW's refusal: say so, not "Too many levels of symbolic links".
    if (err == ELOOP)
        return "is a symbolic link; refused (state files are never followed through links: "
               "replace it with the file itself)";
    return std::strerror(err);
}

[[noreturn]] void save_failed(const std::filesystem::path& path, const std::string& what, int err)
{
    throw CommandError(ErrorCode::internal,
                       "state file " + path.string() + ": " + what + ": " + open_error(err));
}

bool write_all(int fd, std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        data.remove_prefix(size_t(n));
    }
    return true;
}

void fsync_dir(const std::filesystem::path& file)
{
    std::filesystem::path dir = file.parent_path();
    if (dir.empty())
        dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        save_failed(file, "open directory " + dir.string(), errno);
    if (::fsync(dfd) != 0) {
        int err = errno;
        ::close(dfd);
        save_failed(file, "fsync directory " + dir.string(), err);
    }
    ::close(dfd);
}

void create_parent(const std::filesystem::path& file)
{
    std::filesystem::path parent = file.parent_path();
    if (parent.empty())
        return;
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
        throw CommandError(ErrorCode::internal, "state file " + file.string() +
                                           ": cannot create directory " + parent.string() + ": " +
                                           ec.message());
}

void write_tmp(const std::filesystem::path& file, const std::string& data)
{
    create_parent(file);
    std::filesystem::path tmp = tmp_path(file);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        save_failed(tmp, "open", errno);
    // A .tmp left behind keeps its owner and mode through O_TRUNC and the
    // rename: one of another uid is refused, ours goes back to 0600, so the
    // next start trusts what it reads (read_whole_file).
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_uid != ::geteuid() || ::fchmod(fd, 0600) != 0) {
        const int err = errno ? errno : EPERM;
        ::close(fd);
        save_failed(tmp, st.st_uid != ::geteuid() ? "owned by another uid" : "fchmod", err);
    }
    auto fail = [&](const char* what) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        save_failed(tmp, what, err);
    };
    if (!write_all(fd, data))
        fail("write");
    if (::fsync(fd) != 0)
        fail("fsync");
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        save_failed(tmp, "close", err);
    }
}

void install_tmp(const std::filesystem::path& file)
{
    std::filesystem::path tmp = tmp_path(file);
    if (::rename(tmp.c_str(), file.c_str()) != 0)
        save_failed(file, "rename from " + tmp.string(), errno);
    fsync_dir(file);
}

std::string untrusted_reason(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return std::string("cannot stat it: ") + std::strerror(errno);
    if (st.st_uid != ::geteuid())
        return fmt::format("it is owned by uid {}, not by this daemon's uid {}", st.st_uid,
                           ::geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return fmt::format("it is writable by {} (mode {:04o}; `chmod go-w` it)",
                           (st.st_mode & S_IWOTH) ? "others" : "its group", st.st_mode & 07777);
    return {};
}

std::optional<std::string> read_whole_file(const std::filesystem::path& path,
                                           const std::string& label)
{
    // O_NOFOLLOW: a link in the file's place is refused, not read through.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT)
            return std::nullopt;
        throw CommandError(ErrorCode::invalid_policy,
                           label + " " + path.string() + ": cannot open: " + open_error(err));
    }
    // A state file someone else could have written decides the policy the
    // daemon commits: refuse it rather than trust it.
    if (const std::string why = untrusted_reason(fd); !why.empty()) {
        ::close(fd);
        throw CommandError(ErrorCode::invalid_policy,
                           label + " " + path.string() + ": refused: " + why);
    }
    std::string text;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw CommandError(ErrorCode::invalid_policy,
                               label + " " + path.string() + ": read error: " + std::strerror(err));
        }
        if (n == 0)
            break;
        text.append(buf, size_t(n));
    }
    ::close(fd);
    return text;
}

} // namespace xdpfw
