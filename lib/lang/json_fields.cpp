// SPDX-License-Identifier: GPL-2.0-only
// JSON field access with errors that name the JSON path.
#include "lib/lang/json_fields.hpp"

namespace xdpfw::json_fields {

std::string join(const std::string& where, const std::string& key)
{
    return where.empty() ? key : where + "." + key;
}

std::string index(const std::string& where, size_t i)
{
    return where + "[" + std::to_string(i) + "]";
}

void fail(const std::string& where, const std::string& problem)
{
    throw PolicyFieldError(PolicyFieldError::Kind::value, where, "", problem);
}

const nlohmann::json& field(const nlohmann::json& obj, const std::string& where, const char* key)
{
    auto it = obj.find(key);
    if (it == obj.end())
        throw PolicyFieldError(PolicyFieldError::Kind::missing, where, "",
                               std::string("missing \"") + key + "\"");
    return *it;
}

const nlohmann::json& object(const nlohmann::json& v, const std::string& where)
{
    if (!v.is_object())
        throw PolicyFieldError::wrong_type(where, "", "an object", v.type_name());
    return v;
}

const nlohmann::json& array(const nlohmann::json& v, const std::string& where,
                            const std::string& expected)
{
    if (!v.is_array())
        throw PolicyFieldError::wrong_type(where, "", expected, v.type_name());
    return v;
}

const std::string& string(const nlohmann::json& v, const std::string& where)
{
    if (!v.is_string())
        throw PolicyFieldError::wrong_type(where, "", "a string", v.type_name());
    return v.get_ref<const std::string&>();
}

uint64_t unsigned_int(const nlohmann::json& v, const std::string& where)
{
    if (!v.is_number_unsigned())
        throw PolicyFieldError::wrong_type(where, "", "a non-negative integer",
                                           v.is_number() ? v.dump() : v.type_name());
    return v.get<uint64_t>();
}

} // namespace xdpfw::json_fields
