// SPDX-License-Identifier: GPL-2.0-only
// One daemon per instance: an exclusive flock on <lock_dir>/<instance>.lock,
// taken before anything of the instance is read or written, held for the
// process's life (the kernel releases it when the process exits, SIGKILL
// included, so a stale file is never a stale lock). The file holds the
// holder's pid, for the error a second daemon prints.
#pragma once

#include "lib/base/unique_fd.hpp"

#include <filesystem>
#include <string>

namespace xdpfw {

class InstanceLock {
public:
    // Creates the directory if needed, locks the file and writes the pid.
    // Throws std::runtime_error naming the instance, the file and the pid
    // holding it when another process has it, or what failed.
    static InstanceLock acquire(const std::filesystem::path& file, const std::string& instance);

    const std::filesystem::path& path() const { return path_; }

private:
    InstanceLock(std::filesystem::path path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

    std::filesystem::path path_;
    UniqueFd fd_;
};

} // namespace xdpfw
