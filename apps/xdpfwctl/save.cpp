// SPDX-License-Identifier: GPL-2.0-only
// `xdpfwctl save`: policy.get's result as a rule file.
#include "apps/xdpfwctl/save.hpp"

#include "apps/xdpfwctl/client.hpp"
#include "lib/lang/field_error.hpp"
#include "lib/lang/policy_codec.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <unistd.h>

namespace xdpfw::ctl {

namespace {

struct Saved {
    uint64_t version = 0;
    Policy policy;
};

Saved decode(const nlohmann::json& result)
{
    if (!result.is_object() || !result.contains("policy") || !result.contains("version") ||
        !result["version"].is_number_unsigned())
        throw ClientError(ClientError::Kind::transport, "bad_response",
                          "policy.get: the answer has no 'policy' object and 'version'");
    try {
        return {result["version"].get<uint64_t>(),
                policy_from_json(result["policy"], "policy", PolicyForm::document)};
    } catch (const std::exception& e) {
        throw ClientError(ClientError::Kind::transport, "bad_response",
                          std::string("policy.get: the daemon's policy does not read back: ") +
                              e.what());
    }
}

std::string utc_now()
{
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string header(uint64_t version)
{
    return fmt::format("# xdpfw policy, version {} of the daemon, saved {} by xdpfwctl save.\n"
                       "# `xdpfwctl load FILE` commits it again (docs/RULES.md).\n",
                       version, utc_now());
}

[[noreturn]] void write_failed(const std::filesystem::path& path, const std::string& what)
{
    throw ClientError(ClientError::Kind::local, "io_error",
                      "cannot write " + path.string() + ": " + what);
}

void write_atomically(const std::filesystem::path& file, const std::string& text)
{
    std::filesystem::path tmp = file;
    tmp += ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out)
            write_failed(tmp, std::strerror(errno));
        out << text;
        out.flush();
        if (!out) {
            std::error_code ignored;
            std::filesystem::remove(tmp, ignored);
            write_failed(tmp, std::strerror(errno));
        }
    }
    if (std::rename(tmp.c_str(), file.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        write_failed(file, why);
    }
}

} // namespace

std::string saved_policy_text(const nlohmann::json& result)
{
    Saved s = decode(result);
    return header(s.version) + policy_to_yaml(s.policy);
}

std::string save_policy(const nlohmann::json& result, const std::optional<std::filesystem::path>& file)
{
    if (!file)
        return saved_policy_text(result);
    Saved s = decode(result);
    write_atomically(*file, header(s.version) + policy_to_yaml(s.policy));
    const size_t rules = s.policy.rules.size(), sets = s.policy.sets.size();
    return fmt::format("saved version {} ({} rule{}, {} set{}) to {}\n", s.version, rules,
                       rules == 1 ? "" : "s", sets, sets == 1 ? "" : "s", file->string());
}

} // namespace xdpfw::ctl
