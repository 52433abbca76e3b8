// SPDX-License-Identifier: GPL-2.0-only
// etcd v3's JSON gateway encoding: base64 keys and values, int64s as
// strings, the bodies of range/put/txn/lease/watch requests and what their
// answers hold. No I/O (etcd_client.hpp sends them); unit-tested alone.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace xdpfw::fleet {

// What etcd or the way to it said went wrong. grpc_code is the gRPC status
// the gateway reports (0 when the failure was the connection or HTTP).
class EtcdError : public std::runtime_error {
public:
    EtcdError(const std::string& what, int grpc_code = 0)
        : std::runtime_error(what), grpc_code_(grpc_code)
    {
    }
    int grpc_code() const { return grpc_code_; }

private:
    int grpc_code_;
};

std::string base64_encode(std::string_view bytes);
// Throws EtcdError on a character outside the alphabet or bad padding.
std::string base64_decode(std::string_view text);

// The range_end that makes [key, end) every key starting with key: key
// with its last byte below 0xff incremented (and what follows dropped);
// "\0" (every key) when key is all 0xff bytes or empty.
std::string prefix_end(std::string_view key);

struct KeyValue {
    std::string key, value;
    int64_t create_revision = 0, mod_revision = 0, version = 0, lease = 0;
};

// An int64 as the gateway writes it (a string) or a plain number; absent: 0.
int64_t json_int(const nlohmann::json& obj, const char* key);

struct RangeOptions {
    std::string range_end;   // empty: just key
    int64_t revision = 0;    // 0: the newest
    int64_t limit = 0;       // 0: no limit
    bool keys_only = false;
};
nlohmann::json range_request(std::string_view key, const RangeOptions& o);

struct RangeResult {
    int64_t revision = 0; // the store's revision when it was read
    std::vector<KeyValue> kvs;
    bool more = false;
};
RangeResult parse_range(const nlohmann::json& response);

nlohmann::json put_request(std::string_view key, std::string_view value, int64_t lease = 0);
nlohmann::json delete_request(std::string_view key, std::string_view range_end = {});

// One compare of a txn: the key's mod_revision (or create_revision,
// version) against a number; mod_revision 0 with equal means "absent".
struct Compare {
    enum class Target { version, create, mod };
    enum class Result { equal, greater, less, not_equal };
    std::string key;
    Target target = Target::mod;
    Result result = Result::equal;
    int64_t number = 0;
};
struct TxnOp {
    enum class Kind { put, del };
    Kind kind = Kind::put;
    std::string key, value;
    int64_t lease = 0;
};
nlohmann::json txn_request(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                           const std::vector<TxnOp>& failure = {});
struct TxnResult {
    bool succeeded = false;
    int64_t revision = 0;
};
TxnResult parse_txn(const nlohmann::json& response);

// The header's revision (0 when absent).
int64_t header_revision(const nlohmann::json& response);

// Watch: a create_request for [key, range_end) from start_revision (0: from
// now on).
nlohmann::json watch_create_request(std::string_view key, std::string_view range_end,
                                    int64_t start_revision);
struct WatchEvent {
    bool deleted = false;
    KeyValue kv;
};
struct WatchMessage {
    int64_t revision = 0;
    bool created = false, canceled = false;
    int64_t compact_revision = 0; // set when the start revision was compacted
    std::string cancel_reason;
    std::vector<WatchEvent> events;
};
// One object of the watch stream: {"result": {...}} or {"error": {...}}
// (throws EtcdError).
WatchMessage parse_watch_message(const nlohmann::json& message);

// An error body of the gateway ({"error": "...", "code": N, "message": ...})
// as an EtcdError; any other body too, with the HTTP status.
EtcdError error_from_body(int http_status, const std::string& body);

} // namespace xdpfw::fleet
