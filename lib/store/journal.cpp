// SPDX-License-Identifier: GPL-2.0-only
// The journal: durable appends, take-backs, replay.
#include "lib/store/journal.hpp"

#include "lib/lang/json_fields.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/store/durable_file.hpp"
#include "lib/store/policy_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace xdpfw {

namespace {

// One line: the history entry and the change, checked and applied. Lines
// whose version the policy already has are skipped.
void replay_line(const nlohmann::json& e, const std::string& where, uint32_t max_rules,
                 Policy& policy, uint64_t& version, std::deque<HistoryEntry>& history)
{
    HistoryEntry h = history_entry_from_json(e, where);
    if (h.version <= version)
        return;
    if (h.version != version + 1)
        json_fields::fail(json_fields::join(where, "version"),
                          "version " + std::to_string(h.version) + " does not follow version " +
                              std::to_string(version));
    PolicyChange c = change_from_json(json_fields::field(e, where, "change"),
                                      json_fields::join(where, "change"), max_rules);
    try {
        apply_change(policy, c);
    } catch (const CommandError& err) {
        json_fields::fail(where, err.what());
    }
    version = h.version;
    push_history(history, std::move(h));
}

} // namespace

bool Journal::present() const
{
    std::error_code ec;
    return fd_ >= 0 || std::filesystem::exists(path_, ec);
}

std::string Journal::line(const HistoryEntry& entry, const PolicyChange& change)
{
    nlohmann::json j = history_entry_json(entry);
    j["change"] = change_to_json(change);
    // replace: a summary may carry a path from the daemon's config that is
    // not UTF-8; that must not make the commit unsavable.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

int Journal::fd()
{
    if (fd_ >= 0)
        return fd_;
    create_parent(path_);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        save_failed(path_, "open", errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        save_failed(path_, "stat", err);
    }
    if (const std::string why = untrusted_reason(fd); !why.empty()) {
        ::close(fd);
        throw CommandError(ErrorCode::internal, "state file " + path_.string() + ": refused: " + why);
    }
    fd_ = fd;
    bytes_ = uint64_t(st.st_size);
    // The journal's directory entry must be durable before a line in it is.
    fsync_dir(path_);
    return fd;
}

uint64_t Journal::append(const std::string& line)
{
    const int f = fd();
    const uint64_t before = bytes_;
    if (!write_all(f, line) || ::fdatasync(f) != 0) {
        int err = errno;
        if (::ftruncate(f, off_t(before)) != 0)
            intact_ = false;
        save_failed(path_, "append", err);
    }
    bytes_ += line.size();
    return before;
}

bool Journal::take_back(uint64_t size)
{
    bool ok = fd_ >= 0 && ::ftruncate(fd_, off_t(size)) == 0 && ::fdatasync(fd_) == 0;
    bytes_ = size;
    if (!ok)
        intact_ = false;
    return ok;
}

void Journal::clear()
{
    const int f = fd();
    if (::ftruncate(f, 0) != 0 || ::fdatasync(f) != 0)
        save_failed(path_, "truncate", errno);
    bytes_ = 0;
    intact_ = true;
}

void Journal::close()
{
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

uint64_t Journal::replay(uint32_t max_rules, Policy& policy, uint64_t& version,
                         std::deque<HistoryEntry>& history) const
{
    const std::string label = "journal " + path_.string();
    const std::optional<std::string> text = read_whole_file(path_, "journal");
    if (!text)
        return 0;
    const uint64_t start_version = version;
    size_t pos = 0;
    try {
        for (size_t line_no = 1;; ++line_no) {
            size_t nl = text->find('\n', pos);
            if (nl == std::string::npos)
                break;
            const std::string where = "line " + std::to_string(line_no);
            nlohmann::json e;
            try {
                e = nlohmann::json::parse(std::string_view(*text).substr(pos, nl - pos));
            } catch (const nlohmann::json::parse_error&) {
                json_fields::fail(where, "not JSON");
            }
            pos = nl + 1;
            replay_line(e, where, max_rules, policy, version, history);
        }
    } catch (const PolicyError& e) {
        throw CommandError(ErrorCode::invalid_policy, label + ": " + e.what());
    }
    if (version != start_version) {
        try {
            validate_policy(policy);
        } catch (const PolicyError& e) {
            throw CommandError(ErrorCode::invalid_policy,
                               label + ": the policy it leads to is invalid: " + e.what());
        }
    }
    return pos;
}

void Journal::cut(uint64_t end)
{
    close();
    std::error_code ec;
    if (std::filesystem::exists(path_, ec) && std::filesystem::file_size(path_, ec) != end)
        std::filesystem::resize_file(path_, end, ec);
    if (ec)
        throw CommandError(ErrorCode::invalid_policy, "journal " + path_.string() +
                                                 ": cannot cut off its torn last line: " +
                                                 ec.message());
    bytes_ = end;
}

} // namespace xdpfw
