// SPDX-License-Identifier: GPL-2.0-only
// InstanceLock: flock on the instance's lock file, the holder's pid inside.
#include "apps/xdpfwd/instance_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace xdpfw {

namespace {

[[noreturn]] void lock_failed(const std::filesystem::path& file, const std::string& what, int err)
{
    throw std::runtime_error("instance lock " + file.string() + ": " + what + ": " +
                             std::strerror(err));
}

// The pid the holder wrote; it writes right after locking, so a moment's
// wait covers a holder that has just started.
std::string holder_pid(int fd)
{
    for (int attempt = 0; attempt < 20; ++attempt) {
        char buf[32] = {};
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        std::string text(buf, n > 0 ? size_t(n) : 0);
        while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
            text.pop_back();
        if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
            return text;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
}

} // namespace

InstanceLock InstanceLock::acquire(const std::filesystem::path& file, const std::string& instance)
{
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec)
        throw std::runtime_error("instance lock " + file.string() + ": cannot create directory " +
                                 file.parent_path().string() + ": " + ec.message());
    UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (fd.get() < 0)
        lock_failed(file, "open", errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err != EWOULDBLOCK)
            lock_failed(file, "flock", err);
        const std::string pid = holder_pid(fd.get());
        throw std::runtime_error(
            "instance '" + instance + "' is already served by another xdpfwd (" +
            (pid.empty() ? std::string("pid unknown") : "pid " + pid) + " holds the lock file " +
            file.string() + "); this daemon touched nothing. Stop that one first, or pick "
            "another --instance");
    }
    const std::string text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), text.data(), text.size(), 0) !=
                                             ssize_t(text.size()))
        lock_failed(file, "write the pid", errno);
    return InstanceLock(file, std::move(fd));
}

} // namespace xdpfw
