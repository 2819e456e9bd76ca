// AdminApi: the endpoints facegatectl and the web console use, on the admin listener
// (docs/admin-api.md, docs/api/openapi.yaml).
//
// Every request is authenticated by a bearer token (401 when missing, unknown or revoked),
// checked against the token's role (403), and every change or refusal is written to the audit
// log. Handlers never block the I/O threads: store work runs on a WorkPool of the API's own,
// face work on the face engine's workers (enrollment at the enrollment priority, bulk imports
// at the bulk priority, both below door captures).
// Thread-safety: after Create, every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "facegate/core/clock.h"
#include "facegate/core/config.h"
#include "facegate/core/metrics.h"
#include "facegate/core/status.h"
#include "facegate/face/face_options.h"
#include "facegate/face/matching.h"
#include "facegate/net/http_server.h"
#include "facegate/store/records.h"

namespace facegate::face {
class FaceEngine;
}
namespace facegate::gallery {
class Gallery;
}
namespace facegate::net {
class LocalCa;
}
namespace facegate::store {
class Store;
}

namespace facegate::admin {

// What a face that already matches another user does at enrollment.
enum class DuplicatePolicy { kRefuse, kFlag };

// The "admin" section of the configuration file.
struct AdminApiOptions {
  int request_threads = 4;
  int request_queue = 64;
  // Retention, enforced by a purge about once an hour (0: keep for ever).
  int event_retention_days = 90;
  int audit_retention_days = 365;
  DuplicatePolicy duplicate_enrollment = DuplicatePolicy::kRefuse;
  int import_max_rows = 64;       // rows per import batch request
  int enroll_timeout_ms = 30000;  // how long an enrollment or import photo may wait for a worker
  // Keep the photo each template was enrolled from (encrypted like the templates; erased
  // with them). Off by default: a template is all recognition needs.
  bool keep_photos = false;
  // Web console sessions: signed out after this long without a request, and this long after
  // signing in whatever happens.
  int session_idle_minutes = 30;
  int session_max_hours = 12;
  // The built web console (index.html, assets/), served at / on the admin listener; "" or a
  // directory without index.html: no console.
  std::string console_dir = "/usr/share/facegate/web";
};

void ParseAdminApiOptions(ConfigSection& section, AdminApiOptions* options);

// What the system endpoint reports besides the counts.
struct SystemInfo {
  std::string version;
  Clock::MonoTime started_at{};
  std::string device_listener_address;  // what terminals are told to reach (QR codes)
  std::function<uint16_t()> device_listener_port;
};

// What the API works with; everything must outlive the AdminApi. engine and gallery are null
// when face work is disabled (enrollment and import are then answered 503).
struct AdminApiContext {
  store::Store* store = nullptr;
  face::FaceEngine* engine = nullptr;
  gallery::Gallery* gallery = nullptr;
  const net::LocalCa* ca = nullptr;
  std::string commissioning_secret;
  int commissioning_code_ttl_s = 1800;
  face::MatchingOptions matching;
  SystemInfo system;
  const Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  // Asks the Salto Space integration for a full sync now (POST .../space/sync); null: none.
  std::function<void()> request_space_sync;
  // Run-time details of an integration (a JSON object, e.g. the last sync), answered as
  // "details" by GET /api/v1/integrations[/NAME]; "" or null: none.
  std::function<std::string(std::string_view integration)> integration_details;
};

class AdminApi {
 public:
  static Result<std::shared_ptr<AdminApi>> Create(const AdminApiOptions& options,
                                                  AdminApiContext context);
  virtual ~AdminApi() = default;

  virtual void AddRoutes(net::Router& router) = 0;

  // Periodic duties (the daemon calls it about once a second; it acts when due): the
  // retention purge. Blocking.
  virtual void Tick() = 0;

 protected:
  AdminApi() = default;
};

// 32 random bytes in base64url (43 characters): tokens and SHIP keys.
Result<std::string> RandomSecret();

// A new admin token: "fgt_" and 32 random bytes in base64url; `sha256` receives the 32 raw
// bytes of its SHA-256, the only form that is stored.
Result<std::string> GenerateAdminToken(std::string* sha256);
// The SHA-256 (32 raw bytes) of a presented token.
std::string HashAdminToken(std::string_view token);

}  // namespace facegate::admin
