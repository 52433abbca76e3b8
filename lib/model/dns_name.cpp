// SPDX-License-Identifier: GPL-2.0-only
// DNS names in rules: validation, normalisation and wire form.
#include "lib/model/dns_name.hpp"

#include "lib/model/inspect_rule.hpp"

#include <cstdio>

namespace xdpfw::inspect {

namespace {

char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

} // namespace

std::string dns_name_problem(std::string_view text)
{
    if (text.empty())
        return "empty name";
    std::string_view name = text.back() == '.' ? text.substr(0, text.size() - 1) : text;
    if (name.empty())
        return "'" + std::string(text) + "' is the root, not a name";
    if (name.size() > max_dns_text_len)
        return "name is " + std::to_string(name.size()) + " characters, more than " +
               std::to_string(max_dns_text_len);
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        size_t end = dot == std::string_view::npos ? name.size() : dot;
        std::string_view label = name.substr(start, end - start);
        if (label.empty())
            return "empty label in '" + std::string(text) + "'";
        if (label.size() > max_dns_label_len)
            return "label '" + std::string(label) + "' is " + std::to_string(label.size()) +
                   " characters, more than " + std::to_string(max_dns_label_len);
        for (char c : label)
            if (!label_char(c))
                return "character '" + std::string(1, c) + "' in '" + std::string(text) +
                       "' (labels are letters, digits, '-' and '_')";
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    return {};
}

std::string normalize_dns_name(std::string_view text)
{
    std::string s(text);
    if (!s.empty() && s.back() == '.')
        s.pop_back();
    for (char& c : s)
        c = lower(c);
    return s;
}

std::string dns_name_to_wire(std::string_view name)
{
    std::string wire;
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        size_t end = dot == std::string_view::npos ? name.size() : dot;
        wire += static_cast<char>(end - start);
        wire.append(name.substr(start, end - start));
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    wire += '\0';
    return wire;
}

std::string dns_wire_to_text(std::string_view wire)
{
    std::string text;
    size_t pos = 0;
    while (pos < wire.size()) {
        size_t len = static_cast<uint8_t>(wire[pos]);
        if (len == 0 || pos + 1 + len > wire.size())
            break;
        if (!text.empty())
            text += '.';
        for (char c : wire.substr(pos + 1, len)) {
            if (label_char(c)) {
                text += lower(c);
            } else {
                char buf[5];
                std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(static_cast<uint8_t>(c)));
                text += buf;
            }
        }
        pos += 1 + len;
    }
    return text;
}

} // namespace xdpfw::inspect
