// SPDX-License-Identifier: GPL-2.0-only
// The policy codec: one decoder over JSON and YAML documents (through a
// small adapter for each), and the writers.
#include "lib/lang/policy_codec.hpp"

#include "lib/lang/inspect_rules.hpp"
#include "lib/lang/json_fields.hpp"
#include "lib/lang/policy_file.hpp"
#include "lib/lang/rule_parser.hpp"
#include "lib/lang/yaml_nodes.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string_view>
#include <type_traits>

namespace xdpfw {

namespace {

using json = nlohmann::json;
using Kind = PolicyFieldError::Kind;

// The top-level keys, in the order they are read (rules refer to sets) and
// written.
constexpr const char* top_keys[] = {"default", "default_non_ip", "malformed", "sets", "rules",
                                     "inspect"};
enum TopKey { k_default, k_default_non_ip, k_malformed, k_sets, k_rules, k_inspect };
constexpr const char* known_keys =
    "(known: default, default_non_ip, malformed, sets, rules, inspect)";
// Keys a state document may lack: older daemons wrote neither.
bool optional_in_state(std::string_view key)
{
    return key == "inspect" || key == "default_non_ip";
}
constexpr const char* set_name_syntax = "([A-Za-z_][A-Za-z0-9_.-]*)";

// What a value should have been; each adapter words it for its readers.
enum class Expect { object, verdict, set_map, set_value, prefix_list, prefix, rule_list, rule_text };

// parse_rule()/parse_inspect_rule() with their PolicyError as a Kind::rule
// error (where, key and message unchanged).
Rule parse_rule_field(const std::string& text, const std::string& where)
{
    try {
        return parse_rule(text, where);
    } catch (const PolicyError& e) {
        throw PolicyFieldError(Kind::rule, e.where(), e.key(), e.problem());
    }
}

inspect::InspectRule parse_inspect_field(const std::string& text, const std::string& where)
{
    try {
        return parse_inspect_rule(text, where);
    } catch (const PolicyError& e) {
        throw PolicyFieldError(Kind::rule, e.where(), e.key(), e.problem());
    }
}

// ---------------------------------------------------------------- adapters
// An adapter shows the decoder one document: node kinds, members, items,
// and errors worded the way that document's readers know it (a JSON path;
// a YAML line and key). A Field is a node with its JSON path and its name
// in YAML messages ("set a", "rule 3").

struct JsonField {
    const json* node = nullptr;
    std::string path, name;
};

class JsonDoc {
public:
    using Field = JsonField;
    static constexpr bool yaml = false;

    explicit JsonDoc(PolicyForm form) : form_(form) {}

    std::string where(const Field& f) const { return f.name.empty() ? f.path : f.path + ": " + f.name; }
    [[noreturn]] void fail(Kind kind, const Field& f, const std::string& problem) const
    {
        throw PolicyFieldError(kind, f.path, "", problem);
    }
    [[noreturn]] void wrong_type(const Field& f, Expect e) const
    {
        throw PolicyFieldError::wrong_type(f.path, "", words(e), f.node->type_name());
    }
    [[noreturn]] void unknown_key(const Field& map, const Field&, const std::string& key) const
    {
        fail(Kind::unknown_key, map, "unknown key '" + key + "' " + known_keys);
    }
    [[noreturn]] void missing(const Field& map, const std::string& key) const
    {
        fail(Kind::missing, map, "missing \"" + key + "\"");
    }

    bool absent(const Field&) const { return false; }
    bool is_list(const Field& f) const { return f.node->is_array(); }
    const std::string& string(const Field& f, Expect e) const
    {
        if (!f.node->is_string())
            wrong_type(f, e);
        return f.node->get_ref<const std::string&>();
    }

    // visit(key, key_field, value_field) for each member of an object.
    template <class Visit>
    void members(const Field& map, Expect e, Visit&& visit) const
    {
        if (!map.node->is_object())
            wrong_type(map, e);
        for (const auto& kv : map.node->items())
            visit(kv.key(), map, Field{&kv.value(), json_fields::join(map.path, kv.key()), ""});
    }
    template <class Visit>
    void top_members(const Field& root, Visit&& visit) const
    {
        members(root, Expect::object, visit);
    }
    // visit(index, item_field) for each item of an array.
    template <class Visit>
    void items(const Field& list, Expect e, Visit&& visit) const
    {
        if (!list.node->is_array())
            wrong_type(list, e);
        for (size_t i = 0; i < list.node->size(); ++i)
            visit(i, Field{&(*list.node)[i], json_fields::index(list.path, i), list.name});
    }
    // JSON sets are arrays of prefixes only.
    template <class ReadList>
    bool read_set_extension(const Field&, PrefixSet&, ReadList&&) const
    {
        return false;
    }

private:
    std::string words(Expect e) const
    {
        switch (e) {
        case Expect::object:
        case Expect::set_map: return "an object";
        case Expect::set_value:
        case Expect::prefix_list: return "an array of prefixes";
        case Expect::rule_list: return form_ == PolicyForm::document ? "an array of strings" : "an array";
        case Expect::verdict:
        case Expect::prefix:
        case Expect::rule_text: return "a string";
        }
        return "something else";
    }

    PolicyForm form_;
};

struct YamlField {
    YAML::Node node;
    std::string path, name;
};

class YamlDoc {
public:
    using Field = YamlField;
    static constexpr bool yaml = true;

    YamlDoc(std::string source, std::filesystem::path base_dir)
        : source_(std::move(source)), base_dir_(std::move(base_dir))
    {
    }

    std::string where(const Field& f) const
    {
        std::string at = yaml_at(source_, f.node);
        return f.name.empty() ? at : at + ": " + f.name;
    }
    [[noreturn]] void fail(Kind kind, const Field& f, const std::string& problem) const
    {
        throw PolicyFieldError(kind, yaml_at(source_, f.node), f.name, problem);
    }
    [[noreturn]] void wrong_type(const Field& f, Expect e) const
    {
        throw PolicyFieldError::wrong_type(yaml_at(source_, f.node), f.name, words(e),
                                           yaml_kind(f.node));
    }
    [[noreturn]] void unknown_key(const Field&, const Field& key_field, const std::string&) const
    {
        fail(Kind::unknown_key, key_field, std::string("unknown top-level key ") + known_keys);
    }
    [[noreturn]] void missing(const Field& map, const std::string& key) const
    {
        fail(Kind::missing, map, "missing \"" + key + "\"");
    }

    bool absent(const Field& f) const { return !f.node || f.node.IsNull(); }
    bool is_list(const Field& f) const { return f.node.IsSequence(); }
    const std::string& string(const Field& f, Expect e) const
    {
        if (!f.node.IsScalar())
            wrong_type(f, e);
        return f.node.Scalar();
    }

    template <class Visit>
    void members(const Field& map, Expect e, Visit&& visit) const
    {
        if (!map.node.IsMap())
            wrong_type(map, e);
        for (const auto& kv : map.node) {
            std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
            visit(key, Field{kv.first, map.path, map.name}, Field{kv.second, map.path, key});
        }
    }
    // The file's top level: keys are names and appear once.
    template <class Visit>
    void top_members(const Field& root, Visit&& visit) const
    {
        yaml_for_each_top_key(
            root.node, source_,
            "a mapping with default, default_non_ip, malformed, sets, rules and inspect",
            [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
                visit(key, Field{key_node, "", key}, Field{value, "", key});
            });
    }
    template <class Visit>
    void items(const Field& list, Expect e, Visit&& visit) const
    {
        if (!list.node.IsSequence())
            wrong_type(list, e);
        size_t i = 0;
        for (const YAML::Node& item : list.node)
            visit(i++, Field{item, list.path, list.name});
    }
    // A set given as {file: NAME, prefixes: [...]} (either or both);
    // read_list(field) reads a list of prefixes into the set.
    template <class ReadList>
    bool read_set_extension(const Field& f, PrefixSet& set, ReadList&& read_list) const
    {
        if (!f.node.IsMap())
            return false;
        for (const auto& kv : f.node) {
            std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
            if (k == "file")
                read_set_file(set, Field{kv.second, f.path, f.name});
            else if (k == "prefixes")
                read_list(Field{kv.second, f.path, f.name});
            else
                fail(Kind::unknown_key, Field{kv.first, f.path, f.name},
                     "unknown key '" + k +
                         "' (a set is a list, or {file: NAME}, {prefixes: [...]} or both)");
        }
        return true;
    }

private:
    void read_set_file(PrefixSet& set, const Field& file) const
    {
        if (!file.node.IsScalar() || file.node.Scalar().empty())
            fail(Kind::type, file, "file: expected a file name, got " + yaml_kind(file.node));
        std::filesystem::path path = base_dir_ / file.node.Scalar();
        std::ifstream in(path);
        if (!in)
            fail(Kind::value, file,
                 "cannot open set file " + path.string() + ": " + std::strerror(errno));
        try {
            PrefixSet from_file = parse_prefix_lines(in, path.string());
            set.edit([&](std::vector<Prefix>& v) {
                v.insert(v.end(), from_file.prefixes().begin(), from_file.prefixes().end());
            });
        } catch (const PolicyError& e) {
            fail(Kind::prefix, file, e.what());
        }
    }

    static std::string words(Expect e)
    {
        switch (e) {
        case Expect::object: return "a mapping";
        case Expect::verdict: return "drop or pass";
        case Expect::set_map: return "a mapping of set names";
        case Expect::set_value: return "a list of prefixes or {file: NAME}";
        case Expect::prefix_list: return "a list of prefixes";
        case Expect::prefix: return "a prefix";
        case Expect::rule_list: return "a list of rule strings";
        case Expect::rule_text: return "a string of key=value words";
        }
        return "something else";
    }

    std::string source_;
    std::filesystem::path base_dir_;
};

// ---------------------------------------------------------------- decoder

// How the two kinds of rule list differ: their names in messages, how a
// rule is read from its text or its state object, whether sets matter.
struct HeaderRules {
    using Item = Rule;
    static constexpr const char* label = "rule";
    static constexpr const char* owner = "rule";
    static Rule parse(const std::string& text, const std::string& where)
    {
        return parse_rule_field(text, where);
    }
    static Rule from_json(const json& obj, const std::string& where, uint32_t max_rules)
    {
        return rule_from_json(obj, where, max_rules);
    }
};

struct InspectRules {
    using Item = inspect::InspectRule;
    static constexpr const char* label = "inspect rule";
    static constexpr const char* owner = "inspection rule";
    static Item parse(const std::string& text, const std::string& where)
    {
        return parse_inspect_field(text, where);
    }
    static Item from_json(const json& obj, const std::string& where, uint32_t)
    {
        return inspect_rule_from_json(obj, where);
    }
};

template <class Doc>
class PolicyDecoder {
public:
    using Field = typename Doc::Field;

    PolicyDecoder(const Doc& doc, PolicyForm form, uint32_t max_rules)
        : doc_(doc), form_(form), max_rules_(max_rules)
    {
    }

    Policy decode(const Field& root)
    {
        std::optional<Field> parts[std::size(top_keys)];
        doc_.top_members(root, [&](const std::string& key, const Field& key_field,
                                   const Field& value) {
            auto it = std::find_if(std::begin(top_keys), std::end(top_keys),
                                   [&](const char* k) { return key == k; });
            if (it != std::end(top_keys))
                parts[it - std::begin(top_keys)] = value;
            else if (form_ == PolicyForm::document)
                doc_.unknown_key(root, key_field, key);
        });
        if (form_ == PolicyForm::state)
            for (size_t i = 0; i < std::size(top_keys); ++i)
                if (!parts[i] && !optional_in_state(top_keys[i]))
                    doc_.missing(root, top_keys[i]);
        if (parts[k_default])
            policy_.default_action = verdict(*parts[k_default]);
        if (parts[k_default_non_ip])
            policy_.default_non_ip_action = verdict(*parts[k_default_non_ip]);
        if (parts[k_malformed])
            policy_.malformed_action = verdict(*parts[k_malformed]);
        if (parts[k_sets])
            read_sets(*parts[k_sets]);
        if (parts[k_rules])
            read_rules<HeaderRules>(*parts[k_rules], policy_.rules);
        if (parts[k_inspect])
            read_rules<InspectRules>(*parts[k_inspect], policy_.inspect);
        return std::move(policy_);
    }

    // One list of prefixes, normalised (the journal's set changes).
    PrefixSet prefixes(const Field& list) const
    {
        PrefixSet set;
        read_prefixes(set, list);
        normalize_set(set);
        return set;
    }

private:
    static Field named(Field f, std::string name)
    {
        f.name = std::move(name);
        return f;
    }

    ActionType verdict(const Field& f) const
    {
        const std::string& s = doc_.string(f, Expect::verdict);
        if (s == "drop")
            return ActionType::drop;
        if (s == "pass")
            return ActionType::pass;
        doc_.fail(Kind::value, f, "'" + s + "' is not drop or pass");
    }

    void read_sets(const Field& f)
    {
        if (doc_.absent(f))
            return;
        doc_.members(f, Expect::set_map, [&](const std::string& name, const Field& key_field,
                                             const Field& value) {
            if (!valid_set_name(name))
                doc_.fail(Kind::set_name, key_field,
                          "'" + name + "' is not a valid set name " + set_name_syntax);
            if (policy_.sets.contains(name))
                doc_.fail(Kind::set_name, named(key_field, "set " + name), "defined twice");
            policy_.sets[name] = read_set(named(value, "set " + name));
        });
    }

    PrefixSet read_set(const Field& f) const
    {
        PrefixSet set;
        auto read_list = [&](const Field& list) { read_prefixes(set, list); };
        if (doc_.is_list(f))
            read_list(f);
        else if (!doc_.absent(f) && !doc_.read_set_extension(f, set, read_list))
            doc_.wrong_type(f, Expect::set_value);
        normalize_set(set);
        return set;
    }

    void read_prefixes(PrefixSet& set, const Field& list) const
    {
        doc_.items(list, Expect::prefix_list, [&](size_t, const Field& item) {
            const std::string& text = doc_.string(item, Expect::prefix);
            try {
                set.edit([&](std::vector<Prefix>& v) { v.push_back(Prefix::parse(text)); });
            } catch (const std::invalid_argument& e) {
                doc_.fail(Kind::prefix, item, e.what());
            }
        });
    }

    // A rule list: "[id=N ]text" strings numbered from 1 (document form) or
    // {"id", "text"} objects (state form, JSON only). Ids are unique; header
    // rules name only sets the policy has.
    template <class Rules, class Item = typename Rules::Item>
    void read_rules(const Field& f, std::vector<Item>& out)
    {
        if (doc_.absent(f))
            return;
        std::map<uint32_t, size_t> owner; // id -> rule number, for the duplicate message
        doc_.items(f, Expect::rule_list, [&](size_t i, const Field& item) {
            const std::string number = std::to_string(i + 1);
            Item rule;
            if (form_ == PolicyForm::document) {
                const Field at = named(item, std::string(Rules::label) + " " + number);
                rule = Rules::parse(doc_.string(at, Expect::rule_text), doc_.where(at));
                if (rule.id == 0)
                    rule.id = static_cast<uint32_t>(i + 1);
            } else if constexpr (!Doc::yaml) {
                rule = Rules::from_json(*item.node, item.path, max_rules_);
            }
            const std::string where =
                doc_.where(named(item, std::string(Rules::label) + " " +
                                           (form_ == PolicyForm::document ? number
                                                                          : std::to_string(rule.id))));
            if (auto [it, fresh] = owner.emplace(rule.id, i + 1); !fresh)
                throw PolicyFieldError(Kind::duplicate_id, where, "id",
                                       std::to_string(rule.id) + " is already used by " +
                                           Rules::owner + " " + std::to_string(it->second));
            if constexpr (std::is_same_v<Item, Rule>)
                check_set_refs(rule, policy_, where);
            out.push_back(std::move(rule));
        });
    }

    const Doc& doc_;
    PolicyForm form_;
    uint32_t max_rules_;
    Policy policy_;
};

// ---------------------------------------------------------------- writing

std::string rule_line(uint32_t id, const std::string& text)
{
    return "id=" + std::to_string(id) + " " + text;
}

template <class R>
json rule_list_json(const std::vector<R>& rules, PolicyForm form)
{
    json out = json::array();
    for (const R& r : rules)
        out.push_back(form == PolicyForm::state ? rule_to_json(r.id, r.text)
                                                : json(rule_line(r.id, r.text)));
    return out;
}

// A YAML scalar that reads back as exactly s: double-quoted (a set named
// "null" stays a string), single-quoted when s has '"' or '\' (inspection
// patterns carry double quotes; '' escapes ').
std::string yaml_quoted(const std::string& s)
{
    if (s.find_first_of("\"\\") == std::string::npos)
        return "\"" + s + "\"";
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

void yaml_list(std::string& out, const json& list, size_t indent)
{
    out += list.empty() ? " []\n" : "\n";
    for (const json& item : list)
        out += std::string(indent, ' ') + "- " + yaml_quoted(item.get<std::string>()) + "\n";
}

} // namespace

// ---------------------------------------------------------------- items

nlohmann::json rule_to_json(uint32_t id, const std::string& text)
{
    return {{"id", id}, {"text", text}};
}

uint32_t rule_id_from_json(const nlohmann::json& obj, const std::string& where, uint32_t max_rules)
{
    using namespace json_fields;
    uint64_t id = unsigned_int(field(obj, where, "id"), join(where, "id"));
    if (id == 0 || id >= max_rules)
        throw PolicyFieldError(Kind::rule, join(where, "id"), "",
                               std::to_string(id) + " is out of range 1.." +
                                   std::to_string(max_rules > 0 ? max_rules - 1 : 0) +
                                   " (max_rules=" + std::to_string(max_rules) + ")");
    return static_cast<uint32_t>(id);
}

Rule rule_from_json(const nlohmann::json& obj, const std::string& where, uint32_t max_rules)
{
    using namespace json_fields;
    object(obj, where);
    const uint32_t id = rule_id_from_json(obj, where, max_rules);
    const std::string& text = string(field(obj, where, "text"), join(where, "text"));
    Rule rule = parse_rule_field(text, where + ": rule " + std::to_string(id));
    rule.id = id;
    return rule;
}

inspect::InspectRule inspect_rule_from_json(const nlohmann::json& obj, const std::string& where)
{
    using namespace json_fields;
    object(obj, where);
    const uint32_t id = rule_id_from_json(obj, where, inspect::max_rules);
    const std::string& text = string(field(obj, where, "text"), join(where, "text"));
    inspect::InspectRule rule = parse_inspect_field(text, where + ": inspect rule " + std::to_string(id));
    rule.id = id;
    return rule;
}

nlohmann::json prefixes_to_json(const PrefixSet& set)
{
    json list = json::array();
    list.get_ref<json::array_t&>().reserve(set.prefixes().size());
    for (const Prefix& p : set.prefixes())
        list.push_back(p.str());
    return list;
}

PrefixSet prefixes_from_json(const nlohmann::json& list, const std::string& where)
{
    JsonDoc doc(PolicyForm::state);
    return PolicyDecoder<JsonDoc>(doc, PolicyForm::state, 0).prefixes({&list, where, ""});
}

// ---------------------------------------------------------------- policies

nlohmann::json policy_to_json(const Policy& policy, PolicyForm form)
{
    json sets = json::object();
    for (const auto& [name, set] : policy.sets)
        sets[name] = prefixes_to_json(set);
    json out = {{"default", action_name(policy.default_action)},
                {"malformed", action_name(policy.malformed_action)},
                {"sets", std::move(sets)},
                {"rules", rule_list_json(policy.rules, form)}};
    // Only when it is not the default (pass): documents and state files of
    // policies that leave it alone read as before, older daemons included.
    if (policy.default_non_ip_action != ActionType::pass)
        out["default_non_ip"] = action_name(policy.default_non_ip_action);
    if (form == PolicyForm::state || !policy.inspect.empty())
        out["inspect"] = rule_list_json(policy.inspect, form);
    return out;
}

Policy policy_from_json(const nlohmann::json& doc, const std::string& where, PolicyForm form,
                        uint32_t max_rules)
{
    JsonDoc adapter(form);
    return PolicyDecoder<JsonDoc>(adapter, form, max_rules).decode({&doc, where, ""});
}

// The document form in YAML syntax, keys in reading order: the YAML writer
// is the JSON writer's output, so the two cannot disagree on a field.
std::string policy_to_yaml(const Policy& policy)
{
    const json doc = policy_to_json(policy, PolicyForm::document);
    std::string out;
    for (const char* key : top_keys) {
        auto it = doc.find(key);
        if (it == doc.end())
            continue;
        out += std::string(key) + ":";
        if (it->is_string()) {
            out += " " + it->get<std::string>() + "\n";
        } else if (it->is_object()) {
            out += it->empty() ? " {}\n" : "\n";
            for (const auto& kv : it->items()) {
                out += "  " + yaml_quoted(kv.key()) + ":";
                yaml_list(out, kv.value(), 4);
            }
        } else {
            yaml_list(out, *it, 2);
        }
    }
    return out;
}

Policy policy_from_yaml(const std::string& yaml, const std::filesystem::path& base_dir,
                        const std::string& source_name)
{
    YamlDoc adapter(source_name, base_dir);
    return PolicyDecoder<YamlDoc>(adapter, PolicyForm::document, 0)
        .decode({yaml_load(yaml, source_name), "", ""});
}

} // namespace xdpfw
