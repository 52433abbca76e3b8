// SPDX-License-Identifier: GPL-2.0-only
// Tokenizer and shared value parsers of the rule languages.
#include "lib/lang/rule_words.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>

namespace xdpfw {

bool is_rule_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string single_quoted(std::string_view s)
{
    return "'" + std::string(s) + "'";
}

std::vector<RuleWord> split_rule_words(std::string_view text, const std::string& where)
{
    std::vector<RuleWord> words;
    size_t i = 0, n = text.size();
    while (true) {
        while (i < n && is_rule_blank(text[i]))
            ++i;
        if (i >= n)
            break;
        size_t start = i;
        while (i < n && text[i] != '=' && !is_rule_blank(text[i]))
            ++i;
        std::string key(text.substr(start, i - start));
        if (i >= n || text[i] != '=')
            throw PolicyError(where, key, "missing '=' (rules are key=value words, e.g. action=drop)");
        if (key.empty()) {
            size_t end = i;
            while (end < n && !is_rule_blank(text[end]))
                ++end;
            throw PolicyError(where, std::string(text.substr(start, end - start)),
                              "missing key before '='");
        }
        ++i; // '='
        RuleWord w{key, {}};
        while (i < n && !is_rule_blank(text[i]) && text[i] != '"')
            w.value += text[i++];
        if (i < n && text[i] == '"') {
            ++i;
            bool closed = false;
            while (i < n) {
                char c = text[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\' && i < n && (text[i] == '"' || text[i] == '\\'))
                    c = text[i++];
                w.value += c;
            }
            if (!closed)
                throw PolicyError(where, key, "unterminated double quote");
            if (i < n && !is_rule_blank(text[i]))
                throw PolicyError(where, key, "text follows the closing quote without a blank");
        }
        words.push_back(std::move(w));
    }
    return words;
}

std::vector<RuleWord> split_known_rule_words(std::string_view text, const std::string& where,
                                             std::span<const std::string_view> known)
{
    std::vector<RuleWord> words = split_rule_words(text, where);
    std::set<std::string> seen;
    for (const RuleWord& w : words) {
        if (std::find(known.begin(), known.end(), w.key) == known.end()) {
            std::string list;
            for (auto k : known)
                list += (list.empty() ? "" : ", ") + std::string(k);
            throw PolicyError(where, w.key, "unknown key (known keys: " + list + ")");
        }
        if (!seen.insert(w.key).second)
            throw PolicyError(where, w.key, "given twice");
        if (w.value.empty())
            throw PolicyError(where, w.key, "empty value");
    }
    return words;
}

std::string quote_rule_value(std::string_view value)
{
    std::string s = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\')
            s += '\\';
        s += c;
    }
    return s + '"';
}

namespace {

// True if word, split at blanks, has a piece without '=': it cannot be
// several key=value words, so it is one value whose quotes the shell removed.
bool lost_its_quotes(std::string_view word)
{
    if (word.find('"') != std::string_view::npos || word.find('=') == std::string_view::npos)
        return false;
    size_t i = 0;
    bool blank = false;
    while (i < word.size()) {
        while (i < word.size() && is_rule_blank(word[i])) {
            blank = true;
            ++i;
        }
        size_t start = i;
        while (i < word.size() && !is_rule_blank(word[i]))
            ++i;
        if (i > start && word.substr(start, i - start).find('=') == std::string_view::npos)
            return blank || start > 0;
    }
    return false;
}

} // namespace

std::string join_rule_words(const std::vector<std::string>& words)
{
    std::string text;
    for (const std::string& w : words) {
        if (!text.empty())
            text += ' ';
        if (lost_its_quotes(w)) {
            size_t eq = w.find('=');
            text += w.substr(0, eq + 1) + quote_rule_value(std::string_view(w).substr(eq + 1));
        } else {
            text += w;
        }
    }
    return text;
}

uint64_t parse_rule_unsigned(std::string_view v, uint64_t max, const std::string& where,
                             const std::string& key)
{
    if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw PolicyError(where, key, single_quoted(v) + " is not a number");
    uint64_t x = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || ptr != v.data() + v.size() || x > max)
        throw PolicyError(where, key,
                          std::string(v) + " is out of range 0-" + std::to_string(max));
    return x;
}

uint32_t parse_rule_id(std::string_view v, uint32_t max, const std::string& where)
{
    auto id = static_cast<uint32_t>(parse_rule_unsigned(v, max, where, "id"));
    if (id == 0)
        throw PolicyError(where, "id", "must be at least 1");
    return id;
}

int32_t parse_rule_priority(std::string_view v, const std::string& where)
{
    std::string_view digits = v.size() > 0 && v[0] == '-' ? v.substr(1) : v;
    if (digits.empty() ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw PolicyError(where, "priority", single_quoted(v) + " is not a number");
    int64_t x = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || ptr != v.data() + v.size() ||
        x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
        throw PolicyError(where, "priority",
                          std::string(v) + " is out of range " +
                              std::to_string(std::numeric_limits<int32_t>::min()) + " to " +
                              std::to_string(std::numeric_limits<int32_t>::max()));
    return static_cast<int32_t>(x);
}

PortRange parse_rule_ports(std::string_view v, const std::string& where, const std::string& key)
{
    auto dash = v.find('-');
    PortRange r;
    if (dash == std::string_view::npos) {
        r.lo = r.hi = static_cast<uint16_t>(parse_rule_unsigned(v, 65535, where, key));
        return r;
    }
    r.lo = static_cast<uint16_t>(parse_rule_unsigned(v.substr(0, dash), 65535, where, key));
    r.hi = static_cast<uint16_t>(parse_rule_unsigned(v.substr(dash + 1), 65535, where, key));
    if (r.lo > r.hi)
        throw PolicyError(where, key,
                          "range " + std::string(v) + " has its low end above its high end");
    return r;
}

} // namespace xdpfw
