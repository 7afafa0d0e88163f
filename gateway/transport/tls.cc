#include "gateway/transport/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>

namespace qaqpa::transport {
namespace {

// Mozilla "intermediate" TLS 1.2 suites: forward secrecy and AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string opensslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> makeServerTlsContextBlocking(
    const config::TlsSettings& s, std::string& error) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, s.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    error = "cipher list: " + opensslError();
    return nullptr;
  }
  if (SSL_CTX_use_certificate_chain_file(native, s.cert_file.c_str()) != 1) {
    error = "cert_file " + s.cert_file + ": " + opensslError();
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(native, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "key_file: " + opensslError();  // the path of a key is not secret, but keep it short
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    error = "key_file does not match cert_file " + s.cert_file;
    return nullptr;
  }
  if (s.client_auth != config::ClientAuth::None) {
    if (SSL_CTX_load_verify_locations(native, s.client_ca_file.c_str(), nullptr) != 1) {
      error = "client_ca_file " + s.client_ca_file + ": " + opensslError();
      return nullptr;
    }
    // Tell clients which CAs we accept, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    SSL_CTX_set_purpose(native, X509_PURPOSE_SSL_CLIENT);
    int mode = SSL_VERIFY_PEER;
    if (s.client_auth == config::ClientAuth::Required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(native, mode, nullptr);
    SSL_CTX_set_verify_depth(native, 4);
    // Sessions resumed across listeners must not skip client verification.
    static const unsigned char kSessionContext[] = "qaqpa";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  }
  return ctx;
}

}  // namespace qaqpa::transport
