// SPDX-License-Identifier: GPL-2.0-only
// TestPki: a CA and certificates from the openssl command.
#include "testing/test_pki.hpp"

#include "testing/spawn.hpp"

#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace xdpfw::test {

void TestPki::openssl(const std::vector<std::string>& args) const
{
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = dir_ / "openssl.log";
    const pid_t pid = spawn_logged(argv, log, false, "openssl");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        throw std::runtime_error("openssl " + args.front() + " failed:\n" + ss.str());
    }
}

std::filesystem::path TestPki::make_ca(const std::string& name) const
{
    // Self-signed; openssl req -x509 marks it a CA (basicConstraints).
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", dir_ / (name + ".key"), "-out", dir_ / (name + ".pem"), "-days", "2",
             "-subj", "/CN=xdpfw test " + name});
    return dir_ / (name + ".pem");
}

CertPair TestPki::issue(const std::string& name, const std::string& cn, const std::string& ca_name,
                        const std::string& ext) const
{
    CertPair p{dir_ / (name + ".pem"), dir_ / (name + ".key")};
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             p.key, "-out", dir_ / (name + ".csr"), "-subj", "/CN=" + cn});
    const std::filesystem::path ext_file = dir_.write(name + ".ext", ext);
    openssl({"x509", "-req", "-in", dir_ / (name + ".csr"), "-CA", dir_ / (ca_name + ".pem"),
             "-CAkey", dir_ / (ca_name + ".key"), "-CAcreateserial", "-out", p.cert, "-days", "2",
             "-extfile", ext_file});
    return p;
}

TestPki::TestPki(const std::vector<std::string>& server_ips)
{
    ca = make_ca("ca");
    std::string san = "subjectAltName=";
    for (size_t i = 0; i < server_ips.size(); ++i)
        san += (i ? ",IP:" : "IP:") + server_ips[i];
    // clientAuth too: etcd's JSON gateway dials etcd's own gRPC port with
    // the server certificate when clients must present one.
    server = issue("server", "etcd", "ca", san + "\nextendedKeyUsage=serverAuth,clientAuth\n");
    client = issue("client", "xdpfw", "ca", "extendedKeyUsage=clientAuth\n");
    other_ca = make_ca("other-ca");
    other_client = issue("other-client", "xdpfw", "other-ca", "extendedKeyUsage=clientAuth\n");
}

} // namespace xdpfw::test
