// SPDX-License-Identifier: GPL-2.0-only
// A private network namespace for the whole test process (see header).
#include "testing/private_netns.hpp"

#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace xdpfw::test {

void enter_private_netns()
{
    static bool entered = false;
    if (entered)
        return;
    if (unshare(CLONE_NEWNET))
        throw std::system_error(errno, std::generic_category(), "unshare(CLONE_NEWNET)");
    const char* cmds[] = {
        "ip link set lo up",
        "ip link add eth0 type veth peer name eth1",
        "ip link set eth0 up",
        "ip link set eth1 up",
    };
    for (const char* c : cmds)
        if (std::system(c) != 0)
            throw std::system_error(EIO, std::generic_category(), c);
    entered = true;
}

} // namespace xdpfw::test
