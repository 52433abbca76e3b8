// SPDX-License-Identifier: GPL-2.0-only
// The journal: one JSON line per commit since the snapshot, appended and
// fdatasynced before the commit goes live, replayed on restore. A last line
// without its newline is an append cut short by a crash (never
// acknowledged): replay leaves it out and cut() removes it.
#pragma once

#include "lib/model/policy.hpp"
#include "lib/store/change.hpp"
#include "lib/store/history.hpp"

#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>

namespace xdpfw {

class Journal {
public:
    explicit Journal(std::filesystem::path path) : path_(std::move(path)) {}
    ~Journal() { close(); }
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // The file's size as this process knows it (appends included).
    uint64_t bytes() const { return bytes_; }
    // Open, or on disk.
    bool present() const;
    // False after an append or take_back that could not cut the file back:
    // it may end in a line for a commit that never happened.
    bool intact() const { return intact_; }

    // The line for one commit: {"version", "time", "summary", "change"}.
    static std::string line(const HistoryEntry& entry, const PolicyChange& change);
    // Appends line and fdatasyncs; returns the size before it. On failure
    // cuts the file back and throws CommandError(ErrorCode::internal).
    uint64_t append(const std::string& line);
    // Cuts the file back to size (a line whose commit the sink refused);
    // false when that failed.
    bool take_back(uint64_t size);
    // Empties the file (a new snapshot holds all its lines). Throws.
    void clear();
    void close();

    // Restore: applies the lines after version to policy, version and
    // history (older ones predate the snapshot: a compaction that stopped
    // before emptying the journal) and checks the policy they lead to.
    // Returns the offset past the last complete line. Throws
    // CommandError(ErrorCode::invalid_policy) naming the journal and the line.
    uint64_t replay(uint32_t max_rules, Policy& policy, uint64_t& version,
                    std::deque<HistoryEntry>& history) const;
    // Cuts the file to end (the torn last line replay() left out), so the
    // next append starts a line of its own.
    void cut(uint64_t end);

private:
    int fd();

    std::filesystem::path path_;
    int fd_ = -1; // opened on first use
    uint64_t bytes_ = 0;
    bool intact_ = true;
};

} // namespace xdpfw
