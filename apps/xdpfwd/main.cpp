// SPDX-License-Identifier: GPL-2.0-only
// xdpfwd: runs in the foreground (systemd-friendly), logs key=value lines.
#include "apps/xdpfwd/capabilities.hpp"
#include "apps/xdpfwd/config.hpp"
#include "apps/xdpfwd/daemon.hpp"
#include "apps/xdpfwd/instance_lock.hpp"
#include "lib/kernel/log.hpp"

#include <spdlog/spdlog.h>

#include <csignal>

int main(int argc, char** argv)
{
    int code = 0;
    auto cfg = xdpfw::parse_daemon_args(argc, argv, &code);
    if (!cfg)
        return code;
    xdpfw::init_logging(spdlog::level::from_str(cfg->log_level));
    // Signals are taken by the io_context; block them before any thread starts.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    try {
        xdpfw::check_capabilities(*cfg); // before anything is locked, loaded or pinned
        // Before anything of the instance (pins, state, socket) is touched.
        const xdpfw::InstanceLock lock = xdpfw::InstanceLock::acquire(cfg->lock_file(), cfg->instance);
        xdpfw::Daemon d(*cfg);
        d.start();
        return d.run();
    } catch (const std::exception& e) {
        spdlog::critical("event=fatal error=\"{}\"", e.what());
        return 1;
    }
}
