// SPDX-License-Identifier: GPL-2.0-only
// RAII owner of the loaded xdpfw BPF object (skeleton). Loading sets the
// runtime knobs (rodata) and map sizes, checks every shared map's key and
// value size against abi.h, and on a verifier rejection throws BpfError with
// the verifier log.
#pragma once

#include "lib/tables/capacities.hpp"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

struct xdpfw_bpf; // generated skeleton
struct xdpfw_stages_bpf; // the stage build's skeleton (LoadOptions::stop_after)
struct bpf_map;
struct bpf_object;
struct bpf_object_open_opts;

namespace xdpfw {

struct LoadOptions {
    Capacities caps;                    // map sizes (lib/tables/capacities.hpp)
    bool record_verdict = false;        // tests: write xdpfw_last_verdict per packet
    // Benchmarks (bench/stages): prog_fd() is the stage build's program that
    // returns XDP_DROP right after this stage (enum xdpfw_stage), on this
    // object's maps. 0: the production program, which has no stops at all.
    uint32_t stop_after = 0;
    // When set, every map is pinned in this bpffs directory and maps already
    // pinned there are reused (re-adoption after a daemon restart).
    std::string pin_dir;
    // Flow table entries (ct.max_flows): the table is made when a policy
    // first uses ct= (lib/kernel/conntrack.hpp).
    uint32_t ct_max_flows = 1u << 20;
};

// How xdpfw_tables is cut for capacities c (abi.h, xdpfw_table_slot).
struct TableLayout {
    uint32_t bitmap_pages = 0, chunk_pages = 0, host_pages = 0, slots = 0;
};
TableLayout table_layout(const Capacities& c);

// Makes every map of obj (an object built from xdpfw.bpf.c: the stage
// build, the specialised tier, a test's reference build) the loaded map of
// the same name in from, except .rodata, which belongs to one load, and
// .bss unless with_bss (then obj's program writes from's xdpfw_last). Call
// before loading obj.
void share_maps(bpf_object* obj, const xdpfw_bpf* from, bool with_bss = false);

// Small tables for a handful of rules (tests, benchmarks, labs): the object
// loads and commits fast on small machines.
LoadOptions small_load_options();

// An error from the kernel or libbpf/libxdp: errno plus what we were doing,
// and the verifier log when the kernel refused a program.
class BpfError : public std::system_error {
public:
    BpfError(int err, const std::string& what, std::string verifier_log = {});
    const std::string& verifier_log() const { return log_; }

private:
    std::string log_;
};

// The kernel's verifier log of a BPF object load. open_opts() goes to the
// skeleton's __open_opts(); load() runs the load and, when the kernel refuses,
// throws BpfError carrying the verifier log (or libbpf's own messages when
// the failure was not the verifier's).
class VerifiedLoad {
public:
    VerifiedLoad();
    const ::bpf_object_open_opts* open_opts() const;
    // load_fn is e.g. [&] { return xdpfw_bpf__load(skel); } (0 or -errno).
    template <typename F> void load(F&& load_fn, const std::string& what)
    {
        begin_capture();
        finish(load_fn(), what);
    }

private:
    void begin_capture();
    void finish(int err, const std::string& what);
    std::shared_ptr<void> state_;
};

class XdpfwObject {
public:
    static XdpfwObject load(const LoadOptions& opts);
    XdpfwObject(XdpfwObject&&) noexcept;
    XdpfwObject& operator=(XdpfwObject&&) noexcept;
    ~XdpfwObject();

    xdpfw_bpf* skel() const { return skel_.get(); }
    int prog_fd() const;
    const LoadOptions& options() const { return opts_; }
    // Why the program prog_fd (e.g. one an earlier xdpfwd pinned) cannot
    // stand in for this object's: it uses an xdpfw map that is not this
    // object's, or lacks one every build reads (control, headers, tables,
    // counters); the specialised tier's programs use a subset (maps pinned
    // and reused are the same kernel objects). Empty: it can.
    std::string program_mismatch(int prog_fd) const;
    // Kernel memory of every map of this object, in bytes (the memlock the
    // kernel charges each map: preallocated tables, hash buckets, per-CPU
    // copies). What `xdpfwctl status` reports as kernel map bytes.
    uint64_t map_bytes() const;

private:
    struct Deleter { void operator()(xdpfw_bpf*) const; };
    XdpfwObject(std::unique_ptr<xdpfw_bpf, Deleter> s, LoadOptions o);
    std::unique_ptr<xdpfw_bpf, Deleter> skel_;
    LoadOptions opts_;
    std::shared_ptr<xdpfw_stages_bpf> stages_; // when opts_.stop_after
};

} // namespace xdpfw
