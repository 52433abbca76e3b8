// SPDX-License-Identifier: GPL-2.0-only
// Aligned text tables for human output (numbers right-aligned).
#pragma once

#include <string>
#include <vector>

namespace xdpfw {

class TextTable {
public:
    explicit TextTable(std::vector<std::string> header);
    // Columns whose header ends up in numeric_ are right-aligned.
    void set_numeric(size_t column);
    void add(std::vector<std::string> row);
    std::string str() const;

private:
    std::vector<std::vector<std::string>> rows_;
    std::vector<bool> numeric_;
};

// 1234567 -> "1,234,567"
std::string group_digits(unsigned long long n);

} // namespace xdpfw
