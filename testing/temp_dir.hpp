// SPDX-License-Identifier: GPL-2.0-only
// A fresh temporary directory for a test, removed with its contents.
#pragma once

#include <filesystem>
#include <string>

namespace xdpfw::test {

class TempDir {
public:
    // /tmp/<prefix>-XXXXXX: short on purpose, Unix socket paths must fit
    // sun_path (108 bytes).
    explicit TempDir(const std::string& prefix = "xdpfw");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    // Writes text to name (parent directories created) and returns its path.
    std::filesystem::path write(const std::string& name, const std::string& text) const;

private:
    std::filesystem::path path_;
};

} // namespace xdpfw::test
