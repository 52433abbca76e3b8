// SPDX-License-Identifier: GPL-2.0-only
// The etcd JSON gateway encoding (lib/fleet/etcd_codec.hpp) against bodies
// as etcd 3.4's gateway writes them.
#include "lib/fleet/etcd_client.hpp"
#include "lib/fleet/etcd_codec.hpp"

#include <gtest/gtest.h>

using namespace xdpfw::fleet;
using json = nlohmann::json;

TEST(EtcdCodec, Base64RoundTrips)
{
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foo1"), "Zm9vMQ==");
    std::string all;
    for (int i = 0; i < 256; ++i)
        all += char(i);
    for (size_t n = 0; n < all.size(); n += 37)
        EXPECT_EQ(base64_decode(base64_encode(all.substr(0, n))), all.substr(0, n));
    EXPECT_EQ(base64_decode("YmFy"), "bar");
    EXPECT_THROW(base64_decode("Zm9"), EtcdError);
    EXPECT_THROW(base64_decode("Zm!v"), EtcdError);
    EXPECT_THROW(base64_decode("Z=9v"), EtcdError);
}

TEST(EtcdCodec, PrefixEnd)
{
    EXPECT_EQ(prefix_end("/xdpfw/a/"), "/xdpfw/a0");
    EXPECT_EQ(prefix_end("ab\xff"), "ac");
    EXPECT_EQ(prefix_end("\xff\xff"), std::string(1, '\0'));
}

TEST(EtcdCodec, RangeAnswer)
{
    const json r = json::parse(R"({"header":{"cluster_id":"1","member_id":"2","revision":"7","raft_term":"2"},
        "kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"2","value":"YmF6","lease":"99"}],
        "count":"1"})");
    const RangeResult rr = parse_range(r);
    EXPECT_EQ(rr.revision, 7);
    ASSERT_EQ(rr.kvs.size(), 1u);
    EXPECT_EQ(rr.kvs[0].key, "foo");
    EXPECT_EQ(rr.kvs[0].value, "baz");
    EXPECT_EQ(rr.kvs[0].mod_revision, 3);
    EXPECT_EQ(rr.kvs[0].lease, 99);
    EXPECT_TRUE(parse_range(json::parse(R"({"header":{"revision":"5"}})")).kvs.empty());
}

TEST(EtcdCodec, Requests)
{
    RangeOptions o;
    o.range_end = prefix_end("foo");
    o.revision = 12;
    o.keys_only = true;
    EXPECT_EQ(range_request("foo", o),
              json::parse(R"({"key":"Zm9v","range_end":"Zm9w","revision":"12","keys_only":true})"));
    EXPECT_EQ(put_request("foo", "bar", 5), json::parse(R"({"key":"Zm9v","value":"YmFy","lease":"5"})"));
    const json t = txn_request({{"foo", Compare::Target::mod, Compare::Result::equal, 0}},
                               {{TxnOp::Kind::put, "foo", "bar", 0}, {TxnOp::Kind::del, "x", "", 0}});
    EXPECT_EQ(t["compare"][0],
              json::parse(R"({"key":"Zm9v","target":"MOD","result":"EQUAL","mod_revision":"0"})"));
    EXPECT_EQ(t["success"][0]["request_put"]["value"], "YmFy");
    EXPECT_EQ(t["success"][1]["request_delete_range"]["key"], "eA==");
    EXPECT_TRUE(t["failure"].empty());
    EXPECT_TRUE(parse_txn(json::parse(R"({"header":{"revision":"9"},"succeeded":true})")).succeeded);
    EXPECT_EQ(watch_create_request("a", "b", 3),
              json::parse(R"({"create_request":{"key":"YQ==","range_end":"Yg==","start_revision":"3"}})"));
}

TEST(EtcdCodec, WatchMessages)
{
    const WatchMessage created = parse_watch_message(
        json::parse(R"({"result":{"header":{"revision":"3"},"created":true}})"));
    EXPECT_TRUE(created.created);
    EXPECT_EQ(created.revision, 3);
    const WatchMessage m = parse_watch_message(json::parse(
        R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"Zm9vMQ==","mod_revision":"4","value":"eA=="}},
            {"type":"DELETE","kv":{"key":"Zm9vMQ==","mod_revision":"5"}}]}})"));
    ASSERT_EQ(m.events.size(), 2u);
    EXPECT_FALSE(m.events[0].deleted);
    EXPECT_EQ(m.events[0].kv.value, "x");
    EXPECT_TRUE(m.events[1].deleted);
    EXPECT_EQ(m.events[1].kv.mod_revision, 5);
    const WatchMessage c = parse_watch_message(json::parse(
        R"({"result":{"header":{"revision":"9"},"canceled":true,"compact_revision":"6"}})"));
    EXPECT_TRUE(c.canceled);
    EXPECT_EQ(c.compact_revision, 6);
    EXPECT_THROW(parse_watch_message(json::parse(R"({"error":{"grpc_code":14,"message":"x"}})")),
                 EtcdError);
}

TEST(EtcdCodec, Errors)
{
    const EtcdError e = error_from_body(
        400, R"({"error":"etcdserver: request is too large","message":"etcdserver: request is too large","code":3})");
    EXPECT_EQ(e.grpc_code(), 3);
    EXPECT_NE(std::string(e.what()).find("request is too large"), std::string::npos);
    EXPECT_EQ(error_from_body(404, "404 page not found").grpc_code(), 0);
}

TEST(EtcdCodec, Endpoints)
{
    const auto eps = parse_endpoints("http://127.0.0.1:2379,https://[::1]:2380");
    ASSERT_EQ(eps.size(), 2u);
    EXPECT_EQ(eps[0].host, "127.0.0.1");
    EXPECT_EQ(eps[0].port, "2379");
    EXPECT_FALSE(eps[0].tls);
    EXPECT_EQ(eps[1].host, "::1");
    EXPECT_TRUE(eps[1].tls);
    EXPECT_THROW(parse_endpoint("127.0.0.1:2379"), std::invalid_argument);
    EXPECT_THROW(parse_endpoint("http://host"), std::invalid_argument);
    EXPECT_THROW(parse_endpoints(""), std::invalid_argument);
}
