// SPDX-License-Identifier: GPL-2.0-only
// The host-mode TUN device.
#include "lib/xsk/host_tun.hpp"

#include "lib/xsk/socket.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace xdpfw::xsk {

bool l3_offset(std::span<const uint8_t> frame, size_t* offset, int* version)
{
    size_t off = 12;
    for (int tags = 0; tags <= 2; ++tags) {
        if (frame.size() < off + 2)
            return false;
        const uint16_t type = uint16_t(frame[off] << 8 | frame[off + 1]);
        if (type == 0x8100 || type == 0x88a8) {
            off += 4;
            continue;
        }
        if (type != 0x0800 && type != 0x86dd)
            return false;
        *offset = off + 2;
        *version = type == 0x0800 ? 4 : 6;
        return true;
    }
    return false;
}

HostTun::HostTun(const std::string& name) : name_(name)
{
    if (name.empty() || name.size() >= IFNAMSIZ)
        throw std::invalid_argument("host device name \"" + name + "\" must have 1.." +
                                    std::to_string(IFNAMSIZ - 1) + " characters");
    fd_ = UniqueFd(open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (fd_.get() < 0)
        throw XskError(errno, "open /dev/net/tun for host device " + name);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, name.c_str(), name.size());
    if (ioctl(fd_.get(), TUNSETIFF, &ifr)) {
        const int err = errno;
        throw XskError(err, "create host device " + name);
    }
    // No reverse-path filtering on the device: it has no address, and the
    // kernel refuses every IPv4 packet on an address-less interface whose
    // effective rp_filter (the larger of "all" and the device's) is not 0.
    // The filtered interfaces keep their own setting.
    {
        std::ofstream rp("/proc/sys/net/ipv4/conf/" + name + "/rp_filter");
        rp << "0\n";
        if (!rp)
            spdlog::warn("xsk host device {}: could not set rp_filter", name);
        std::ifstream all("/proc/sys/net/ipv4/conf/all/rp_filter");
        int v = 0;
        if (all >> v && v != 0)
            spdlog::warn("xsk host device {}: net.ipv4.conf.all.rp_filter={} makes the kernel "
                         "drop the IPv4 packets host mode injects; set it to 0 (interfaces keep "
                         "their own rp_filter)", name, v);
    }
    const UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0 || ioctl(s.get(), SIOCGIFFLAGS, &ifr) ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s.get(), SIOCSIFFLAGS, &ifr))) {
        const int err = errno;
        throw XskError(err, "bring up host device " + name); // s and fd_ close on the way out
    }
    spdlog::info("xsk host device {} up", name);
}

int HostTun::inject(std::span<const uint8_t> frame) const
{
    size_t off = 0;
    int version = 0;
    if (!l3_offset(frame, &off, &version))
        return ENOPROTOOPT;
    if (frame.size() <= off || (frame[off] >> 4) != version)
        return EINVAL;
    const ssize_t n = write(fd_.get(), frame.data() + off, frame.size() - off);
    if (n < 0)
        return errno;
    return 0;
}

} // namespace xdpfw::xsk
