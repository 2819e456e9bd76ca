// TLS server contexts: TLS 1.2 and 1.3 only, forward-secret AEAD ciphers, optional client
// certificates verified during the handshake.
// Thread-safety: a context is immutable once made and shared by many connections; to change
// certificates, make a new context (HttpsServer::ReplaceTlsContext).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "facegate/core/status.h"

namespace facegate::net {

enum class ClientCertificateMode {
  kNone,      // no client certificate asked for
  kOptional,  // asked for and verified when sent; a connection without one is allowed
  kRequired,  // the handshake fails without a valid one
};

struct TlsServerConfig {
  std::string certificate_chain_pem;  // leaf first
  std::string private_key_pem;
  ClientCertificateMode client_certificates = ClientCertificateMode::kNone;
  std::string client_ca_pem;  // trust anchors for client certificates
  // Let a client certificate whose only fault is that it has expired complete the handshake,
  // so that the application refuses it with a reason the terminal can show ("certificate
  // expired: commission again") instead of a bare handshake failure. The chain, signature and
  // every other check still apply; the application must check PeerCertificate::not_after.
  bool accept_expired_client_certificates = false;
};

// The TLS 1.2 cipher list (TLS 1.3 uses OpenSSL's default suites, all AEAD).
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const TlsServerConfig& config);

// A client context's trust: exactly the certificates of `ca_pem` (never the system's store),
// any of them may end the chain (pinning an intermediate works), peer verification on and
// TLS 1.2 or newer. kInvalidArgument when `ca_pem` holds no certificate.
Status TrustOnly(boost::asio::ssl::context& client, const std::string& ca_pem);

// OpenSSL's queued errors as one line (and clears the queue).
std::string OpenSslErrors();

}  // namespace facegate::net
