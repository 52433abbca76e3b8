// SPDX-License-Identifier: GPL-2.0-only
// Starting a program for a test: stdin from /dev/null, stdout and stderr
// appended to a log file, default signal dispositions and mask (the test
// process may block or catch signals), optionally in a process group of its
// own so that it and its children can be killed as one.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace xdpfw::test {

// Spawns argv[0] (looked up in PATH) with argv; returns its pid. Throws
// std::system_error naming what when it cannot be started.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& log_path,
                   bool own_process_group, const std::string& what);

} // namespace xdpfw::test
