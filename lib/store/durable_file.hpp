// SPDX-License-Identifier: GPL-2.0-only
// Files that survive a crash: whole writes, fsync of the data and of the
// directory entry, write-to-"<file>.tmp"-then-rename. Failures are
// CommandError(ErrorCode::internal, "state file PATH: what: strerror").
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace xdpfw {

// "<file>.tmp"
std::filesystem::path tmp_path(const std::filesystem::path& file);
// strerror(err), or for ELOOP (O_NOFOLLOW met a symbolic link) a sentence
// saying the link is refused.
std::string open_error(int err);
[[noreturn]] void save_failed(const std::filesystem::path& path, const std::string& what, int err);

// Writes all of data to fd (EINTR retried); false with errno on failure.
bool write_all(int fd, std::string_view data);
// Makes file's directory entry durable.
void fsync_dir(const std::filesystem::path& file);
// Creates file's parent directories.
void create_parent(const std::filesystem::path& file);

// Writes and fsyncs "<file>.tmp"; the file itself is untouched.
void write_tmp(const std::filesystem::path& file, const std::string& data);
// Renames "<file>.tmp" over the file and makes the rename durable.
void install_tmp(const std::filesystem::path& file);

// Why a state file open as fd must not be trusted (owned by another uid
// than this process's effective one, or writable by group or others), or
// "" when it can be.
std::string untrusted_reason(int fd);

// The whole file, or nullopt when it does not exist; a symbolic link in its
// place is refused (O_NOFOLLOW), like every state file's open, and so is a
// file untrusted_reason() objects to. Throws
// CommandError(ErrorCode::invalid_policy, "<label> PATH: cannot open: ..." or
// "...: refused: ...") when it exists but cannot be read or trusted.
std::optional<std::string> read_whole_file(const std::filesystem::path& path,
                                           const std::string& label);

} // namespace xdpfw
