// SPDX-License-Identifier: GPL-2.0-only
// Policy <-> manifest and content-addressed chunks.
#include "lib/fleet/bundle.hpp"

#include "lib/lang/policy_codec.hpp"

#include <openssl/evp.h>

#include <fmt/format.h>

#include <limits>
#include <stdexcept>

namespace xdpfw::fleet {

using json = nlohmann::json;

namespace {

constexpr int manifest_format = 1;

// Cuts a set's prefixes, one a line, into chunks of at most chunk_bytes
// (each ends with a newline).
std::vector<std::string> cut(const PrefixSet& set)
{
    std::vector<std::string> out;
    std::string cur;
    for (const Prefix& p : set.prefixes()) {
        const std::string line = p.str() + "\n";
        if (cur.size() + line.size() > chunk_bytes) {
            out.push_back(std::move(cur));
            cur.clear();
        }
        cur += line;
    }
    if (!cur.empty())
        out.push_back(std::move(cur));
    return out;
}

} // namespace

void check_prefix(const std::string& prefix)
{
    if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() == '/' ||
        prefix.find("//") != std::string::npos)
        throw std::invalid_argument("etcd prefix '" + prefix +
                                    "': expected /SEGMENT[/SEGMENT...], e.g. /xdpfw/prod");
}

void check_node_name(const std::string& name)
{
    if (name.empty() || name.size() > 64 ||
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
            std::string::npos)
        throw std::invalid_argument("node name '" + name +
                                    "': 1 to 64 of letters, digits, '_', '.', '-'");
}

std::string sha256_hex(std::string_view bytes)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr))
        throw std::runtime_error("sha256 failed");
    std::string hex;
    for (unsigned i = 0; i < len; ++i)
        hex += fmt::format("{:02x}", md[i]);
    return hex;
}

Bundle make_bundle(const Policy& policy, const std::string& summary)
{
    Bundle b;
    Policy head = policy;
    json sets = json::object();
    for (auto& [name, set] : head.sets) {
        json ids = json::array();
        for (std::string& c : cut(set)) {
            std::string id = sha256_hex(c);
            ids.push_back(id);
            b.chunks.emplace(std::move(id), std::move(c));
        }
        sets[name] = {{"size", set.prefixes().size()}, {"chunks", std::move(ids)}};
        set = {};
    }
    b.manifest = {{"format", manifest_format},
                  {"summary", summary},
                  {"policy", policy_to_json(head, PolicyForm::state)},
                  {"sets", std::move(sets)}};
    return b;
}

std::vector<std::string> manifest_chunks(const json& manifest)
{
    std::vector<std::string> out;
    if (auto sets = manifest.find("sets"); sets != manifest.end() && sets->is_object())
        for (const auto& [name, s] : sets->items())
            for (const json& id : s.value("chunks", json::array()))
                out.push_back(id.get<std::string>());
    return out;
}

Policy open_bundle(const std::string& manifest_text,
                   const std::function<std::optional<std::string>(const std::string&)>& chunk)
{
    const json m = json::parse(manifest_text, nullptr, false);
    if (!m.is_object() || m.value("format", 0) != manifest_format || !m.contains("policy") ||
        !m["policy"].is_object())
        throw std::invalid_argument("the policy key does not hold an xdpfw manifest (format " +
                                    std::to_string(manifest_format) + ")");
    json doc = m["policy"];
    const json sets = m.value("sets", json::object());
    for (const auto& [name, s] : sets.items()) {
        json prefixes = json::array();
        for (const json& idj : s.value("chunks", json::array())) {
            const std::string id = idj.get<std::string>();
            const std::optional<std::string> bytes = chunk(id);
            if (!bytes)
                throw std::invalid_argument("set '" + name + "': chunk " + id + " is missing");
            if (sha256_hex(*bytes) != id)
                throw std::invalid_argument("set '" + name + "': chunk " + id +
                                            " does not hash to its name");
            size_t start = 0;
            while (start < bytes->size()) {
                size_t nl = bytes->find('\n', start);
                if (nl == std::string::npos)
                    nl = bytes->size();
                if (nl > start)
                    prefixes.push_back(bytes->substr(start, nl - start));
                start = nl + 1;
            }
        }
        if (prefixes.size() != s.value("size", size_t(0)))
            throw std::invalid_argument(fmt::format("set '{}': {} prefixes in its chunks, the "
                                                    "manifest says {}",
                                                    name, prefixes.size(), s.value("size", 0)));
        doc["sets"][name] = std::move(prefixes);
    }
    // Rule ids are checked against each node's own capacity when it
    // commits; here any id passes.
    return policy_from_json(doc, "policy", PolicyForm::state, std::numeric_limits<uint32_t>::max());
}

} // namespace xdpfw::fleet
