// SPDX-License-Identifier: GPL-2.0-only
// YAML reading helpers shared by the policy and inspection rule files.
#include "lib/lang/yaml_nodes.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace xdpfw {

std::string yaml_at(const std::string& source, const YAML::Node& node)
{
    YAML::Mark mark = node.Mark();
    if (mark.is_null())
        return source;
    return source + ":" + std::to_string(mark.line + 1);
}

std::string yaml_kind(const YAML::Node& node)
{
    switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: return "nothing";
    }
    return "something else";
}

YAML::Node yaml_load(const std::string& text, const std::string& source)
{
    try {
        return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        std::string where = source;
        if (!e.mark.is_null())
            where += ":" + std::to_string(e.mark.line + 1);
        throw PolicyError(where, "", "YAML syntax: " + e.msg);
    }
}

void yaml_for_each_top_key(
    const YAML::Node& root, const std::string& source, const std::string& expected,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& visit)
{
    if (root.IsNull())
        return;
    if (!root.IsMap())
        throw PolicyError(yaml_at(source, root), "",
                          "expected " + expected + ", got " + yaml_kind(root));
    std::set<std::string> seen;
    for (const auto& kv : root) {
        if (!kv.first.IsScalar())
            throw PolicyError(yaml_at(source, kv.first), "", "top-level keys must be names");
        const std::string& key = kv.first.Scalar();
        if (!seen.insert(key).second)
            throw PolicyError(yaml_at(source, kv.first), key, "given twice");
        visit(key, kv.first, kv.second);
    }
}

void yaml_for_each_rule_string(
    const YAML::Node& rules, const std::string& source,
    const std::function<void(const std::string&, const std::string&, size_t)>& visit)
{
    if (!rules || rules.IsNull())
        return;
    if (!rules.IsSequence())
        throw PolicyError(yaml_at(source, rules), "rules",
                          "expected a list of rule strings, got " + yaml_kind(rules));
    size_t number = 0;
    for (const YAML::Node& item : rules) {
        ++number;
        std::string where = yaml_at(source, item) + ": rule " + std::to_string(number);
        if (!item.IsScalar())
            throw PolicyError(where, "", "expected a string of key=value words, got " + yaml_kind(item));
        visit(item.Scalar(), where, number);
    }
}

std::string read_policy_text(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw PolicyError(path.string(), "", std::string("cannot open: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        throw PolicyError(path.string(), "", std::string("read error: ") + std::strerror(errno));
    return text.str();
}

} // namespace xdpfw
