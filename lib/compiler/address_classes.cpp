// SPDX-License-Identifier: GPL-2.0-only
// Atoms (a literal prefix or a named set) and address classes: the distinct
// sets of atoms whose prefixes contain an address, interned per direction.
#include "lib/compiler/addr_detail.hpp"

#include <algorithm>
#include <atomic>
#include <iterator>

namespace xdpfw::detail {

std::string AtomLabel::str() const
{
    if (key.is_set)
        return "set @" + key.set;
    if (rule_id)
        return "rule " + std::to_string(rule_id) + " (" + key.prefix.str() + ")";
    return "prefix " + key.prefix.str();
}

uint64_t next_tables_id()
{
    static std::atomic<uint64_t> next{1};
    return next++;
}

ClassBuilder::ClassBuilder(uint32_t capacity, const std::string& dir_key)
    : capacity_(capacity), key_(dir_key)
{
    classes_.push_back({});
    class_index_.emplace(std::vector<uint32_t>{}, 0);
}

uint32_t ClassBuilder::own(const std::vector<uint32_t>& atoms)
{
    auto it = own_index_.find(atoms);
    if (it != own_index_.end())
        return it->second;
    auto id = static_cast<uint32_t>(owns_.size());
    owns_.push_back(atoms);
    own_index_.emplace(atoms, id);
    return id;
}

uint32_t ClassBuilder::child(uint32_t parent, uint32_t own_id)
{
    uint64_t key = (uint64_t{parent} << 32) | own_id;
    auto it = transitions_.find(key);
    if (it != transitions_.end())
        return it->second;
    std::vector<uint32_t> merged;
    const auto& a = classes_[parent];
    const auto& b = owns_[own_id];
    std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(merged));
    uint32_t id;
    auto ci = class_index_.find(merged);
    if (ci != class_index_.end()) {
        id = ci->second;
    } else {
        if (classes_.size() >= capacity_)
            throw CapacityError("policy", key_,
                                "too many distinct address classes (more than "
                                "max_addr_classes=" +
                                    std::to_string(capacity_) +
                                    "): the sets and prefixes overlap in too many ways");
        id = static_cast<uint32_t>(classes_.size());
        classes_.push_back(merged);
        class_index_.emplace(std::move(merged), id);
    }
    transitions_.emplace(key, id);
    return id;
}

std::string atom_names(const ClassBuilder& cb, const std::vector<AtomLabel>& names,
                       uint32_t own_id)
{
    std::string s;
    for (uint32_t a : cb.own_atoms(own_id)) {
        if (!s.empty())
            s += ", ";
        s += a < names.size() ? names[a].str() : "atom " + std::to_string(a);
    }
    return s;
}

} // namespace xdpfw::detail
