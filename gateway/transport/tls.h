// TLS server contexts for listeners (OpenSSL through Asio). Built at startup from the listener's
// TlsSettings; file I/O, so ...Blocking and never on a worker. A context is shared by the
// listener's acceptors on every worker (SSL_CTX is safe to use from several threads).
//
// Policy: TLS 1.2 minimum (1.3 with min_version "1.3"), ECDHE + AEAD cipher suites only for 1.2,
// no renegotiation, no compression. With client_auth optional/required the client chain is
// verified against client_ca_file for the TLS-client purpose, which checks the validity period,
// key usage (digitalSignature/keyAgreement) and extended key usage (clientAuth) when present.
#pragma once

#include <memory>
#include <string>

#include "gateway/config/config.h"

namespace boost::asio::ssl {
class context;
}

namespace qaqpa::transport {

// Returns null and sets `error` (naming the file and OpenSSL's reason) on failure.
std::shared_ptr<boost::asio::ssl::context> makeServerTlsContextBlocking(
    const config::TlsSettings& settings, std::string& error);

}  // namespace qaqpa::transport
