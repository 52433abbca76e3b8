// SPDX-License-Identifier: GPL-2.0-only
// Temporary directories for tests.
#include "testing/temp_dir.hpp"

#include <stdlib.h>

#include <cerrno>
#include <fstream>
#include <system_error>

namespace xdpfw::test {

TempDir::TempDir(const std::string& prefix)
{
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (!mkdtemp(tmpl.data()))
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    path_ = tmpl;
}

TempDir::~TempDir()
{
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text) const
{
    std::filesystem::path p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << text;
    if (!out)
        throw std::system_error(EIO, std::generic_category(), "write " + p.string());
    return p;
}

} // namespace xdpfw::test
