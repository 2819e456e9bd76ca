// DeviceApi: the endpoints door terminals call on the device listener (docs/device-api.md).
//
//   POST /api/v1/commission  one-time code + CSR -> the terminal's client certificate
//   POST /api/v1/renew       (mTLS) a new CSR -> a new certificate, the old one replaced
//   POST /api/v1/heartbeat   (mTLS) last-seen, firmware, clock; answers pending commands
//   POST /api/v1/access      (mTLS) a capture -> grant or deny, recorded before the answer
//
// Handlers never block the I/O threads: store work runs on a WorkPool of the API's own, face
// work on the face engine's workers. A capture the workers cannot start within the budget is
// answered 503 at once; every decision is one event row committed before the answer.
// Thread-safety: after Create, every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "facegate/access/grant_sender.h"
#include "facegate/access/snapshot.h"
#include "facegate/core/clock.h"
#include "facegate/core/config.h"
#include "facegate/core/metrics.h"
#include "facegate/core/status.h"
#include "facegate/face/face_engine.h"
#include "facegate/gallery/gallery.h"
#include "facegate/net/http_server.h"
#include "facegate/net/pki.h"
#include "facegate/store/store.h"

namespace facegate::api {

// The "devices" section of the configuration file.
struct DeviceApiOptions {
  int commissioning_code_ttl_s = 1800;
  int commission_attempts_per_minute = 5;  // failed codes per client address
  int certificate_validity_days = 397;
  int renew_before_days = 30;
  int heartbeat_interval_s = 30;
  int offline_after_heartbeats = 3;
  int repeat_window_ms = 5000;
  double captures_per_second = 5;
  int capture_budget_ms = 1500;
  // From the capture received to the answer, the access-control system's door opening
  // included: what is left of it bounds the opening (inside the terminal's 2 s).
  int decision_budget_ms = 1800;
  int request_threads = 4;
  int request_queue = 256;
  // Integrations that receive each access event through the outbox ("connect", ...).
  std::vector<std::string> event_destinations;
};

void ParseDeviceApiOptions(ConfigSection& section, DeviceApiOptions* options);

// What the API works with; everything must outlive the DeviceApi. engine and gallery are null
// when face work is disabled (captures are then answered 503).
struct DeviceApiContext {
  store::Store* store = nullptr;
  face::FaceEngine* engine = nullptr;
  gallery::Gallery* gallery = nullptr;
  // The access model in force; called for every decision, must be cheap and thread-safe.
  std::function<std::shared_ptr<const access::AccessSnapshot>()> access_snapshot;
  const net::LocalCa* ca = nullptr;
  std::string commissioning_secret;  // the HMAC key of commissioning codes
  face::MatchingOptions matching;
  // Integrations that take access events through the outbox when they want them (the cloud
  // link while it is enabled): `wanted` is asked for every event, `notify` called once the
  // event is committed. Added to DeviceApiOptions::event_destinations.
  struct EventSink {
    std::string destination;
    std::function<bool()> wanted;
    std::function<void()> notify;
  };
  std::vector<EventSink> event_sinks;
  // Told of every grant (the Salto Space integration opens the door); null: none.
  access::GrantSender* grant_sender = nullptr;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
};

class DeviceApi {
 public:
  static Result<std::shared_ptr<DeviceApi>> Create(const DeviceApiOptions& options,
                                                   DeviceApiContext context);
  virtual ~DeviceApi() = default;

  virtual void AddRoutes(net::Router& router) = 0;

  // Periodic duties (the daemon calls it about once a second): marks devices offline that
  // missed their heartbeats, updates the device and certificate-expiry metrics. Blocking.
  virtual void Tick() = 0;

  // From the last Tick: current device certificates within renew_before_days of expiry
  // (already expired ones included), for /readyz.
  virtual size_t ExpiringCertificates() const = 0;

 protected:
  DeviceApi() = default;
};

// What an admin hands to a terminal at commissioning.
struct IssuedCommissioningCode {
  std::string code;  // "XXXXX-XXXXX", shown once
  Clock::WallTime expires_at;
  // The JSON a console renders as a QR code: {"v":1,"server":..,"port":..,"ca_sha256":..,"code":..}
  std::string qr_payload;
};

// Makes a fresh code for `device_id` (its earlier unused codes stop working) and stores its
// keyed hash. Used by the admin API and by facegatectl on the host.
Result<IssuedCommissioningCode> IssueCommissioningCode(
    store::Store& store, std::string_view secret, int64_t device_id, int ttl_s, const Clock& clock,
    const std::string& server_address, uint16_t server_port, const std::string& ca_sha256);

// The commissioning secret in `path`: read it, creating it (32 random bytes, mode 0600) when
// `create` and it does not exist.
Result<std::string> LoadCommissioningSecret(const std::filesystem::path& path, bool create);

}  // namespace facegate::api
