// SPDX-License-Identifier: GPL-2.0-only
// Aligned text tables.
#include "lib/base/table.hpp"

#include <algorithm>
#include <stdexcept>

namespace xdpfw {

TextTable::TextTable(std::vector<std::string> header) : numeric_(header.size(), false)
{
    rows_.push_back(std::move(header));
}

void TextTable::set_numeric(size_t column)
{
    numeric_.at(column) = true;
}

void TextTable::add(std::vector<std::string> row)
{
    if (row.size() != numeric_.size())
        throw std::invalid_argument("table row has " + std::to_string(row.size()) +
                                    " cells, the header " + std::to_string(numeric_.size()));
    rows_.push_back(std::move(row));
}

std::string TextTable::str() const
{
    std::vector<size_t> width(numeric_.size(), 0);
    for (const auto& r : rows_)
        for (size_t c = 0; c < r.size(); c++)
            width[c] = std::max(width[c], r[c].size());
    std::string out;
    for (const auto& r : rows_) {
        std::string line;
        for (size_t c = 0; c < r.size(); c++) {
            const bool last = c + 1 == r.size();
            std::string pad(width[c] - r[c].size(), ' ');
            if (numeric_[c])
                line += pad + r[c];
            else
                line += last ? r[c] : r[c] + pad;
            if (!last)
                line += "  ";
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string group_digits(unsigned long long n)
{
    std::string s = std::to_string(n);
    for (int i = int(s.size()) - 3; i > 0; i -= 3)
        s.insert(size_t(i), ",");
    return s;
}

} // namespace xdpfw
