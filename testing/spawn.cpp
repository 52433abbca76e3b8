// SPDX-License-Identifier: GPL-2.0-only
// spawn_logged(): posix_spawnp with the file actions and attributes a test
// child needs.
#include "testing/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <system_error>

extern char** environ;

namespace xdpfw::test {

pid_t spawn_logged(const std::vector<std::string>& args, const std::string& log_path,
                   bool own_process_group, const std::string& what)
{
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (own_process_group) {
        posix_spawnattr_setpgroup(&attr, 0); // a new group, its id the child's pid
        flags |= POSIX_SPAWN_SETPGROUP;
    }
    posix_spawnattr_setflags(&attr, flags);
    pid_t pid = -1;
    const int err = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err != 0)
        throw std::system_error(err, std::generic_category(), "spawn " + what);
    return pid;
}

} // namespace xdpfw::test
