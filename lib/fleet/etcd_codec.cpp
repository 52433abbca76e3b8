// SPDX-License-Identifier: GPL-2.0-only
// etcd v3 JSON gateway bodies: building requests, reading answers.
#include "lib/fleet/etcd_codec.hpp"

#include <array>

namespace xdpfw::fleet {

using json = nlohmann::json;

namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::array<int8_t, 256> decode_table()
{
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (size_t i = 0; i < alphabet.size(); ++i)
        t[uint8_t(alphabet[i])] = int8_t(i);
    return t;
}

KeyValue parse_kv(const json& j)
{
    KeyValue kv;
    kv.key = base64_decode(j.value("key", ""));
    kv.value = base64_decode(j.value("value", ""));
    kv.create_revision = json_int(j, "create_revision");
    kv.mod_revision = json_int(j, "mod_revision");
    kv.version = json_int(j, "version");
    kv.lease = json_int(j, "lease");
    return kv;
}

json op_json(const TxnOp& op)
{
    if (op.kind == TxnOp::Kind::put)
        return {{"request_put", put_request(op.key, op.value, op.lease)}};
    return {{"request_delete_range", delete_request(op.key)}};
}

} // namespace

std::string base64_encode(std::string_view bytes)
{
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                           uint8_t(bytes[i + 2]);
        for (int s : {18, 12, 6, 0})
            out += alphabet[(v >> s) & 63];
    }
    const size_t rest = bytes.size() - i;
    if (rest) {
        uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
        if (rest == 2)
            v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string base64_decode(std::string_view text)
{
    static const std::array<int8_t, 256> table = decode_table();
    if (text.size() % 4)
        throw EtcdError("base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (size_t k = 0; k < 4; ++k) {
            const char c = text[i + k];
            int8_t d = 0;
            if (c == '=' && i + 4 == text.size() && k >= 2)
                ++pad;
            else if (pad || (d = table[uint8_t(c)]) < 0)
                throw EtcdError("base64: bad character at " + std::to_string(i + k));
            v = v << 6 | uint32_t(d);
        }
        out += char(v >> 16);
        if (pad < 2)
            out += char((v >> 8) & 0xff);
        if (pad < 1)
            out += char(v & 0xff);
    }
    return out;
}

std::string prefix_end(std::string_view key)
{
    std::string end(key);
    while (!end.empty()) {
        if (uint8_t(end.back()) < 0xff) {
            end.back() = char(uint8_t(end.back()) + 1);
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');
}

int64_t json_int(const json& obj, const char* key)
{
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return 0;
    if (it->is_string())
        return std::stoll(it->get<std::string>());
    return it->get<int64_t>();
}

json range_request(std::string_view key, const RangeOptions& o)
{
    json r = {{"key", base64_encode(key)}};
    if (!o.range_end.empty())
        r["range_end"] = base64_encode(o.range_end);
    if (o.revision)
        r["revision"] = std::to_string(o.revision);
    if (o.limit)
        r["limit"] = std::to_string(o.limit);
    if (o.keys_only)
        r["keys_only"] = true;
    return r;
}

int64_t header_revision(const json& response)
{
    auto h = response.find("header");
    return h == response.end() ? 0 : json_int(*h, "revision");
}

RangeResult parse_range(const json& response)
{
    RangeResult r;
    r.revision = header_revision(response);
    r.more = response.value("more", false);
    if (auto kvs = response.find("kvs"); kvs != response.end())
        for (const json& kv : *kvs)
            r.kvs.push_back(parse_kv(kv));
    return r;
}

json put_request(std::string_view key, std::string_view value, int64_t lease)
{
    json r = {{"key", base64_encode(key)}, {"value", base64_encode(value)}};
    if (lease)
        r["lease"] = std::to_string(lease);
    return r;
}

json delete_request(std::string_view key, std::string_view range_end)
{
    json r = {{"key", base64_encode(key)}};
    if (!range_end.empty())
        r["range_end"] = base64_encode(range_end);
    return r;
}

json txn_request(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                 const std::vector<TxnOp>& failure)
{
    static constexpr const char* targets[] = {"VERSION", "CREATE", "MOD"};
    static constexpr const char* fields[] = {"version", "create_revision", "mod_revision"};
    static constexpr const char* results[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
    json c = json::array(), s = json::array(), f = json::array();
    for (const Compare& cmp : compares)
        c.push_back({{"key", base64_encode(cmp.key)},
                     {"target", targets[int(cmp.target)]},
                     {"result", results[int(cmp.result)]},
                     {fields[int(cmp.target)], std::to_string(cmp.number)}});
    for (const TxnOp& op : success)
        s.push_back(op_json(op));
    for (const TxnOp& op : failure)
        f.push_back(op_json(op));
    return {{"compare", c}, {"success", s}, {"failure", f}};
}

TxnResult parse_txn(const json& response)
{
    return {response.value("succeeded", false), header_revision(response)};
}

json watch_create_request(std::string_view key, std::string_view range_end, int64_t start_revision)
{
    json c = {{"key", base64_encode(key)}};
    if (!range_end.empty())
        c["range_end"] = base64_encode(range_end);
    if (start_revision)
        c["start_revision"] = std::to_string(start_revision);
    return {{"create_request", c}};
}

WatchMessage parse_watch_message(const json& message)
{
    if (auto e = message.find("error"); e != message.end())
        throw EtcdError("watch: " + e->value("message", e->dump()), int(e->value("grpc_code", 0)));
    auto r = message.find("result");
    if (r == message.end() || !r->is_object())
        throw EtcdError("watch: a message without result: " + message.dump());
    WatchMessage m;
    m.revision = header_revision(*r);
    m.created = r->value("created", false);
    m.canceled = r->value("canceled", false);
    m.compact_revision = json_int(*r, "compact_revision");
    m.cancel_reason = r->value("cancel_reason", "");
    if (auto evs = r->find("events"); evs != r->end())
        for (const json& ev : *evs)
            m.events.push_back({ev.value("type", "PUT") == "DELETE", parse_kv(ev.at("kv"))});
    return m;
}

EtcdError error_from_body(int http_status, const std::string& body)
{
    const json j = json::parse(body, nullptr, false);
    if (j.is_object() && (j.contains("message") || j.contains("error")))
        return EtcdError("etcd: " + j.value("message", j.value("error", std::string())),
                         j.value("code", 0));
    return EtcdError("etcd: HTTP " + std::to_string(http_status) + ": " + body.substr(0, 200));
}

} // namespace xdpfw::fleet
