// SPDX-License-Identifier: GPL-2.0-only
// The text exposition writer (format 0.0.4).
#include "lib/metrics/exposition.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace xdpfw::metrics {

namespace {

bool name_char(char c, bool first, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; no colon in label names.
bool valid_name(std::string_view name, bool colon)
{
    if (name.empty())
        return false;
    for (size_t i = 0; i < name.size(); ++i)
        if (!name_char(name[i], i == 0, colon))
            return false;
    return true;
}

const char* type_name(MetricType t)
{
    switch (t) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
    }
    return "untyped";
}

std::string escaped(std::string_view text, bool quote)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (quote && c == '"')
            out += "\\\"";
        else
            out += c;
    }
    return out;
}

} // namespace

std::string escape_label_value(std::string_view value)
{
    return escaped(value, true);
}

std::string escape_help(std::string_view help)
{
    return escaped(help, false);
}

std::string format_value(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", value);
}

void Exposition::begin(std::string_view name, MetricType type, std::string_view help)
{
    if (!valid_name(name, true))
        throw std::logic_error(
            fmt::format("metric name '{}' is not [a-zA-Z_:][a-zA-Z0-9_:]*", name));
    const bool total = name.size() > 6 && name.substr(name.size() - 6) == "_total";
    if ((type == MetricType::counter) != total)
        throw std::logic_error(
            fmt::format("metric '{}': counters, and only they, end in _total", name));
    if (!seen_.emplace(name).second)
        throw std::logic_error(fmt::format("metric family '{}' written twice", name));
    family_ = name;
    type_ = type;
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name,
                        type_name(type));
}

void Exposition::expect(MetricType type) const
{
    if (family_.empty())
        throw std::logic_error("metric sample before any family");
    if ((type == MetricType::histogram) != (type_ == MetricType::histogram))
        throw std::logic_error(
            fmt::format("metric family '{}' is a {}", family_, type_name(type_)));
}

void Exposition::line(std::string_view name, const Labels& labels, const std::string& value,
                      const std::pair<std::string, std::string>* extra)
{
    out_ += name;
    if (!labels.empty() || extra) {
        out_ += '{';
        bool first = true;
        auto add = [&](const std::pair<std::string, std::string>& l) {
            if (!valid_name(l.first, false) || l.first.starts_with("__"))
                throw std::logic_error(
                    fmt::format("metric '{}': bad label name '{}'", name, l.first));
            out_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", l.first,
                                escape_label_value(l.second));
            first = false;
        };
        for (const auto& l : labels)
            add(l);
        if (extra)
            add(*extra);
        out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
}

void Exposition::sample(const Labels& labels, uint64_t value)
{
    expect(MetricType::gauge);
    line(family_, labels, std::to_string(value));
}

void Exposition::sample(const Labels& labels, double value)
{
    expect(MetricType::gauge);
    line(family_, labels, format_value(value));
}

void Exposition::histogram(const Labels& labels, const HistogramSnapshot& h)
{
    expect(MetricType::histogram);
    for (const auto& l : labels)
        if (l.first == "le")
            throw std::logic_error(fmt::format("histogram '{}' has a label named le", family_));
    const std::string bucket = family_ + "_bucket";
    for (size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
        const std::pair<std::string, std::string> le{"le", format_value(h.bounds[i])};
        line(bucket, labels, std::to_string(h.cumulative[i]), &le);
    }
    const std::pair<std::string, std::string> inf{"le", "+Inf"};
    line(bucket, labels, std::to_string(h.count), &inf);
    line(family_ + "_sum", labels, format_value(h.sum));
    line(family_ + "_count", labels, std::to_string(h.count));
}

} // namespace xdpfw::metrics
