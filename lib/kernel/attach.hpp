// SPDX-License-Identifier: GPL-2.0-only
// Attaching the loaded XDP program to interfaces (RAII, through libxdp with a
// direct libbpf fallback), detaching what xdpfw left behind, and the bpffs
// pin directory helpers.
#pragma once

#include "lib/base/unique_fd.hpp"
#include "lib/kernel/loader.hpp"

#include <cstdint>
#include <string>

struct xdp_program;

namespace xdpfw {

// What the caller asks for. auto_ = native (driver) mode, and generic (skb)
// mode with a warning when the driver refuses.
enum class AttachMode : uint8_t { auto_, native, generic };
// What is attached.
enum class XdpMode : uint8_t { native, generic };

const char* attach_mode_name(AttachMode m); // "auto", "native", "generic"
const char* xdp_mode_name(XdpMode m);       // "native", "generic"
// Parses "auto", "native", "generic"; throws std::invalid_argument naming the
// bad word otherwise.
AttachMode parse_attach_mode(const std::string& text);

struct AttachInfo {
    int ifindex = 0;
    std::string ifname;
    XdpMode mode = XdpMode::native;
    // True: the program runs behind libxdp's multiprog dispatcher (it can
    // share the interface). False: it is the interface's only XDP program
    // (libxdp's single-program fallback, or the direct libbpf path).
    bool multiprog = false;
};

struct AttachOptions {
    AttachMode mode = AttachMode::auto_;
    // False skips libxdp and attaches the fd with bpf_xdp_attach(). With
    // true, libxdp is tried first and the direct path is the fallback when
    // libxdp cannot handle the program (see attach.cpp).
    bool use_libxdp = true;
};

// Owns one attachment of a program to one interface. Detaches on
// destruction unless release()d.
class XdpAttachment {
public:
    // Attach obj's XDP entry program to ifname (resolved in the calling
    // thread's network namespace). Throws BpfError ("attach xdp to veth1:
    // Device or resource busy"; "attach xdp to nope0: No such device").
    static XdpAttachment attach(const XdpfwObject& obj, const std::string& ifname,
                                const AttachOptions& opts = {});
    static XdpAttachment attach(const XdpfwObject& obj, int ifindex,
                                const AttachOptions& opts = {});
    // Any loaded XDP program by fd (the fd is duplicated, not taken).
    static XdpAttachment attach_fd(int prog_fd, int ifindex, const AttachOptions& opts = {});

    XdpAttachment(XdpAttachment&& other) noexcept;
    XdpAttachment& operator=(XdpAttachment&& other) noexcept;
    XdpAttachment(const XdpAttachment&) = delete;
    XdpAttachment& operator=(const XdpAttachment&) = delete;
    ~XdpAttachment(); // detach(); errors are logged, not thrown

    const AttachInfo& info() const { return info_; }
    bool attached() const { return prog_fd_.get() >= 0; }

    // Puts new_prog_fd in the program's place in one step (XDP_FLAGS_REPLACE
    // with ours as the expected program): no moment without a program.
    // Throws BpfError, EOPNOTSUPP behind libxdp's dispatcher.
    void replace(int new_prog_fd);
    // Removes the program from the interface now; throws BpfError. A vanished
    // interface (its namespace was deleted) counts as detached.
    void detach();
    // Leaves the program attached (the daemon's stop without detach) and
    // gives up ownership.
    AttachInfo release();

private:
    XdpAttachment() = default;
    void reset() noexcept;

    AttachInfo info_;
    UniqueFd prog_fd_;             // our duplicate; empty when not attached
    UniqueFd netns_fd_;            // the namespace ifindex belongs to
    xdp_program* xprog_ = nullptr; // set when libxdp did the attach
};

// Removes every XDP program whose name starts with "xdpfw" (as the entry
// program xdpfw_main does) from ifindex, in any mode and whether it sits
// behind a dispatcher or alone. Programs of others stay. Returns how many
// were removed; throws BpfError.
int detach_all(int ifindex);

// Replaces old_fd's program on ifindex (mode's slot) by new_fd's in one
// netlink request; fails (EEXIST) when old_fd's program is not the one
// attached. For attachments an earlier xdpfwd made (no XdpAttachment).
void replace_program(int ifindex, XdpMode mode, int old_fd, int new_fd);

// The kernel's id of the loaded program fd, 0 if it cannot be read.
uint32_t prog_id_of(int fd);

// The XDP program id attached to ifindex in mode, 0 if none.
uint32_t attached_prog_id(int ifindex, XdpMode mode);

// bpffs layout: /sys/fs/bpf/xdpfw/<instance>/{prog, xdpfw_* maps}.
inline constexpr const char* kBpffsRoot = "/sys/fs/bpf";
// <root>/xdpfw/<instance>; throws std::invalid_argument for an empty
// instance name, "." / "..", or characters outside [A-Za-z0-9_.-].
std::string instance_pin_dir(const std::string& instance, const std::string& root = kBpffsRoot);
// mkdir -p with mode 0700 below root; throws std::invalid_argument when dir
// is not below root, BpfError when root is not a BPF filesystem (pins would
// silently land in tmpfs) or a mkdir fails.
void make_pin_dir(const std::string& dir, const std::string& root = kBpffsRoot);
// Pins prog_fd at <dir>/prog, replacing an earlier pin of ours atomically
// (pinned at prog_new, renamed over prog; bpffs names have no dots).
std::string pin_program(int prog_fd, const std::string& dir);
// Removes the pins xdpfw creates in dir ("prog" and "xdpfw_*"), then dir
// itself if that left it empty. Other files stay (and are logged). A missing
// dir is not an error. Returns how many pins were removed.
int remove_pin_dir(const std::string& dir);

} // namespace xdpfw
