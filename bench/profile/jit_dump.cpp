// SPDX-License-Identifier: GPL-2.0-only
// xdpfw-jit-dump: writes the JIT image of loaded BPF programs, and where each
// of its functions sits in the kernel, so that samples of `perf record` on
// the live path can be placed on instructions (bench/profile/live-profile.sh,
// docs/BENCHMARKS.md, "Profiling the live path"). Debian's bpftool has no
// libbfd, so `bpftool prog dump jited` refuses even to write the raw image;
// BPF_OBJ_GET_INFO_BY_FD gives it without one.
#include "xdpfw_bench_noop.skel.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace {

struct JitFunc {
    uint64_t ksym = 0;  // kernel address of its first byte
    uint32_t len = 0;   // bytes
    uint32_t image = 0; // offset in the program's image
    std::string name;   // from /proc/kallsyms ("?" if not there)
};

struct JitImage {
    uint32_t id = 0;
    std::string name; // the program's (bpf_prog_info.name)
    std::vector<uint8_t> bytes;
    std::vector<JitFunc> funcs;
};

std::system_error sys_error(const std::string& what)
{
    return std::system_error(errno, std::generic_category(), what);
}

// kernel address -> symbol, for the bpf_prog_* symbols only.
std::map<uint64_t, std::string> bpf_kallsyms()
{
    std::ifstream in("/proc/kallsyms");
    if (!in)
        throw sys_error("open /proc/kallsyms");
    std::map<uint64_t, std::string> syms;
    std::string addr, type, name;
    while (in >> addr >> type >> name) {
        std::string rest;
        std::getline(in, rest); // the [module] column, if any
        if (name.rfind("bpf_prog_", 0) == 0)
            syms[std::stoull(addr, nullptr, 16)] = name;
    }
    return syms;
}

JitImage read_image(int fd, const std::map<uint64_t, std::string>& syms)
{
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len))
        throw sys_error("BPF_OBJ_GET_INFO_BY_FD");
    JitImage img;
    img.id = info.id;
    img.name = info.name;
    if (!info.jited_prog_len)
        throw std::runtime_error(fmt::format(
            "program {} ({}) has no JIT image: is net.core.bpf_jit_enable 1?", info.id, img.name));
    img.bytes.resize(info.jited_prog_len);
    std::vector<uint32_t> lens(info.nr_jited_func_lens);
    std::vector<uint64_t> ksyms(info.nr_jited_ksyms);
    const uint32_t n_lens = info.nr_jited_func_lens, n_ksyms = info.nr_jited_ksyms;
    info = bpf_prog_info{};
    info.jited_prog_len = static_cast<uint32_t>(img.bytes.size());
    info.jited_prog_insns = reinterpret_cast<uintptr_t>(img.bytes.data());
    info.nr_jited_func_lens = n_lens;
    info.jited_func_lens = reinterpret_cast<uintptr_t>(lens.data());
    info.nr_jited_ksyms = n_ksyms;
    info.jited_ksyms = reinterpret_cast<uintptr_t>(ksyms.data());
    len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len))
        throw sys_error("BPF_OBJ_GET_INFO_BY_FD (image)");
    if (n_lens != n_ksyms)
        throw std::runtime_error(fmt::format("program {}: {} function lengths but {} symbols",
                                             img.id, n_lens, n_ksyms));
    uint32_t at = 0;
    for (uint32_t i = 0; i < n_lens; i++) {
        auto s = syms.find(ksyms[i]);
        img.funcs.push_back({ksyms[i], lens[i], at, s == syms.end() ? "?" : s->second});
        at += lens[i];
    }
    if (at != img.bytes.size())
        throw std::runtime_error(fmt::format("program {}: functions cover {} of {} bytes", img.id,
                                             at, img.bytes.size()));
    return img;
}

// Writes DIR/prog-ID.bin (the image) and DIR/prog-ID.funcs (one line per
// function: image offset, kernel address, length, symbol).
void write_image(const JitImage& img, const std::string& dir)
{
    const std::string base = fmt::format("{}/prog-{}", dir, img.id);
    std::ofstream bin(base + ".bin", std::ios::binary);
    bin.write(reinterpret_cast<const char*>(img.bytes.data()),
              static_cast<std::streamsize>(img.bytes.size()));
    std::ofstream funcs(base + ".funcs");
    for (const JitFunc& f : img.funcs)
        funcs << fmt::format("{:#x} {:#x} {} {}\n", f.image, f.ksym, f.len, f.name);
    if (!bin || !funcs)
        throw std::runtime_error("cannot write " + base + ".bin/.funcs");
    fmt::print("{} {} {} bytes, {} functions -> {}.bin\n", img.id, img.name, img.bytes.size(),
               img.funcs.size(), base);
}

struct Fd {
    int fd;
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
};

// Loads the no-op, dumps it and checks what came out: the smoke test.
int self_check()
{
    std::unique_ptr<xdpfw_bench_noop, void (*)(xdpfw_bench_noop*)> s(
        xdpfw_bench_noop__open_and_load(), xdpfw_bench_noop__destroy);
    if (!s)
        throw sys_error("load bench_noop");
    const JitImage img = read_image(bpf_program__fd(s->progs.bench_noop), bpf_kallsyms());
    if (img.funcs.empty() || img.funcs[0].name.find("_bench_noop") == std::string::npos)
        throw std::runtime_error(fmt::format("bench_noop's symbol not found (got '{}')",
                                             img.funcs.empty() ? "" : img.funcs[0].name));
    fmt::print("self-check: {} bytes, {} function(s), {} at {:#x}\n", img.bytes.size(),
               img.funcs.size(), img.funcs[0].name, img.funcs[0].ksym);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Write the JIT images of loaded BPF programs (for perf on the live path)"};
    std::vector<uint32_t> ids;
    uint32_t after = 0;
    std::string type = "xdp", dir = ".";
    bool check = false;
    app.add_option("--id", ids, "program id (repeatable)");
    app.add_option("--after", after,
                   "every program of --type whose id is greater than this (0: every one)");
    app.add_option("--type", type, "with --after: xdp (default) or any");
    app.add_option("--out", dir, "directory for prog-ID.bin and prog-ID.funcs")->check(CLI::ExistingDirectory);
    app.add_flag("--self-check", check, "load the benchmark no-op, dump it and check the result");
    CLI11_PARSE(app, argc, argv);
    try {
        if (check)
            return self_check();
        if (app.count("--after")) {
            for (uint32_t id = after; !bpf_prog_get_next_id(id, &id);) {
                Fd fd{bpf_prog_get_fd_by_id(id)};
                bpf_prog_info info{};
                uint32_t len = sizeof(info);
                if (fd.fd >= 0 && !bpf_obj_get_info_by_fd(fd.fd, &info, &len) &&
                    (type == "any" || info.type == BPF_PROG_TYPE_XDP))
                    ids.push_back(id);
            }
        }
        if (ids.empty()) {
            fmt::print(stderr, "xdpfw-jit-dump: no program (give --id, --after or --self-check)\n");
            return 2;
        }
        const auto syms = bpf_kallsyms();
        for (uint32_t id : ids) {
            Fd fd{bpf_prog_get_fd_by_id(id)};
            if (fd.fd < 0)
                throw sys_error(fmt::format("program {}", id));
            write_image(read_image(fd.fd, syms), dir);
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "xdpfw-jit-dump: {}\n", e.what());
        return 1;
    }
    return 0;
}
