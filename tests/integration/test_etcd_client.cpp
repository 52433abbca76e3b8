// SPDX-License-Identifier: GPL-2.0-only
// The etcd client (lib/fleet/etcd_client.hpp) against a real etcd 3.4 on
// 127.0.0.1 (testing/etcd_server.hpp): every call the fleet uses, watches
// that stream, and what a killed etcd looks like to them.
#include "lib/fleet/etcd_client.hpp"
#include "testing/daemon_runner.hpp"
#include "testing/etcd_server.hpp"
#include "testing/temp_dir.hpp"
#include "testing/test_pki.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

using namespace xdpfw;
using namespace xdpfw::fleet;
using namespace std::chrono_literals;

TEST(EtcdClient, KeyValueAndTxn)
{
    test::EtcdServer etcd;
    EtcdClient c(etcd.client_options());
    const int64_t r1 = c.put("/t/a", "one");
    EXPECT_GT(r1, 0);
    c.put("/t/b", std::string("two\0bytes\xff", 10));
    c.put("/u/c", "other");
    auto a = c.get("/t/a");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->value, "one");
    EXPECT_EQ(a->mod_revision, r1);
    RangeOptions o;
    o.range_end = prefix_end("/t/");
    const RangeResult all = c.range("/t/", o);
    ASSERT_EQ(all.kvs.size(), 2u);
    EXPECT_EQ(all.kvs[1].value, std::string("two\0bytes\xff", 10));
    EXPECT_FALSE(c.get("/t/none"));

    // Optimistic concurrency: a txn on a stale mod_revision fails.
    const TxnResult ok = c.txn({{"/t/a", Compare::Target::mod, Compare::Result::equal, r1}},
                               {{TxnOp::Kind::put, "/t/a", "two", 0}});
    EXPECT_TRUE(ok.succeeded);
    const TxnResult stale = c.txn({{"/t/a", Compare::Target::mod, Compare::Result::equal, r1}},
                                  {{TxnOp::Kind::put, "/t/a", "three", 0}});
    EXPECT_FALSE(stale.succeeded);
    EXPECT_EQ(c.get("/t/a")->value, "two");
    // The old value is still there at its revision (MVCC).
    EXPECT_EQ(c.get("/t/a", r1)->value, "one");
    c.del("/t/", prefix_end("/t/"));
    EXPECT_TRUE(c.range("/t/", o).kvs.empty());
    // A value larger than etcd takes is an error naming why.
    try {
        c.put("/t/big", std::string(1800000, 'x'));
        FAIL() << "a 1.8 MB value was taken";
    } catch (const EtcdError& e) {
        EXPECT_NE(std::string(e.what()).find("too large"), std::string::npos) << e.what();
    }
}

TEST(EtcdClient, LeaseKeepsKeyAlive)
{
    test::EtcdServer etcd;
    EtcdClient c(etcd.client_options());
    const int64_t lease = c.lease_grant(2);
    c.put("/n/x", "alive", lease);
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(700ms);
        EXPECT_GT(c.lease_keepalive(lease), 0);
    }
    EXPECT_TRUE(c.get("/n/x"));
    c.lease_revoke(lease);
    EXPECT_FALSE(c.get("/n/x"));
    EXPECT_EQ(c.lease_keepalive(lease), 0); // gone
}

TEST(EtcdClient, WatchStreamsEvents)
{
    test::EtcdServer etcd;
    EtcdClient c(etcd.client_options());
    const int64_t before = c.put("/w/early", "0");
    EtcdWatch w(etcd.client_options(), "/w/", prefix_end("/w/"), before);
    std::vector<WatchEvent> seen;
    auto collect = [&](size_t want) {
        const auto end = std::chrono::steady_clock::now() + 5s;
        while (seen.size() < want && std::chrono::steady_clock::now() < end)
            if (auto m = w.next(200ms))
                seen.insert(seen.end(), m->events.begin(), m->events.end());
    };
    collect(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].kv.key, "/w/early");
    EXPECT_FALSE(w.next(100ms)); // nothing new: no message, no error
    for (int i = 0; i < 20; ++i)
        c.put("/w/k" + std::to_string(i), std::string(100000, char('a' + i)));
    c.del("/w/k3");
    c.put("/other", "not watched");
    collect(22);
    ASSERT_EQ(seen.size(), 22u);
    EXPECT_EQ(seen[20].kv.value, std::string(100000, 't'));
    EXPECT_TRUE(seen[21].deleted);
    EXPECT_EQ(seen[21].kv.key, "/w/k3");

    // etcd killed: the stream ends with an error, not silence.
    etcd.kill();
    EXPECT_THROW(
        {
            for (int i = 0; i < 50; ++i)
                w.next(100ms);
        },
        EtcdError);
    EXPECT_THROW(c.range("/w/"), EtcdError);
    // Back on the same data: the client reconnects on its own.
    etcd.start();
    EXPECT_EQ(c.get("/w/k4")->value, std::string(100000, 'e'));
}

// User/password: a token from /v3/auth/authenticate on every call and
// on the watch; a wrong password is an error with etcd's words.
TEST(EtcdClient, UserPasswordAuthentication)
{
    test::EtcdServer etcd;
    const std::string ctl = "ETCDCTL_API=3 etcdctl --endpoints " + etcd.url() + " ";
    for (const std::string cmd :
         {"user add root --new-user-password=rootpw", "user grant-role root root",
          "user add fw --new-user-password=fwpw", "role add fw",
          "role grant-permission fw --prefix=true readwrite /xdpfw/", "user grant-role fw fw",
          "auth enable"})
        ASSERT_EQ(std::system((ctl + cmd + " >/dev/null 2>&1").c_str()), 0) << cmd;
    EtcdOptions o = etcd.client_options();
    EXPECT_THROW(EtcdClient(o).put("/xdpfw/a", "x"), EtcdError); // no credentials
    o.user = "fw";
    o.password = "wrong";
    EXPECT_THROW(EtcdClient(o).put("/xdpfw/a", "x"), EtcdError);
    o.password = "fwpw";
    EtcdClient c(o);
    const int64_t r = c.put("/xdpfw/a", "x");
    EXPECT_THROW(c.put("/other", "x"), EtcdError); // outside its role
    EtcdWatch w(o, "/xdpfw/", prefix_end("/xdpfw/"), r);
    std::optional<WatchMessage> m;
    for (int i = 0; i < 20 && !(m && !m->events.empty()); ++i)
        m = w.next(200ms);
    ASSERT_TRUE(m && !m->events.empty());
    EXPECT_EQ(m->events[0].kv.value, "x");

    // xdpfwctl --etcd-user with --etcd-password-file (what xdpfwd reads too).
    test::TempDir dir("xdpfw-auth");
    const std::string policy = dir.write("p.yaml", "rules:\n  - proto=udp dport=53 action=drop\n");
    const std::vector<std::string> base = {"--etcd", etcd.url(), "--etcd-prefix", "/xdpfw/p",
                                           "--etcd-user", "fw", "--etcd-password-file"};
    auto xdpfwctl = [&](const std::string& password, const std::vector<std::string>& args) {
        std::vector<std::string> all = base;
        all.push_back(dir.write("pw", password + "\n"));
        all.insert(all.end(), args.begin(), args.end());
        return test::run_ctl(all);
    };
    test::CtlResult res = xdpfwctl("fwpw", {"load", policy});
    EXPECT_EQ(res.code, 0) << res.err;
    res = xdpfwctl("fwpw", {"fleet", "status", "--json"});
    ASSERT_EQ(res.code, 0) << res.err;
    EXPECT_GT(res.json()["revision"].get<int64_t>(), 0);
    res = xdpfwctl("wrong", {"load", policy});
    EXPECT_EQ(res.code, 1);
    EXPECT_NE(res.err.find("authentication failed"), std::string::npos) << res.err;
}

namespace {

std::string error_of(const EtcdOptions& o)
{
    try {
        EtcdClient(o).range("/xdpfw/");
    } catch (const EtcdError& e) {
        return e.what();
    }
    return "";
}

} // namespace

// Client TLS: etcd on https wanting client certificates (--client-cert-auth
// with --trusted-ca-file); a throwaway CA from testing/test_pki.hpp. Calls
// and watches work with the CA and a certificate it signed; a server the
// configured CA did not sign, and a client without a good certificate, are
// refused with errors that say so.
TEST(EtcdClient, ClientCertificates)
{
    test::TestPki pki;
    test::EtcdServerOptions so;
    so.tls = test::EtcdServerOptions::Tls{pki.ca, pki.server, pki.client};
    test::EtcdServer etcd(so);
    ASSERT_EQ(etcd.url().rfind("https://127.0.0.1:", 0), 0u) << etcd.url();
    const EtcdOptions good = etcd.client_options();
    EtcdClient c(good);
    const int64_t r = c.put("/xdpfw/a", "x");
    EXPECT_EQ(c.get("/xdpfw/a")->value, "x");
    EtcdWatch w(good, "/xdpfw/", prefix_end("/xdpfw/"), r);
    std::optional<WatchMessage> m;
    for (int i = 0; i < 20 && !(m && !m->events.empty()); ++i)
        m = w.next(200ms);
    ASSERT_TRUE(m && !m->events.empty());
    EXPECT_EQ(m->events[0].kv.value, "x");

    // Another CA to trust: the server's certificate does not verify.
    EtcdOptions o = good;
    o.ca_file = pki.other_ca;
    std::string e = error_of(o);
    EXPECT_NE(e.find("TLS handshake: certificate verify failed"), std::string::npos) << e;
    EXPECT_THROW(EtcdWatch(o, "/xdpfw/", prefix_end("/xdpfw/"), r), EtcdError);
    // No client certificate, or one from another CA: etcd refuses. Under
    // TLS 1.3 the client's handshake ends before the server checks the
    // certificate, so the refusal arrives as the server's alert or, when
    // the server has already closed, as a reset on the first write.
    const auto refused = [](const std::string& err) {
        return err.find("certificate") != std::string::npos ||
               err.find("Connection reset by peer") != std::string::npos;
    };
    o = good;
    o.cert_file.clear();
    o.key_file.clear();
    e = error_of(o);
    EXPECT_TRUE(refused(e)) << e;
    o.cert_file = pki.other_client.cert;
    o.key_file = pki.other_client.key;
    e = error_of(o);
    EXPECT_TRUE(refused(e)) << e;
    // http:// to the https port: an error, not a hang.
    o = good;
    o.endpoints[0].tls = false;
    EXPECT_FALSE(error_of(o).empty());
}
