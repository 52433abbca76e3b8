// SPDX-License-Identifier: GPL-2.0-only
// The control protocol's tables (commands, error codes) against
// docs/PROTOCOL.md, and the framing both ends share.
#include "lib/model/error.hpp"
#include "lib/protocol/protocol.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace xdpfw::protocol {
namespace {

using json = nlohmann::json;

// The first column of the markdown table under `heading` in docs/PROTOCOL.md.
std::vector<std::string> doc_table(const std::string& heading)
{
    std::ifstream in(std::string(XDPFW_SOURCE_DIR) + "/docs/PROTOCOL.md");
    std::string line;
    bool in_section = false;
    std::vector<std::string> out;
    const std::regex row(R"(^\| `([a-z_.]+)` \|)");
    while (std::getline(in, line)) {
        if (line.rfind("## ", 0) == 0)
            in_section = line == heading;
        std::smatch m;
        if (in_section && std::regex_search(line, m, row))
            out.push_back(m[1]);
    }
    return out;
}

TEST(ProtocolErrors, EveryCodeHasAUniqueNameThatRoundTrips)
{
    std::set<std::string_view> names;
    for (ErrorCode c : all_error_codes()) {
        const std::string_view name = error_name(c);
        EXPECT_FALSE(name.empty());
        EXPECT_TRUE(names.insert(name).second) << name;
        EXPECT_EQ(error_code_from_name(name), c) << name;
    }
    EXPECT_EQ(names.size(), error_code_count);
}

TEST(ProtocolErrors, TableIsExactlyTheDocumentedCodes)
{
    std::vector<std::string> ours;
    for (ErrorCode c : all_error_codes())
        ours.emplace_back(error_name(c));
    EXPECT_EQ(ours, doc_table("## Error codes"));
}

TEST(ProtocolErrors, UnknownNameIsNoCode)
{
    EXPECT_EQ(error_code_from_name("timeout"), std::nullopt); // xdpfwctl's own
    EXPECT_EQ(error_code_from_name(""), std::nullopt);
    EXPECT_EQ(error_code_from_name("Capacity"), std::nullopt);
}

TEST(ProtocolCommands, EveryCommandRoundTripsAndIsDocumented)
{
    std::set<std::string_view> names;
    std::vector<std::string> ours;
    for (Command c : all_commands()) {
        const std::string_view name = command_name(c);
        EXPECT_TRUE(names.insert(name).second) << name;
        EXPECT_EQ(command_from_name(name), c) << name;
        EXPECT_EQ(request_command(make_request(c)), c) << name;
        ours.emplace_back(name);
    }
    EXPECT_EQ(ours, doc_table("## Commands"));
}

TEST(ProtocolCommands, UnknownCommandIsRefusedNamingTheKnownOnes)
{
    EXPECT_EQ(command_from_name("rule.frobnicate"), std::nullopt);
    try {
        request_command({{"id", 1}, {"cmd", "rule.frobnicate"}});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::unknown_command);
        EXPECT_EQ(std::string(e.what()), "unknown command 'rule.frobnicate' (known: " +
                                             known_commands() + ")");
    }
    EXPECT_EQ(known_commands().rfind("confirm, ct.flush, ct.list, detach, diff, history, inspect.add", 0), 0u);
    try {
        request_command(json::array());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_json);
    }
}

TEST(ProtocolFraming, RequestLineAddsAnIdOnce)
{
    json req = make_request(Command::rule_del);
    req["rule_id"] = 3;
    EXPECT_EQ(request_line(req), R"({"cmd":"rule.del","id":1,"rule_id":3})"
                                 "\n");
    req["id"] = 9;
    EXPECT_EQ(request_line(req), R"({"cmd":"rule.del","id":9,"rule_id":3})"
                                 "\n");
    EXPECT_EQ(request_id(json{{"id", 7}}), 7);
    EXPECT_EQ(request_id(json{{"id", "7"}}), 0);
    EXPECT_EQ(line_request_id(R"({"id":12,"cmd":)"), 0);
    EXPECT_EQ(line_request_id(R"({"id":12})"), 12);
}

TEST(ProtocolFraming, ResponsesAreTheDocumentedShapes)
{
    EXPECT_EQ(response_line(success_response(4, {{"version", 2}})),
              R"({"id":4,"ok":true,"version":2})"
              "\n");
    EXPECT_EQ(response_line(error_response(5, ErrorCode::unknown_set, "no set named 'x'")),
              R"({"error":{"code":"unknown_set","message":"no set named 'x'"},"id":5,"ok":false})"
              "\n");
}

TEST(ProtocolFraming, ParseResponse)
{
    Response ok = parse_response_line(R"({"id":3,"ok":true,"rule_id":4})");
    EXPECT_TRUE(ok.ok);
    EXPECT_EQ(ok.id, 3);
    EXPECT_EQ(result_of(ok.full), json({{"rule_id", 4}}));

    Response known = parse_response_line(
        R"({"id":3,"ok":false,"error":{"code":"capacity","message":"full"}})");
    EXPECT_FALSE(known.ok);
    EXPECT_EQ(known.code, ErrorCode::capacity);
    EXPECT_EQ(known.code_name, "capacity");
    EXPECT_EQ(known.message, "full");

    Response unknown = parse_response_line(R"({"id":3,"ok":false,"error":{"code":"later"}})");
    EXPECT_EQ(unknown.code, std::nullopt);
    EXPECT_EQ(unknown.code_name, "later");
    EXPECT_EQ(unknown.message, "(no message)");

    EXPECT_THROW(parse_response_line("nope"), BadResponse);
    EXPECT_THROW(parse_response_line(R"({"id":3})"), BadResponse);
    EXPECT_THROW(parse_response_line(R"({"id":3,"ok":false,"error":{"code":5}})"), BadResponse);
}

} // namespace
} // namespace xdpfw::protocol
