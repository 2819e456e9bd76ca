// Terminal: a door terminal as the tests play it against the real daemon's device listener
// (docs/device-api.md). It makes its own key pair and CSR, commissions itself with a one-time
// code, keeps the certificate it gets, and calls the mTLS endpoints with it, one connection
// per call (as a terminal that sleeps between captures does). Also the pieces tests need to
// misbehave on purpose: keys the server must refuse, foreign identities, hand-made bodies.
// Thread-safety: none; one Terminal per thread (the free functions are thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "facegate/core/status.h"
#include "facegate/net/pki.h"
#include "testing/tls_client.h"

namespace facegate::testing {

// Key types a terminal may try; only the EC curves and RSA 2048+ are allowed by the server.
using TerminalKeyType = net::ClientKeyType;
using KeyAndCsr = net::KeyAndCsr;

// A fresh key of `type` and a CSR for it with subject CN=`common_name`.
inline Result<KeyAndCsr> MakeKeyAndCsr(TerminalKeyType type,
                                       const std::string& common_name = "terminal") {
  return net::MakeKeyAndCsr(type, common_name);
}

struct FormPart {
  std::string name;
  std::string content_type;  // empty: no Content-Type header for the part
  std::string data;
  std::string filename;  // empty: none
};

struct FormBody {
  std::string content_type;  // "multipart/form-data; boundary=..."
  std::string body;
};

// A multipart/form-data body (RFC 7578) of `parts`; the boundary is one no part contains.
FormBody BuildMultipart(const std::vector<FormPart>& parts);

class Terminal {
 public:
  // A terminal that reaches the device listener at host:port and pins `ca_pem` (what the
  // commissioning QR code's fingerprint stands for).
  Terminal(std::string host, uint16_t port, std::string ca_pem);

  // POST /api/v1/commission with `code` and a CSR for a new key of `key_type` (no client
  // certificate). On 200 the terminal keeps the certificate and key it then holds.
  Result<HttpReply> Commission(const std::string& code,
                               TerminalKeyType key_type = TerminalKeyType::kEcP256,
                               const std::string& firmware = "1.4.2");
  // The same with a body of the caller's (damaged CSRs, missing fields).
  Result<HttpReply> CommissionRaw(const std::string& body);

  // POST /api/v1/renew (mTLS) with a CSR for a new key; on 200 the new pair replaces the old.
  Result<HttpReply> Renew(TerminalKeyType key_type = TerminalKeyType::kEcP256);
  // POST /api/v1/heartbeat (mTLS).
  Result<HttpReply> Heartbeat(const nlohmann::json& body = nlohmann::json::object());
  // POST /api/v1/access (mTLS) with the capture as the body and metadata in `headers`.
  Result<HttpReply> Access(const std::string& image, const std::string& content_type = "image/jpeg",
                           const std::map<std::string, std::string>& headers = {});
  // POST /api/v1/access (mTLS) as multipart/form-data.
  Result<HttpReply> AccessMultipart(const std::vector<FormPart>& parts,
                                    const std::map<std::string, std::string>& headers = {});

  // Any request on a connection of its own; with the client certificate when
  // `with_certificate` and the terminal holds one.
  Result<HttpReply> Request(const std::string& method, const std::string& target,
                            const std::string& body = "",
                            const std::map<std::string, std::string>& headers = {},
                            bool with_certificate = true) const;
  // The TLS connection alone (handshake refusals are this call's error).
  Result<std::unique_ptr<TlsClient>> Connect(bool with_certificate = true) const;

  bool commissioned() const { return !certificate_pem_.empty(); }
  int64_t device_id() const { return device_id_; }
  const std::string& certificate_pem() const { return certificate_pem_; }
  const std::string& private_key_pem() const { return private_key_pem_; }
  // Present another identity from now on (a certificate of another CA, an expired one, one
  // kept from before a re-commissioning).
  void SetIdentity(std::string certificate_pem, std::string private_key_pem);

 private:
  // Keeps the certificate of a 200 answer with the key it was requested for.
  void KeepCertificate(const HttpReply& reply, const std::string& private_key_pem);

  std::string host_;
  uint16_t port_;
  std::string ca_pem_;
  std::string certificate_pem_;
  std::string private_key_pem_;
  int64_t device_id_ = 0;
};

}  // namespace facegate::testing
