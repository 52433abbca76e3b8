// SPDX-License-Identifier: GPL-2.0-only
// XDP attach/detach through libxdp (dispatcher when the kernel allows it,
// libxdp's single-program mode otherwise) or directly through libbpf, and the
// bpffs pin directory helpers.
#include "lib/kernel/attach.hpp"

#include "lib/kernel/log.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>
#include <vector>

namespace xdpfw {

namespace {

// Prefix of the kernel-side name of every XDP program xdpfw loads (the entry
// function is xdpfw_main); detach_all() recognises our programs by it.
constexpr std::string_view kProgNamePrefix = "xdpfw";

enum xdp_attach_mode libxdp_mode(XdpMode m)
{
    return m == XdpMode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB;
}

uint32_t kernel_mode_flag(XdpMode m)
{
    return m == XdpMode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

std::string errno_text(int err)
{
    return std::strerror(err);
}

std::string ifname_of(int ifindex)
{
    char buf[IF_NAMESIZE] = {};
    if (ifindex > 0 && if_indextoname(static_cast<unsigned>(ifindex), buf) != nullptr)
        return buf;
    return fmt::format("ifindex {}", ifindex);
}


// The network namespace an attachment lives in: ifindex values are only
// meaningful there, so detach() enters it when called from another one
// (a test thread that left its EnterNetns scope, a daemon's other thread).
int open_current_netns()
{
    return ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

bool same_file(int a, int b)
{
    struct stat sa{}, sb{};
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

class NetnsVisit {
public:
    explicit NetnsVisit(int target_fd)
    {
        if (target_fd < 0)
            return;
        UniqueFd here(open_current_netns());
        if (here.get() < 0)
            return;
        if (same_file(here.get(), target_fd) || setns(target_fd, CLONE_NEWNET) != 0)
            return;
        back_ = std::move(here);
    }
    ~NetnsVisit()
    {
        if (back_.get() >= 0 && setns(back_.get(), CLONE_NEWNET) != 0)
            spdlog::error("event=netns_restore_failed err=\"{}\"", errno_text(errno));
    }
    NetnsVisit(const NetnsVisit&) = delete;
    NetnsVisit& operator=(const NetnsVisit&) = delete;

private:
    UniqueFd back_;
};

// libxdp first: it builds or extends a dispatcher where the kernel supports
// it and otherwise attaches the program alone. Returns 0 and the owned
// xdp_program on success, or a negative errno.
int attach_with_libxdp(int prog_fd, int ifindex, XdpMode mode, xdp_program** out)
{
    xdp_program* p = xdp_program__from_fd(prog_fd);
    long perr = libxdp_get_error(p);
    if (perr != 0 || p == nullptr)
        return perr != 0 ? static_cast<int>(perr) : -EINVAL;
    // libxdp 1.3.1 returns a program without an fd when it cannot read the
    // program's BTF (BPF_BTF_GET_FD_BY_ID needs CAP_SYS_ADMIN), and its
    // attach then dereferences a null bpf_program (SIGSEGV). Such a program
    // is no use to libxdp: the direct path attaches it.
    if (xdp_program__fd(p) < 0) {
        xdp_program__close(p);
        return -EPERM;
    }
    int err = xdp_program__attach(p, ifindex, libxdp_mode(mode), 0);
    if (err != 0) {
        xdp_program__close(p);
        return err < 0 ? err : -err;
    }
    *out = p;
    return 0;
}

// libbpf prints the kernel's netlink extack as "Kernel error message: ...";
// the last one explains the last failure.
std::string last_kernel_message(const std::string& log)
{
    static constexpr std::string_view tag = "Kernel error message: ";
    size_t at = log.rfind(tag);
    if (at == std::string::npos)
        return {};
    size_t begin = at + tag.size();
    size_t end = log.find('\n', begin);
    return log.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

int attach_direct(int prog_fd, int ifindex, XdpMode mode)
{
    // UPDATE_IF_NOEXIST: never replace a program someone else attached.
    int err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_UPDATE_IF_NOEXIST | kernel_mode_flag(mode),
                             nullptr);
    return err < 0 ? err : -err;
}

// What one attach attempt in one mode did.
struct Attempt {
    int err = 0;                  // 0 or a negative errno
    xdp_program* xprog = nullptr; // owned; set when libxdp did the attach
    bool multiprog = false;       // behind a dispatcher
    std::string kernel_says;      // the kernel's explanation of a failure
};

// One attempt in one mode: libxdp, then the direct path if libxdp could
// not do it (no dispatcher object, no bpffs lock, a program libxdp cannot
// parse). The direct attempt is the kernel's own answer, so its error is
// the one reported when both fail, with the kernel's explanation (netlink
// extack) that libbpf printed. The libraries' warnings along the way are
// demoted to debug: attach_fd() reports the outcome itself.
Attempt try_mode(int prog_fd, uint32_t our_id, int ifindex, const std::string& ifname,
                 XdpMode mode, bool use_libxdp)
{
    LibbpfLogCapture capture;
    QuietLibraryLogs quiet;
    Attempt r;
    if (use_libxdp) {
        r.err = attach_with_libxdp(prog_fd, ifindex, mode, &r.xprog);
        if (r.err == 0) {
            // The program itself in the mode's slot means libxdp fell
            // back to a single-program attach; otherwise the slot holds
            // the dispatcher that runs it.
            r.multiprog = attached_prog_id(ifindex, mode) != our_id;
            return r;
        }
        spdlog::debug("event=libxdp_attach_failed iface={} mode={} err=\"{}\" action=\"trying bpf_xdp_attach\"",
                      ifname, xdp_mode_name(mode), errno_text(-r.err));
    }
    r.err = attach_direct(prog_fd, ifindex, mode);
    if (r.err != 0)
        r.kernel_says = last_kernel_message(capture.text());
    return r;
}

// The attempts opts.mode asks for; *mode is the mode of the last one.
Attempt attach_in_mode(int prog_fd, int ifindex, const std::string& ifname,
                       const AttachOptions& opts, XdpMode* mode)
{
    const uint32_t our_id = prog_id_of(prog_fd);
    *mode = opts.mode == AttachMode::generic ? XdpMode::generic : XdpMode::native;
    Attempt r = try_mode(prog_fd, our_id, ifindex, ifname, *mode, opts.use_libxdp);
    // Busy means another program holds the interface; generic mode
    // would only fail the same way with a less clear message.
    if (opts.mode == AttachMode::auto_ && r.err != 0 && r.err != -EBUSY && r.err != -EEXIST &&
        r.err != -ENODEV) {
        spdlog::warn("event=xdp_native_unavailable iface={} err=\"{}\" kernel=\"{}\" "
                     "action=\"using generic mode\"",
                     ifname, errno_text(-r.err), r.kernel_says);
        *mode = XdpMode::generic;
        r = try_mode(prog_fd, our_id, ifindex, ifname, *mode, opts.use_libxdp);
    }
    return r;
}

} // namespace

uint32_t prog_id_of(int fd)
{
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
        return 0;
    return info.id;
}

const char* attach_mode_name(AttachMode m)
{
    switch (m) {
    case AttachMode::auto_: return "auto";
    case AttachMode::native: return "native";
    case AttachMode::generic: return "generic";
    }
    return "unknown";
}

const char* xdp_mode_name(XdpMode m)
{
    return m == XdpMode::native ? "native" : "generic";
}

AttachMode parse_attach_mode(const std::string& text)
{
    if (text == "auto")
        return AttachMode::auto_;
    if (text == "native" || text == "drv")
        return AttachMode::native;
    if (text == "generic" || text == "skb")
        return AttachMode::generic;
    throw std::invalid_argument(
        fmt::format("xdp mode \"{}\": expected auto, native or generic", text));
}

uint32_t attached_prog_id(int ifindex, XdpMode mode)
{
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(ifindex, 0, &q) != 0)
        return 0;
    return mode == XdpMode::native ? q.drv_prog_id : q.skb_prog_id;
}

XdpAttachment XdpAttachment::attach(const XdpfwObject& obj, const std::string& ifname,
                                    const AttachOptions& opts)
{
    unsigned idx = if_nametoindex(ifname.c_str());
    if (idx == 0) {
        int err = errno == 0 ? ENODEV : errno;
        throw BpfError(err, fmt::format("attach xdp to {}", ifname));
    }
    return attach_fd(obj.prog_fd(), static_cast<int>(idx), opts);
}

XdpAttachment XdpAttachment::attach(const XdpfwObject& obj, int ifindex, const AttachOptions& opts)
{
    return attach_fd(obj.prog_fd(), ifindex, opts);
}

XdpAttachment XdpAttachment::attach_fd(int prog_fd, int ifindex, const AttachOptions& opts)
{
    XdpAttachment a;
    a.info_.ifindex = ifindex;
    a.info_.ifname = ifname_of(ifindex);
    const std::string what = fmt::format("attach xdp to {}", a.info_.ifname);
    char probe[IF_NAMESIZE];
    if (ifindex <= 0 || if_indextoname(static_cast<unsigned>(ifindex), probe) == nullptr)
        throw BpfError(ENODEV, what);
    if (prog_fd < 0)
        throw BpfError(EBADF, what + " (program not loaded)");

    int dup_fd = fcntl(prog_fd, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0)
        throw BpfError(errno, what + " (dup program fd)");
    a.prog_fd_ = UniqueFd(dup_fd); // from here on, a's destructor cleans up
    a.netns_fd_ = UniqueFd(open_current_netns());
    const Attempt r = attach_in_mode(dup_fd, ifindex, a.info_.ifname, opts, &a.info_.mode);
    if (r.err != 0) {
        const std::string detail =
            r.kernel_says.empty()
                ? fmt::format("{} mode", xdp_mode_name(a.info_.mode))
                : fmt::format("{} mode, kernel says \"{}\"", xdp_mode_name(a.info_.mode), r.kernel_says);
        a.reset();
        throw BpfError(-r.err, fmt::format("{} ({})", what, detail));
    }
    a.xprog_ = r.xprog;
    a.info_.multiprog = r.multiprog;
    spdlog::info("event=xdp_attached iface={} ifindex={} mode={} multiprog={} via={}",
                 a.info_.ifname, ifindex, xdp_mode_name(a.info_.mode), a.info_.multiprog,
                 a.xprog_ ? "libxdp" : "libbpf");
    return a;
}

XdpAttachment::XdpAttachment(XdpAttachment&& o) noexcept
    : info_(std::move(o.info_)),
      prog_fd_(std::move(o.prog_fd_)),
      netns_fd_(std::move(o.netns_fd_)),
      xprog_(std::exchange(o.xprog_, nullptr))
{
}

XdpAttachment& XdpAttachment::operator=(XdpAttachment&& o) noexcept
{
    if (this != &o) {
        try {
            detach();
        } catch (const std::exception& e) {
            spdlog::warn("event=xdp_detach_failed iface={} err=\"{}\"", info_.ifname, e.what());
        }
        reset();
        info_ = std::move(o.info_);
        prog_fd_ = std::move(o.prog_fd_);
        netns_fd_ = std::move(o.netns_fd_);
        xprog_ = std::exchange(o.xprog_, nullptr);
    }
    return *this;
}

XdpAttachment::~XdpAttachment()
{
    try {
        detach();
    } catch (const std::exception& e) {
        spdlog::warn("event=xdp_detach_failed iface={} err=\"{}\"", info_.ifname, e.what());
    }
    reset();
}

void XdpAttachment::reset() noexcept
{
    if (xprog_ != nullptr)
        xdp_program__close(xprog_); // closes libxdp's own fd copy; never detaches
    xprog_ = nullptr;
    prog_fd_ = UniqueFd();
    netns_fd_ = UniqueFd();
}

void XdpAttachment::detach()
{
    if (!attached())
        return;
    NetnsVisit in_ns(netns_fd_.get());
    int err;
    if (xprog_ != nullptr) {
        err = xdp_program__detach(xprog_, info_.ifindex, libxdp_mode(info_.mode), 0);
    } else {
        // REPLACE with our fd as the expected program: removes ours only.
        LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = prog_fd_.get());
        err = bpf_xdp_detach(info_.ifindex, XDP_FLAGS_REPLACE | kernel_mode_flag(info_.mode), &o);
    }
    if (err > 0)
        err = -err;
    // Gone interface (namespace deleted) or program already removed by
    // someone else: nothing of ours is attached any more.
    if (err == -ENODEV || err == -ENOENT) {
        spdlog::debug("event=xdp_already_detached iface={} err=\"{}\"", info_.ifname, errno_text(-err));
        err = 0;
    }
    if (err != 0)
        throw BpfError(-err, fmt::format("detach xdp from {}", info_.ifname));
    spdlog::info("event=xdp_detached iface={} mode={}", info_.ifname, xdp_mode_name(info_.mode));
    reset();
}

AttachInfo XdpAttachment::release()
{
    AttachInfo out = info_;
    reset();
    return out;
}

int detach_all(int ifindex)
{
    const std::string name = ifname_of(ifindex);
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
    long perr = libxdp_get_error(mp);
    if (perr == -ENOENT)
        return 0; // nothing attached
    if (perr != 0 || mp == nullptr)
        throw BpfError(perr != 0 ? static_cast<int>(-perr) : EINVAL,
                       fmt::format("detach xdp from {}: query attached programs", name));

    auto ours = [](const xdp_program* p) {
        const char* n = xdp_program__name(p);
        return n != nullptr && std::string_view(n).starts_with(kProgNamePrefix);
    };
    int removed = 0;
    int err = 0;
    if (xdp_multiprog__is_legacy(mp)) {
        xdp_program* main = xdp_multiprog__main_prog(mp);
        if (main != nullptr && ours(main)) {
            err = xdp_multiprog__detach(mp);
            removed = err == 0 ? 1 : 0;
        } else if (main != nullptr) {
            spdlog::info("event=xdp_foreign_program iface={} prog={} action=kept", name,
                         xdp_program__name(main));
        }
    } else {
        std::vector<xdp_program*> progs;
        for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p != nullptr;
             p = xdp_multiprog__next_prog(p, mp)) {
            if (ours(p))
                progs.push_back(p);
        }
        if (!progs.empty()) {
            err = xdp_program__detach_multi(progs.data(), progs.size(), ifindex,
                                            xdp_multiprog__attach_mode(mp), 0);
            removed = err == 0 ? static_cast<int>(progs.size()) : 0;
        }
    }
    xdp_multiprog__close(mp);
    if (err != 0)
        throw BpfError(err < 0 ? -err : err, fmt::format("detach xdp from {}", name));
    return removed;
}

std::string instance_pin_dir(const std::string& instance, const std::string& root)
{
    if (instance.empty())
        throw std::invalid_argument("instance name is empty");
    if (instance == "." || instance == "..")
        throw std::invalid_argument(fmt::format("instance name \"{}\" is not allowed", instance));
    for (char c : instance) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok)
            throw std::invalid_argument(fmt::format(
                "instance name \"{}\": character '{}' not in [A-Za-z0-9_.-]", instance, c));
    }
    return root + "/xdpfw/" + instance;
}

void make_pin_dir(const std::string& dir, const std::string& root)
{
    if (!dir.starts_with(root + "/"))
        throw std::invalid_argument(
            fmt::format("pin directory {} is not inside the BPF filesystem at {}", dir, root));
    struct statfs fs{};
    if (statfs(root.c_str(), &fs) != 0)
        throw BpfError(errno, fmt::format("pin directory {}: {}", dir, root));
    if (static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC)
        throw BpfError(ENOTSUP, fmt::format("pin directory {}: {} is not a BPF filesystem "
                                            "(mount -t bpf bpf {})",
                                            dir, root, root));
    std::filesystem::path path;
    for (const auto& part : std::filesystem::path(dir)) {
        path /= part;
        if (path.string().size() <= root.size())
            continue; // the root itself and its parents exist
        if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
            throw BpfError(errno, fmt::format("create pin directory {}", path.string()));
    }
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw BpfError(ENOTDIR, fmt::format("create pin directory {}", dir));
}

std::string pin_program(int prog_fd, const std::string& dir)
{
    const std::string path = dir + "/prog", fresh = dir + "/prog_new";
    // An older pin is ours (the daemon re-pins after a program swap). The
    // kernel refuses to pin over a file, so the new pin goes beside it and
    // replaces it by rename: there is always a pin, the old or the new.
    if (::unlink(fresh.c_str()) != 0 && errno != ENOENT)
        throw BpfError(errno, fmt::format("pin program at {}: remove stale pin", fresh));
    if (bpf_obj_pin(prog_fd, fresh.c_str()) != 0)
        throw BpfError(errno, fmt::format("pin program at {}", fresh));
    if (::rename(fresh.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(fresh.c_str());
        throw BpfError(err, fmt::format("pin program at {}", path));
    }
    return path;
}

void replace_program(int ifindex, XdpMode mode, int old_fd, int new_fd)
{
    LibbpfLogCapture capture;
    LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = old_fd);
    int err = bpf_xdp_attach(ifindex, new_fd, XDP_FLAGS_REPLACE | kernel_mode_flag(mode), &o);
    if (err > 0)
        err = -err;
    if (err != 0) {
        const std::string says = last_kernel_message(capture.text());
        throw BpfError(-err, fmt::format("replace the xdp program on {} ({} mode{}{})", ifname_of(ifindex),
                                         xdp_mode_name(mode), says.empty() ? "" : ", kernel says: ",
                                         says));
    }
}

void XdpAttachment::replace(int new_prog_fd)
{
    const std::string what = fmt::format("replace the xdp program on {}", info_.ifname);
    if (!attached())
        throw BpfError(ENOENT, what + ": nothing attached");
    if (info_.multiprog)
        throw BpfError(EOPNOTSUPP, what + ": it runs behind libxdp's dispatcher");
    UniqueFd fresh(fcntl(new_prog_fd, F_DUPFD_CLOEXEC, 3));
    if (fresh.get() < 0)
        throw BpfError(errno, what + " (dup program fd)");
    {
        NetnsVisit in_ns(netns_fd_.get());
        replace_program(info_.ifindex, info_.mode, prog_fd_.get(), fresh.get());
    }
    // libxdp's handle names the old program; from here on detach() takes
    // the direct path with our fd as the expected program.
    if (xprog_ != nullptr)
        xdp_program__close(xprog_);
    xprog_ = nullptr;
    prog_fd_ = std::move(fresh);
    spdlog::info("event=xdp_replaced iface={} mode={} prog_id={}", info_.ifname,
                 xdp_mode_name(info_.mode), prog_id_of(prog_fd_.get()));
}

int remove_pin_dir(const std::string& dir)
{
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec == std::errc::no_such_file_or_directory)
        return 0;
    if (ec)
        throw BpfError(ec.value(), fmt::format("remove pin directory {}", dir));
    int removed = 0;
    std::vector<std::string> foreign;
    for (const auto& entry : it) {
        const std::string name = entry.path().filename().string();
        if (name == "prog" || name == "prog_new" || name.starts_with("xdpfw_")) {
            if (::unlink(entry.path().c_str()) != 0 && errno != ENOENT)
                throw BpfError(errno, fmt::format("remove pin {}", entry.path().string()));
            ++removed;
        } else {
            foreign.push_back(name);
        }
    }
    if (foreign.empty()) {
        if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
            throw BpfError(errno, fmt::format("remove pin directory {}", dir));
    } else {
        spdlog::warn("event=pin_dir_kept dir={} foreign_entries=\"{}\"", dir,
                     fmt::join(foreign, ","));
    }
    return removed;
}

} // namespace xdpfw
