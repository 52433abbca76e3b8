// SPDX-License-Identifier: GPL-2.0-only
// A policy split into a manifest and content-addressed chunks
// (lib/fleet/bundle.hpp) comes back whole, and only whole.
#include "lib/fleet/bundle.hpp"
#include "lib/lang/policy_file.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

using namespace xdpfw;
using namespace xdpfw::fleet;

namespace {

Policy big_policy(size_t n)
{
    std::string y = "default: drop\nsets:\n  small: [192.0.2.0/24]\n  big:\n";
    for (size_t i = 0; i < n; ++i)
        y += fmt::format("    - 20.{}.{}.0/24\n", (i >> 8) & 0xff, i & 0xff);
    y += "rules:\n  - priority=10 src=@big action=drop\n  - id=7 priority=20 src=@small action=pass\n";
    return parse_policy_yaml(y, ".", "test");
}

} // namespace

TEST(FleetBundle, RoundTripsThroughChunks)
{
    const Policy p = big_policy(60000);
    const Bundle b = make_bundle(p, "test push");
    EXPECT_GE(b.chunks.size(), 3u); // 60000 lines of ~14 bytes: over 512 KiB
    for (const auto& [id, bytes] : b.chunks) {
        EXPECT_LE(bytes.size(), chunk_bytes);
        EXPECT_EQ(sha256_hex(bytes), id);
    }
    EXPECT_EQ(manifest_chunks(b.manifest).size(), b.chunks.size());
    EXPECT_LT(b.manifest.dump().size(), 64u * 1024);
    auto read = [&](const std::string& id) -> std::optional<std::string> {
        auto it = b.chunks.find(id);
        return it == b.chunks.end() ? std::nullopt : std::optional(it->second);
    };
    EXPECT_EQ(open_bundle(b.manifest.dump(), read), p);
    // The same set again: the same chunk names (nothing new to write).
    EXPECT_EQ(make_bundle(p, "again").chunks, b.chunks);
}

TEST(FleetBundle, MissingOrAlteredChunkIsRefused)
{
    const Bundle b = make_bundle(big_policy(1000), "x");
    const std::string first = b.chunks.begin()->first;
    EXPECT_THROW(open_bundle(b.manifest.dump(),
                             [&](const std::string& id) -> std::optional<std::string> {
                                 if (id == first)
                                     return std::nullopt;
                                 return b.chunks.at(id);
                             }),
                 std::invalid_argument);
    EXPECT_THROW(open_bundle(b.manifest.dump(),
                             [&](const std::string& id) -> std::optional<std::string> {
                                 return b.chunks.at(id) + "10.0.0.0/8\n";
                             }),
                 std::invalid_argument);
    EXPECT_THROW(open_bundle("{\"format\": 9}", [](const std::string&) { return std::nullopt; }),
                 std::invalid_argument);
    EXPECT_THROW(check_prefix("xdpfw/"), std::invalid_argument);
    EXPECT_NO_THROW(check_prefix("/xdpfw/prod"));
    EXPECT_THROW(check_node_name("a b"), std::invalid_argument);
}
