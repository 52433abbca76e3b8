// SPDX-License-Identifier: GPL-2.0-only
// Throwaway X.509 material for the TLS tests: a CA, a server certificate
// for given IP addresses and a client certificate it signed, plus a second,
// unrelated CA with a client certificate of its own; made by the openssl
// command in a temporary directory, removed with the object.
#pragma once

#include "testing/temp_dir.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace xdpfw::test {

struct CertPair {
    std::filesystem::path cert, key; // PEM
};

class TestPki {
public:
    // server_ips: the server certificate's subjectAltName IP addresses.
    explicit TestPki(const std::vector<std::string>& server_ips = {"127.0.0.1"});

    std::filesystem::path ca;  // the CA certificate that signed server and client
    CertPair server, client;
    std::filesystem::path other_ca; // an unrelated CA
    CertPair other_client;          // a client certificate other_ca signed

private:
    TempDir dir_{"xdpfw-pki"};
    // openssl ARGS..., its output in the directory's log; throws with the log.
    void openssl(const std::vector<std::string>& args) const;
    // A new EC key and a certificate for cn signed by ca_name (its .pem and
    // .key in the directory) with the extensions in ext.
    CertPair issue(const std::string& name, const std::string& cn, const std::string& ca_name,
                   const std::string& ext) const;
    std::filesystem::path make_ca(const std::string& name) const;
};

} // namespace xdpfw::test
