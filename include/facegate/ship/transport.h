// How SHIP messages travel to a Salto Space server (docs/ship.md), apart from what they say
// (message.h): one call sends one XML document and returns the answer's.
//
// - HTTPS: `POST` with `Content-Type: application/vnd.saltosystems.ship.v1+xml`, the key in
//   `Salto-SHIP-Key` (Space's "custom authentication") or HTTP Basic; keep-alive connections
//   are reused.
// - STP: SHIP's raw TCP framing, `STP/<2-digit version>/<byte length>/<xml>` each way, over
//   TLS or (only when configured so) plain TCP.
//
// The server is always verified: against a CA file (the chain, and the host name or IP in
// its certificate), or by the SHA-256 fingerprint of its certificate pinned in the settings
// (Space servers usually have self-signed certificates; a mismatch names the fingerprint it
// saw, ready to pin). There is no "skip verification".
//
// Every exchange has a deadline covering connect, TLS, write and read. Errors:
//   kUnauthenticated   401/403: the key or the user/password is wrong
//   kUnavailable       cannot connect, TLS failed (certificate not trusted), connection cut
//   kDeadlineExceeded  the deadline passed
//   kInvalidArgument   the answer is not SHIP (content type, framing, size over the limit)
//   kFailedPrecondition another HTTP status
// A connection the server closed while it sat idle is replaced once, transparently (nothing
// had been sent on it); nothing else is retried here: retries are the caller's choice (a door
// opening must never be repeated late).
// Thread-safety: Exchange may be called from several threads at once (each takes its own
// connection from a small pool).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "facegate/core/status.h"

namespace facegate::ship {

inline constexpr std::string_view kShipMediaType = "application/vnd.saltosystems.ship.v1+xml";

struct TransportOptions {
  enum class Kind { kHttps, kStp };
  enum class Auth { kKey, kBasic };

  Kind kind = Kind::kHttps;
  std::string host;  // DNS name or IP literal
  uint16_t port = 8100;
  std::string path = "/";  // HTTPS request target
  bool stp_tls = true;     // STP over TLS (false: plain TCP, for a trusted network only)
  int stp_version = 0;     // the two digits after "STP/"

  Auth auth = Auth::kKey;
  std::string api_key;  // Salto-SHIP-Key (never logged)
  std::string basic_user, basic_password;

  std::filesystem::path ca_file;  // trust anchors for the server's chain
  std::string pin_sha256;         // or: the server certificate's SHA-256, hex (':' allowed)

  std::chrono::milliseconds connect_timeout{3000};  // also bounded by the deadline
  size_t max_response_bytes = 64u << 20;
  size_t max_idle_connections = 4;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `xml` and returns the answer's body, by `deadline`.
  virtual Result<std::string> Exchange(std::string_view xml,
                                       std::chrono::steady_clock::time_point deadline) = 0;
  // "https://space.example:8100/" or "stp+tls://10.0.0.5:8100": for messages and logs.
  virtual std::string Describe() const = 0;
};

// Checks the options (host, port, authentication, exactly one of CA file or pin unless plain
// STP) and loads the CA; connects at the first exchange.
Result<std::unique_ptr<Transport>> MakeTransport(TransportOptions options);

// The pin form of a certificate: SHA-256 of its DER, upper-case hex pairs joined by ':'.
// kInvalidArgument when `pem` holds no certificate.
Result<std::string> CertificateFingerprint(std::string_view pem);
// "ab:CD 01..." -> "AB:CD:01:..."; kInvalidArgument unless it is 32 bytes of hex.
Result<std::string> NormalizeFingerprint(std::string_view text);

}  // namespace facegate::ship
