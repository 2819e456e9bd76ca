#include "facegate/api/device_api.h"

#include <openssl/rand.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <variant>

#include "api/capture_request.h"
#include "facegate/access/decision.h"
#include "facegate/access/local_time.h"
#include "facegate/core/files.h"
#include "facegate/core/time_format.h"
#include "facegate/core/work_pool.h"
#include "facegate/store/commissioning.h"

namespace facegate::api {

using json = nlohmann::json;
using net::http::status;

void ParseDeviceApiOptions(ConfigSection& s, DeviceApiOptions* o) {
  s.Get("commissioning_code_ttl_s", &o->commissioning_code_ttl_s, 60, 30 * 86400);
  s.Get("commission_attempts_per_minute", &o->commission_attempts_per_minute, 1, 10000);
  s.Get("certificate_validity_days", &o->certificate_validity_days, 1, 3650);
  s.Get("renew_before_days", &o->renew_before_days, 0, 365);
  if (o->renew_before_days >= o->certificate_validity_days) {
    s.Error("renew_before_days", "must be less than certificate_validity_days");
  }
  s.Get("heartbeat_interval_s", &o->heartbeat_interval_s, 1, 86400);
  s.Get("offline_after_heartbeats", &o->offline_after_heartbeats, 1, 1000);
  s.Get("repeat_window_ms", &o->repeat_window_ms, 0, 600000);
  s.Get("captures_per_second", &o->captures_per_second, 0.1, 1000);
  s.Get("capture_budget_ms", &o->capture_budget_ms, 50, 60000);
  s.Get("decision_budget_ms", &o->decision_budget_ms, 100, 60000);
  s.Get("request_threads", &o->request_threads, 1, 256);
  s.Get("request_queue", &o->request_queue, 1, 100000);
  s.Get("event_destinations", &o->event_destinations);
}

Result<std::string> LoadCommissioningSecret(const std::filesystem::path& path, bool create) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) {
      return Status::NotFound(path.string() +
                              " does not exist: run 'facegated --init' (as the daemon's user) "
                              "once to create it");
    }
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) return Status::Internal("no randomness for a secret");
    std::string secret(reinterpret_cast<const char*>(raw), sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    FACEGATE_RETURN_IF_ERROR(WriteFileAtomically(path, secret, 0600));
    return secret;
  }
  auto secret = ReadFile(path, 4096);
  if (!secret.ok()) return secret.status();
  if (secret->size() < store::kMinCommissioningSecretBytes) {
    return Status::Corruption(path.string() + " is too short to be a commissioning secret");
  }
  return secret;
}

Result<IssuedCommissioningCode> IssueCommissioningCode(
    store::Store& store, std::string_view secret, int64_t device_id, int ttl_s, const Clock& clock,
    const std::string& server_address, uint16_t server_port, const std::string& ca_sha256) {
  auto code = store::GenerateCommissioningCode();
  if (!code.ok()) return code.status();
  auto hash = store::HashCommissioningCode(*code, secret);
  if (!hash.ok()) return hash.status();
  IssuedCommissioningCode out;
  out.code = *code;
  out.expires_at = clock.Now() + std::chrono::seconds(ttl_s);
  store::NewCommissioningCode row;
  row.device_id = device_id;
  row.code_hash = *hash;
  row.expires_at = out.expires_at;
  auto id = store.CreateCommissioningCode(row);
  if (!id.ok()) return id.status();
  out.qr_payload = json{
      {"v", 1},
      {"server", server_address},
      {"port", server_port},
      {"ca_sha256", ca_sha256},
      {"code",
       out.code}}.dump();
  return out;
}

namespace {

using Mono = Clock::MonoTime;

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// An answer that is not a decision: an HTTP status, a stable code and a message.
struct Problem {
  status http_status;
  std::string code;
  std::string message;
  int retry_after_s = 0;
};

void Answer(const net::RequestContext& ctx, const net::Responder& respond, status st,
            const json& body) {
  respond(net::MakeJsonResponse(ctx.message, st, body.dump() + "\n"));
}

void Refuse(const net::RequestContext& ctx, const net::Responder& respond, const Problem& p) {
  auto res = net::MakeErrorResponse(ctx.message, p.http_status, p.code, p.message);
  if (p.retry_after_s > 0) res.set(net::http::field::retry_after, std::to_string(p.retry_after_s));
  respond(std::move(res));
}

// Token bucket per device: `rate` per second, a burst of max(1, rate).
class RateLimiter {
 public:
  explicit RateLimiter(double rate) : rate_(rate), burst_(std::max(1.0, rate)) {}
  bool Allow(int64_t key, Mono now) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
    Bucket& b = it->second;
    if (!fresh) {
      b.tokens =
          std::min(burst_, b.tokens + rate_ * std::chrono::duration<double>(now - b.last).count());
      b.last = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

 private:
  struct Bucket {
    double tokens;
    Mono last;
  };
  const double rate_, burst_;
  std::mutex mu_;
  std::unordered_map<int64_t, Bucket> buckets_;  // GUARDED_BY(mu_)
};

// Failed commissioning codes per client address in the last minute.
class GuessLimiter {
 public:
  explicit GuessLimiter(int per_minute) : limit_(per_minute) {}
  // Seconds until the address may try again; 0 when it may now.
  int BlockedFor(const std::string& address, Mono now) {
    std::lock_guard lock(mu_);
    auto it = failures_.find(address);
    if (it == failures_.end()) return 0;
    Expire(it->second, now);
    if (static_cast<int>(it->second.size()) < limit_) return 0;
    auto wait = it->second.front() + std::chrono::minutes(1) - now;
    return std::max(1, static_cast<int>(std::ceil(std::chrono::duration<double>(wait).count())));
  }
  void Fail(const std::string& address, Mono now) {
    std::lock_guard lock(mu_);
    if (failures_.size() > 10000) {  // bounded memory under a scan from many addresses
      for (auto it = failures_.begin(); it != failures_.end();) {
        Expire(it->second, now);
        it = it->second.empty() ? failures_.erase(it) : std::next(it);
      }
    }
    failures_[address].push_back(now);
  }

 private:
  static void Expire(std::deque<Mono>& q, Mono now) {
    while (!q.empty() && now - q.front() >= std::chrono::minutes(1)) q.pop_front();
  }
  const int limit_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<Mono>> failures_;  // GUARDED_BY(mu_)
};

// The per-door policy in doors.settings_json.
struct DoorPolicy {
  std::optional<face::SecurityLevel> level;
  bool require_pad = false;
  double pad_min_score = 0.5;
};

DoorPolicy ParseDoorPolicy(const std::string& settings_json) {
  DoorPolicy p;
  json j = json::parse(settings_json, nullptr, false);
  if (!j.is_object()) return p;
  if (auto it = j.find("security_level"); it != j.end() && it->is_string()) {
    p.level = face::ParseSecurityLevel(it->get<std::string>());
  }
  if (auto it = j.find("require_pad"); it != j.end() && it->is_boolean()) {
    p.require_pad = it->get<bool>();
  }
  if (auto it = j.find("pad_min_score"); it != j.end() && it->is_number()) {
    p.pad_min_score = it->get<double>();
  }
  return p;
}

// A decision before it is recorded.
struct Verdict {
  store::Decision decision = store::Decision::kDeny;
  std::string reason;
  std::optional<int64_t> user_id;
  std::optional<double> distance;
  bool repeat = false;
  json details = json::object();
};

// A grant whose door opening is in flight, and the repeats waiting for its outcome.
struct PendingGrant {
  using Waiter = std::function<void(store::Decision, const std::string&)>;
  bool done = false;            // GUARDED_BY(last_mu_)
  std::vector<Waiter> waiters;  // GUARDED_BY(last_mu_)
};

// The last decision per device, for the repeat window.
struct LastDecision {
  int64_t user_id = 0;
  store::Decision decision = store::Decision::kDeny;
  std::string reason;
  Mono at{};
  std::shared_ptr<PendingGrant> pending;  // while the grant's opening is in flight
};

class DeviceApiImpl final : public DeviceApi, public std::enable_shared_from_this<DeviceApiImpl> {
 public:
  DeviceApiImpl(const DeviceApiOptions& options, DeviceApiContext context)
      : options_(options),
        ctx_(std::move(context)),
        clock_(*ctx_.clock),
        pool_(std::make_unique<WorkPool>("device-api", options.request_threads,
                                         static_cast<size_t>(options.request_queue))),
        capture_limiter_(options.captures_per_second),
        guess_limiter_(options.commission_attempts_per_minute) {
    if (auto* m = ctx_.metrics) {
      overloaded_ = m->GetCounter("facegate_access_overloaded_total",
                                  "Captures answered 503 because no face worker could start "
                                  "them within the budget");
      rate_limited_ = m->GetCounter("facegate_access_rate_limited_total",
                                    "Captures refused with 429 by the per-device rate limit");
      latency_ = m->GetHistogram("facegate_access_latency_seconds",
                                 "Time from the whole capture received to the decision sent",
                                 MetricsRegistry::LatencyBucketsSeconds());
      online_ = m->GetGauge("facegate_devices_online", "Terminals that sent a heartbeat lately");
      offline_total_ = m->GetCounter("facegate_device_offline_total",
                                     "Terminals marked offline after missing heartbeats");
      expiring_ = m->GetGauge("facegate_device_certificates_expiring",
                              "Current device certificates within renew_before_days of expiry");
      metrics_ = m;
    }
  }

  // The pool first: its queued tasks run (they use this object) before any member goes.
  ~DeviceApiImpl() override { pool_.reset(); }

  void AddRoutes(net::Router& router) override {
    std::weak_ptr<DeviceApiImpl> weak = weak_from_this();
    auto route = [weak](void (DeviceApiImpl::*method)(std::shared_ptr<net::RequestContext>,
                                                      net::Responder)) {
      return [weak, method](std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
        auto self = weak.lock();
        if (!self) {
          Refuse(*ctx, respond,
                 {status::service_unavailable, "stopping", "the server is stopping"});
          return;
        }
        // Store and certificate work blocks: off the I/O thread. The task holds a plain
        // pointer: the destructor runs every queued task before the object goes.
        DeviceApiImpl* api = self.get();
        if (!self->pool_->Post([api, method, ctx, respond] { (api->*method)(ctx, respond); })) {
          Refuse(*ctx, respond,
                 {status::service_unavailable, "overloaded", "the server is busy", 1});
        }
      };
    };
    router.Add(net::http::verb::post, "/api/v1/commission", "commission",
               route(&DeviceApiImpl::Commission));
    router.Add(net::http::verb::post, "/api/v1/renew", "renew", route(&DeviceApiImpl::Renew));
    router.Add(net::http::verb::post, "/api/v1/heartbeat", "heartbeat",
               route(&DeviceApiImpl::Heartbeat));
    router.Add(net::http::verb::post, "/api/v1/access", "access", route(&DeviceApiImpl::Access));
  }

  size_t ExpiringCertificates() const override { return expiring_count_.load(); }

  void Tick() override {
    const Mono now = clock_.Monotonic();
    if (now < next_tick_) return;
    next_tick_ = now + std::chrono::seconds(std::min(options_.heartbeat_interval_s, 10));
    const auto wall = clock_.Now();
    auto offline =
        ctx_.store->MarkDevicesOffline(wall - std::chrono::seconds(options_.heartbeat_interval_s) *
                                                  options_.offline_after_heartbeats);
    if (offline.ok()) {
      for (int64_t id : *offline) {
        spdlog::warn("device offline: device_id={} (no heartbeat for {} s)", id,
                     options_.heartbeat_interval_s * options_.offline_after_heartbeats);
        if (offline_total_) offline_total_->Increment();
      }
    } else {
      spdlog::error("marking devices offline failed: {}", offline.status().ToString());
    }
    int64_t online = 0, after = 0;
    for (;;) {
      auto page = ctx_.store->ListDevices(after, 500);
      if (!page.ok() || page->empty()) break;
      for (const auto& d : *page) online += d.online ? 1 : 0;
      after = page->back().id;
    }
    if (online_) online_->Set(static_cast<double>(online));
    auto expiring = ctx_.store->ListCertificatesExpiringBefore(
        wall + std::chrono::hours(24) * options_.renew_before_days);
    if (expiring.ok()) {
      expiring_count_.store(expiring->size());
      if (expiring_) expiring_->Set(static_cast<double>(expiring->size()));
      if (!expiring->empty() && now >= next_expiry_log_) {
        next_expiry_log_ = now + std::chrono::hours(1);
        for (const auto& c : *expiring) {
          spdlog::warn("device certificate expires soon: device_id={} serial={} not_after={}",
                       c.device_id, c.serial_hex, FormatRfc3339(c.not_after));
        }
      }
    }
  }

 private:
  // ------------------------------------------------------------------ authentication

  // The device behind the request's client certificate, or the problem to answer.
  std::variant<store::Device, Problem> Authenticate(const net::RequestContext& ctx) {
    if (!ctx.peer_certificate) {
      return Problem{status::unauthorized, "client_certificate_required",
                     "this endpoint needs the terminal's client certificate: commission the "
                     "terminal first"};
    }
    const auto& cert = *ctx.peer_certificate;
    auto refuse = [&](std::string code, std::string message) {
      spdlog::warn("device refused: {} serial={} client={}", code, cert.serial_hex,
                   ctx.remote_address);
      if (metrics_) {
        metrics_
            ->GetCounter("facegate_device_refusals_total",
                         "Device calls refused after the TLS handshake", {"reason"}, {code})
            ->Increment();
      }
      return Problem{status::forbidden, std::move(code), std::move(message)};
    };
    auto found = ctx_.store->FindDeviceByCertificateSerial(cert.serial_hex);
    if (!found.ok()) {
      if (found.status().code() == StatusCode::kNotFound) {
        return refuse("unknown_certificate", "no device holds this certificate");
      }
      spdlog::error("device lookup failed: {}", found.status().ToString());
      return Problem{status::service_unavailable, "storage_unavailable",
                     "the server cannot read its database now"};
    }
    switch (found->state) {
      case store::DeviceCertificateState::kCurrent:
        break;
      case store::DeviceCertificateState::kReplaced:
        return refuse("certificate_replaced",
                      "this certificate was replaced by a newer one (re-commissioning or "
                      "renewal)");
      case store::DeviceCertificateState::kRevoked:
        return refuse("certificate_revoked", "this device was decommissioned");
    }
    const store::Device& d = found->device;
    if (d.status == store::DeviceStatus::kDisabled) {
      return refuse("device_disabled", "an administrator disabled this device");
    }
    if (d.status == store::DeviceStatus::kDecommissioned) {
      return refuse("certificate_revoked", "this device was decommissioned");
    }
    if (cert.not_after <= clock_.Now()) {
      return refuse("certificate_expired", "the certificate has expired: commission again");
    }
    return d;
  }

  // ------------------------------------------------------------------ commissioning

  static std::optional<json> JsonBody(const net::RequestContext& ctx) {
    json j = json::parse(ctx.message.body(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
  }

  static std::string StringField(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  json CertificateAnswer(const net::IssuedDeviceCertificate& issued, const store::Device& d) {
    return json{{"device_id", d.id},
                {"device_name", d.name},
                {"certificate", issued.certificate_pem},
                {"ca_chain", issued.ca_chain_pem},
                {"serial", issued.serial_hex},
                {"not_after", FormatRfc3339(issued.not_after)},
                {"server_time", FormatRfc3339(clock_.Now())},
                {"heartbeat_interval_s", options_.heartbeat_interval_s}};
  }

  // Issues and records a certificate for `device` from `csr`.
  std::variant<net::IssuedDeviceCertificate, Problem> IssueFor(const store::Device& device,
                                                               const std::string& csr) {
    net::DeviceCertificateRequest req;
    req.csr_pem = csr;
    req.device_identity = "device-" + std::to_string(device.id);
    req.validity = std::chrono::hours(24) * options_.certificate_validity_days;
    auto issued = ctx_.ca->IssueDeviceCertificate(req);
    if (!issued.ok()) {
      if (issued.status().code() == StatusCode::kInvalidArgument) {
        return Problem{status::bad_request, "invalid_csr", issued.status().message()};
      }
      spdlog::error("issuing a device certificate failed: {}", issued.status().ToString());
      return Problem{status::internal_server_error, "internal", "could not issue a certificate"};
    }
    store::DeviceCertificate rec;
    rec.serial_hex = issued->serial_hex;
    rec.device_id = device.id;
    rec.not_after = issued->not_after;
    auto replaced = ctx_.store->RecordDeviceCertificate(rec);
    if (!replaced.ok()) {
      spdlog::error("recording a device certificate failed: {}", replaced.status().ToString());
      return Problem{status::service_unavailable, "storage_unavailable",
                     "the certificate could not be recorded"};
    }
    spdlog::info("device certificate issued: device_id={} serial={} not_after={} replaced={}",
                 device.id, issued->serial_hex, FormatRfc3339(issued->not_after),
                 replaced->value_or("none"));
    return *issued;
  }

  void Commission(std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
    const Mono now = clock_.Monotonic();
    if (int wait = guess_limiter_.BlockedFor(ctx->remote_address, now); wait > 0) {
      Refuse(*ctx, respond,
             {status::too_many_requests, "too_many_attempts",
              "too many wrong commissioning codes from this address: wait and retry", wait});
      return;
    }
    auto body = JsonBody(*ctx);
    if (!body) {
      Refuse(*ctx, respond, {status::bad_request, "bad_request", "the body must be a JSON object"});
      return;
    }
    const std::string code = StringField(*body, "code");
    const std::string csr = StringField(*body, "csr");
    if (code.empty() || csr.empty()) {
      Refuse(*ctx, respond,
             {status::bad_request, "bad_request", "both \"code\" and \"csr\" are required"});
      return;
    }
    // The CSR first: a damaged one must not use up the code.
    if (auto info = net::InspectCsrPem(csr); !info.ok()) {
      Refuse(*ctx, respond, {status::bad_request, "invalid_csr", info.status().message()});
      return;
    }
    auto fail = [&](std::string error, std::string message) {
      guess_limiter_.Fail(ctx->remote_address, now);
      spdlog::warn("commissioning refused: {} client={}", error, ctx->remote_address);
      Refuse(*ctx, respond, {status::forbidden, std::move(error), std::move(message)});
    };
    auto hash = store::HashCommissioningCode(code, ctx_.commissioning_secret);
    if (!hash.ok()) {
      fail("invalid_code", "this is not a valid commissioning code");
      return;
    }
    auto redeemed = ctx_.store->RedeemCommissioningCode(*hash, clock_.Now());
    if (!redeemed.ok()) {
      const std::string m = redeemed.status().message();
      if (redeemed.status().code() == StatusCode::kNotFound) {
        fail("invalid_code", "this is not a valid commissioning code");
      } else if (m.find("used") != std::string::npos) {
        fail("code_used", "this commissioning code was used already: ask for a new one");
      } else if (m.find("expired") != std::string::npos) {
        fail("code_expired", "this commissioning code has expired: ask for a new one");
      } else {
        spdlog::error("redeeming a commissioning code failed: {}", redeemed.status().ToString());
        Refuse(*ctx, respond,
               {status::service_unavailable, "storage_unavailable",
                "the server cannot read its database now"});
      }
      return;
    }
    const store::Device& device = redeemed->device;
    if (device.status == store::DeviceStatus::kDisabled) {
      Refuse(*ctx, respond,
             {status::forbidden, "device_disabled", "an administrator disabled this device"});
      return;
    }
    auto issued = IssueFor(device, csr);
    if (auto* p = std::get_if<Problem>(&issued)) {
      Refuse(*ctx, respond, *p);
      return;
    }
    const std::string firmware = StringField(*body, "firmware");
    (void)ctx_.store->RecordDeviceHeartbeat(device.id, clock_.Now(), firmware);
    spdlog::info("device commissioned: device_id={} name=\"{}\" client={}", device.id, device.name,
                 ctx->remote_address);
    Answer(*ctx, respond, status::ok,
           CertificateAnswer(std::get<net::IssuedDeviceCertificate>(issued), device));
  }

  void Renew(std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
    auto auth = Authenticate(*ctx);
    if (auto* p = std::get_if<Problem>(&auth)) {
      Refuse(*ctx, respond, *p);
      return;
    }
    const auto& device = std::get<store::Device>(auth);
    auto body = JsonBody(*ctx);
    const std::string csr = body ? StringField(*body, "csr") : "";
    if (csr.empty()) {
      Refuse(*ctx, respond, {status::bad_request, "bad_request", "\"csr\" is required"});
      return;
    }
    auto issued = IssueFor(device, csr);
    if (auto* p = std::get_if<Problem>(&issued)) {
      Refuse(*ctx, respond, *p);
      return;
    }
    Answer(*ctx, respond, status::ok,
           CertificateAnswer(std::get<net::IssuedDeviceCertificate>(issued), device));
  }

  // ------------------------------------------------------------------ heartbeat

  json PendingCommands(int64_t device_id) {
    json out = json::array();
    auto commands = ctx_.store->TakePendingDeviceCommands(device_id, clock_.Now(), 16);
    if (!commands.ok()) {
      spdlog::error("reading device commands failed: {}", commands.status().ToString());
      return out;
    }
    for (const auto& c : *commands) {
      json payload = json::parse(c.payload_json, nullptr, false);
      out.push_back({{"id", c.id},
                     {"command", c.command},
                     {"payload", payload.is_discarded() ? json::object() : payload}});
    }
    return out;
  }

  void Heartbeat(std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
    auto auth = Authenticate(*ctx);
    if (auto* p = std::get_if<Problem>(&auth)) {
      Refuse(*ctx, respond, *p);
      return;
    }
    const auto& device = std::get<store::Device>(auth);
    json body = json::object();
    if (!ctx->message.body().empty()) {
      auto parsed = JsonBody(*ctx);
      if (!parsed) {
        Refuse(*ctx, respond,
               {status::bad_request, "bad_request", "the body must be a JSON object"});
        return;
      }
      body = *parsed;
    }
    if (body.contains("firmware") && !body["firmware"].is_string()) {
      Refuse(*ctx, respond, {status::bad_request, "bad_request", "firmware must be a string"});
      return;
    }
    const auto now = clock_.Now();
    std::optional<double> skew_ms;
    if (auto c = body.find("clock"); c != body.end()) {
      auto t = c->is_string() ? ParseRfc3339(c->get<std::string>()) : std::nullopt;
      if (!t) {
        Refuse(*ctx, respond,
               {status::bad_request, "bad_request", "clock must be an RFC 3339 timestamp"});
        return;
      }
      skew_ms = std::chrono::duration<double, std::milli>(*t - now).count();
    }
    const std::string firmware = StringField(body, "firmware");
    auto back = ctx_.store->RecordDeviceHeartbeat(device.id, now,
                                                  firmware.empty() ? device.firmware : firmware);
    if (!back.ok()) {
      Refuse(*ctx, respond,
             {status::service_unavailable, "storage_unavailable",
              "the heartbeat could not be recorded"});
      return;
    }
    if (*back) spdlog::info("device online: device_id={} name=\"{}\"", device.id, device.name);
    const auto& cert = *ctx->peer_certificate;
    json answer = {
        {"server_time", FormatRfc3339(now)},
        {"heartbeat_interval_s", options_.heartbeat_interval_s},
        {"certificate_not_after", FormatRfc3339(cert.not_after)},
        {"renew", cert.not_after - now < std::chrono::hours(24) * options_.renew_before_days},
        {"commands", PendingCommands(device.id)}};
    if (skew_ms) answer["clock_skew_ms"] = std::round(*skew_ms);
    Answer(*ctx, respond, status::ok, answer);
  }

  // ------------------------------------------------------------------ access

  void Access(std::shared_ptr<net::RequestContext> ctx, net::Responder respond) {
    auto auth = Authenticate(*ctx);
    if (auto* p = std::get_if<Problem>(&auth)) {
      Refuse(*ctx, respond, *p);
      return;
    }
    auto device = std::make_shared<store::Device>(std::get<store::Device>(auth));
    if (ctx_.engine == nullptr || ctx_.gallery == nullptr) {
      Refuse(*ctx, respond,
             {status::service_unavailable, "face_engine_disabled",
              "face recognition is disabled on this server (face.enabled)"});
      return;
    }
    auto capture = std::make_shared<CaptureRequest>();
    const auto& msg = ctx->message;
    auto header = [&msg](std::string_view name) {
      auto it = msg.find(boost::beast::string_view(name.data(), name.size()));
      return it == msg.end() ? std::string() : std::string(it->value());
    };
    if (auto problem = ParseCaptureRequest(header("content-type"), header, std::string(msg.body()),
                                           capture.get())) {
      Refuse(*ctx, respond,
             {static_cast<status>(problem->http_status), problem->code, problem->message});
      return;
    }
    // A retry of a request already decided gets the same answer, and no new event.
    if (!capture->metadata.request_id.empty()) {
      auto earlier = ctx_.store->FindEventByRequest(device->id, capture->metadata.request_id);
      if (earlier.ok() && *earlier) {
        AnswerFromEvent(*ctx, respond, **earlier);
        return;
      }
    }
    // The limit guards the face workers: a retry answered from its event above, or a request
    // refused as malformed, costs none and does not use up the device's captures.
    if (!capture_limiter_.Allow(device->id, clock_.Monotonic())) {
      if (rate_limited_) rate_limited_->Increment();
      Refuse(*ctx, respond,
             {status::too_many_requests, "rate_limited",
              fmt::format("more than {:g} captures per second from this device",
                          options_.captures_per_second),
              1});
      return;
    }
    if (!device->door_id) {
      Verdict v;
      v.reason = "no_door";
      Record(ctx, respond, *device, *capture, std::move(v), nullptr);
      return;
    }
    face::AnalyzeRequest job;
    job.image = std::move(capture->image);
    job.priority = face::Priority::kCapture;
    job.start_deadline = ctx->received_at + std::chrono::milliseconds(options_.capture_budget_ms);
    std::weak_ptr<DeviceApiImpl> weak = weak_from_this();
    Status submitted = ctx_.engine->Submit(
        std::move(job), [weak, ctx, respond, device, capture](Result<face::FaceAnalysis> r) {
          auto self = weak.lock();
          if (!self) {  // the daemon is stopping (the engine answers its queue at shutdown)
            Refuse(*ctx, respond,
                   {status::service_unavailable, "stopping", "the server is stopping", 1});
            return;
          }
          // Identification and the commit block: back to the API's threads.
          auto result = std::make_shared<Result<face::FaceAnalysis>>(std::move(r));
          DeviceApiImpl* api = self.get();
          if (!api->pool_->Post([api, ctx, respond, device, capture, result] {
                api->Decide(ctx, respond, *device, *capture, std::move(*result));
              })) {
            api->Decide(ctx, respond, *device, *capture, std::move(*result));
          }
        });
    if (!submitted.ok()) Overloaded(*ctx, respond, submitted);
  }

  void Overloaded(const net::RequestContext& ctx, const net::Responder& respond,
                  const Status& why) {
    if (overloaded_) overloaded_->Increment();
    spdlog::warn("capture refused: {} (device call from {})", why.message(), ctx.remote_address);
    Refuse(ctx, respond,
           {status::service_unavailable, "overloaded",
            "no face worker could take the capture in time: retry", 1});
  }

  static std::string QualityReason(face::Reason r) {
    switch (r) {
      case face::Reason::kNoFace:
        return "no_face";
      case face::Reason::kMultipleFaces:
        return "multiple_faces";
      default:
        return "low_quality:" + std::string(face::ReasonName(r));
    }
  }

  void Decide(std::shared_ptr<net::RequestContext> ctx, net::Responder respond,
              const store::Device& device, const CaptureRequest& capture,
              Result<face::FaceAnalysis> result) {
    if (!result.ok()) {
      if (result.status().code() == StatusCode::kResourceExhausted) {
        Overloaded(*ctx, respond, result.status());
      } else {
        Refuse(*ctx, respond,
               {status::service_unavailable, "unavailable",
                "the face engine could not take the capture: " + result.status().message(), 1});
      }
      return;
    }
    const face::FaceAnalysis& a = *result;
    // Unreadable images are the terminal's problem, not a decision.
    switch (a.verdict) {
      case face::Reason::kEmptyImage:
        Refuse(*ctx, respond, {status::bad_request, "empty_image", a.message});
        return;
      case face::Reason::kUnsupportedFormat:
        Refuse(*ctx, respond,
               {status::unsupported_media_type, "unsupported_media_type", a.message});
        return;
      case face::Reason::kCorruptImage:
        Refuse(*ctx, respond, {status::bad_request, "corrupt_image", a.message});
        return;
      case face::Reason::kImageTooLarge:
        Refuse(*ctx, respond, {status::payload_too_large, "image_too_large", a.message});
        return;
      default:
        break;
    }
    Verdict v;
    auto t = std::make_shared<json>(json{{"queue", a.timings.queue_ms},
                                         {"decode", a.timings.decode_ms},
                                         {"detect", a.timings.detect_ms},
                                         {"landmarks", a.timings.landmarks_ms},
                                         {"chip", a.timings.chip_ms},
                                         {"quality", a.timings.quality_ms},
                                         {"embed", a.timings.embed_ms}});
    if (!a.accepted()) {
      v.reason = QualityReason(a.verdict);
      v.details["quality"] = a.message;
      Record(ctx, respond, device, capture, std::move(v), t);
      return;
    }
    const face::FaceTemplate& probe = a.faces[a.selected].face_template;

    auto door = ctx_.store->GetDoor(*device.door_id);
    DoorPolicy policy = door.ok() ? ParseDoorPolicy(door->settings_json) : DoorPolicy{};
    if (!capture.metadata.pad_method.empty()) v.details["pad_method"] = capture.metadata.pad_method;
    if (capture.metadata.pad_score) v.details["pad_score"] = *capture.metadata.pad_score;
    if (policy.require_pad &&
        (!capture.metadata.pad_score || *capture.metadata.pad_score < policy.pad_min_score)) {
      v.reason = "presentation_attack";
      Record(ctx, respond, device, capture, std::move(v), t);
      return;
    }

    const Mono match_start = clock_.Monotonic();
    const face::MatchPolicy match =
        face::PolicyFor(policy.level.value_or(ctx_.matching.security_level), ctx_.matching.margin);
    v.details["security_level"] = face::SecurityLevelName(match.level);
    if (!capture.metadata.claimed_user.empty()) {
      v.details["mode"] = "1:1";
      auto user = ctx_.store->FindUserByExternalId(capture.metadata.claimed_user);
      if (!user.ok()) {
        v.reason = "claimed_user_unknown";
        (*t)["match"] = Ms(clock_.Monotonic() - match_start);
        Record(ctx, respond, device, capture, std::move(v), t);
        return;
      }
      auto templates = ctx_.store->LoadTemplatesOfUser(user->id, face::kModelVersion);
      double best = std::numeric_limits<double>::infinity();
      if (templates.ok()) {
        for (size_t i = 0; i < templates->size(); ++i) {
          face::FaceTemplate enrolled;
          std::copy_n(templates->row(i).begin(), face::kTemplateSize, enrolled.begin());
          best = std::min(best, static_cast<double>(face::L2Distance(probe, enrolled)));
        }
        std::fill(templates->values.begin(), templates->values.end(), 0.0f);
      }
      if (std::isfinite(best)) v.distance = best;
      if (face::IsSamePerson(best, match)) {
        v.user_id = user->id;
      } else {
        v.reason = "unknown_face";
      }
    } else {
      v.details["mode"] = "1:N";
      auto d = ctx_.gallery->Identify(probe, match);
      if (!d.ok()) {
        Refuse(*ctx, respond, {status::internal_server_error, "internal", d.status().message()});
        return;
      }
      if (std::isfinite(d->distance)) v.distance = d->distance;
      if (std::isfinite(d->runner_up_distance))
        v.details["runner_up_distance"] = d->runner_up_distance;
      switch (d->outcome) {
        case face::MatchOutcome::kMatch:
          v.user_id = d->person_id;
          break;
        case face::MatchOutcome::kNoMatch:
          v.reason = "unknown_face";
          break;
        case face::MatchOutcome::kAmbiguous:
          v.reason = "ambiguous";
          break;
      }
    }
    (*t)["match"] = Ms(clock_.Monotonic() - match_start);
    if (!v.user_id) {
      Record(ctx, respond, device, capture, std::move(v), t);
      return;
    }

    const Mono decide_start = clock_.Monotonic();
    const auto now = clock_.Now();
    std::shared_ptr<PendingGrant> opening;  // set when this grant goes to the ACS
    {
      std::lock_guard lock(last_mu_);
      // A repeat of the same person at the same door reuses the decision: a terminal retry
      // (or the next frame of a person still standing there) must not open the door twice,
      // nor change its answer. While the first one's opening is in flight, the repeat waits
      // for its outcome instead of guessing it.
      auto it = last_.find(device.id);
      if (it != last_.end() && it->second.user_id == *v.user_id &&
          decide_start - it->second.at < std::chrono::milliseconds(options_.repeat_window_ms)) {
        v.repeat = true;
        if (it->second.pending && !it->second.pending->done) {
          std::weak_ptr<DeviceApiImpl> weak = weak_from_this();
          auto dev = std::make_shared<store::Device>(device);
          auto cap = std::make_shared<CaptureRequest>(capture);
          it->second.pending->waiters.push_back(
              [weak, ctx, respond, dev, cap, v, t](store::Decision d, const std::string& r) {
                auto self = weak.lock();
                if (!self) return;
                Verdict repeat = v;
                repeat.decision = d;
                repeat.reason = r;
                self->Record(ctx, respond, *dev, *cap, std::move(repeat), t);
              });
          return;
        }
        v.decision = it->second.decision;
        v.reason = it->second.reason;
      }
      if (!v.repeat) {
        auto snapshot = ctx_.access_snapshot ? ctx_.access_snapshot() : nullptr;
        if (!snapshot) {
          Refuse(*ctx, respond,
                 {status::service_unavailable, "access_model_unavailable",
                  "the access rights could not be loaded"});
          return;
        }
        access::AccessRequest req;
        req.user_id = v.user_id;
        req.door_id = *device.door_id;
        req.now = now;
        auto local = access::HostLocalTime(now);
        req.local = local.ok() ? *local : access::LocalTimeAtOffset(now, std::chrono::minutes(0));
        access::AccessDecision ad = access::Decide(*snapshot, req);
        v.decision = ad.granted ? store::Decision::kGrant : store::Decision::kDeny;
        v.reason = std::string(ad.reason_name());
        if (ad.granted_by) v.details["right_id"] = ad.granted_by->right_id;
        LastDecision last{*v.user_id, v.decision, v.reason, decide_start, nullptr};
        if (v.decision == store::Decision::kGrant && ctx_.grant_sender && door.ok()) {
          opening = std::make_shared<PendingGrant>();
          last.pending = opening;
        }
        last_[device.id] = std::move(last);
      }
    }
    (*t)["decide"] = Ms(clock_.Monotonic() - decide_start);
    if (!opening) {
      Record(ctx, respond, device, capture, std::move(v), t);
      return;
    }
    // The grant goes to the access-control system within what is left of the decision's
    // budget; the answer waits for its outcome, and so do repeats that arrive meanwhile.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        ctx->received_at + std::chrono::milliseconds(options_.decision_budget_ms) -
        clock_.Monotonic());
    std::weak_ptr<DeviceApiImpl> weak = weak_from_this();
    auto dev = std::make_shared<store::Device>(device);
    auto cap = std::make_shared<CaptureRequest>(capture);
    const int64_t device_id = device.id;
    ctx_.grant_sender->OnGrant(
        *door, *v.user_id, std::max(left, std::chrono::milliseconds(0)),
        [weak, ctx, respond, dev, cap, v, t, opening, device_id](access::GrantOutcome o) mutable {
          auto self = weak.lock();
          if (!self) {
            Refuse(*ctx, respond,
                   {status::service_unavailable, "stopping", "the server is stopping", 1});
            return;
          }
          self->ApplyGrantOutcome(o, &v);
          std::vector<PendingGrant::Waiter> waiters;
          {
            std::lock_guard lock(self->last_mu_);
            opening->done = true;
            waiters.swap(opening->waiters);
            auto it = self->last_.find(device_id);
            if (it != self->last_.end() && it->second.pending == opening) {
              it->second.decision = v.decision;
              it->second.reason = v.reason;
              it->second.pending.reset();
            }
          }
          (*t)["acs"] = o.ms;
          // Recording blocks on the store: back to the API's threads.
          auto record = [self, ctx, respond, dev, cap, v, t, waiters]() mutable {
            self->Record(ctx, respond, *dev, *cap, v, t);
            for (auto& w : waiters) w(v.decision, v.reason);
          };
          if (!self->pool_->Post(record)) record();
        });
  }

  // What the access-control system's answer to a grant makes of the decision: an opening
  // that failed denies (fail-secure) unless the door is fail-open; the event says which.
  static void ApplyGrantOutcome(const access::GrantOutcome& o, Verdict* v) {
    using Kind = access::GrantOutcome::Kind;
    if (o.kind == Kind::kNotSent) return;
    json acs = {{"ms", o.ms}};
    if (o.kind == Kind::kOpened) {
      acs["opened"] = true;
      v->details["acs"] = acs;
      return;
    }
    acs["opened"] = false;
    acs["error"] = o.error;
    acs["fail_open"] = o.fail_open;
    v->details["acs"] = acs;
    const std::string reason = o.kind == Kind::kRefused ? "acs_refused" : "acs_unreachable";
    if (o.fail_open) {
      v->reason = "granted_" + reason;  // still a grant, and the event says why
      return;
    }
    v->decision = store::Decision::kDeny;
    v->reason = reason;
  }

  // Commits the event (and its outbox rows), then answers. Nothing is granted that is not
  // recorded: a failed commit is a 503, not a grant.
  void Record(std::shared_ptr<net::RequestContext> ctx, const net::Responder& respond,
              const store::Device& device, const CaptureRequest& capture, Verdict v,
              std::shared_ptr<json> timings) {
    if (!timings) timings = std::make_shared<json>(json::object());
    const Mono record_start = clock_.Monotonic();
    store::AccessEvent e;
    e.time = clock_.Now();
    e.device_id = device.id;
    e.door_id = device.door_id;
    e.user_id = v.user_id;
    e.decision = v.decision;
    e.reason = v.reason.empty() ? "granted" : v.reason;
    e.distance = v.distance;
    e.request_id = capture.metadata.request_id;
    e.repeat = v.repeat;
    if (capture.metadata.capture_time) {
      v.details["capture_time"] = FormatRfc3339(*capture.metadata.capture_time);
    }
    v.details["timings_ms"] = *timings;
    e.latency_ms = Ms(clock_.Monotonic() - ctx->received_at);
    e.details_json = v.details.dump();
    // The event for integrations carries no personal data: ids, decision, reason, latency.
    std::vector<store::OutboxMessage> outbox;
    std::vector<std::string> destinations = options_.event_destinations;
    for (const auto& sink : ctx_.event_sinks) {
      if (sink.wanted && sink.wanted()) destinations.push_back(sink.destination);
    }
    for (const auto& dest : destinations) {
      outbox.push_back({dest, "events",
                        json{{"v", 1},
                             {"time", FormatRfc3339(e.time)},
                             {"device_id", device.id},
                             {"door_id", device.door_id ? json(*device.door_id) : json()},
                             {"decision", store::DecisionName(e.decision)},
                             {"reason", e.reason},
                             {"latency_ms", e.latency_ms}}
                            .dump()});
    }
    auto recorded = ctx_.store->RecordEvent(e, outbox);
    if (!recorded.ok()) {
      spdlog::error("access event not recorded (device_id={}): {}", device.id,
                    recorded.status().ToString());
      Refuse(*ctx, respond,
             {status::service_unavailable, "event_not_recorded",
              "the decision could not be recorded: retry", 1});
      return;
    }
    if (recorded->duplicate) {  // a concurrent retry got there first
      auto earlier = ctx_.store->GetEvent(recorded->event_id);
      if (earlier.ok() && *earlier) {
        AnswerFromEvent(*ctx, respond, **earlier);
        return;
      }
    }
    if (!outbox.empty() && !recorded->duplicate) {
      for (const auto& sink : ctx_.event_sinks) {
        if (sink.notify) sink.notify();
      }
    }
    (*timings)["record"] = Ms(clock_.Monotonic() - record_start);
    json answer = {{"decision", store::DecisionName(e.decision)},
                   {"reason", e.reason},
                   {"event_id", recorded->event_id},
                   {"server_time", FormatRfc3339(clock_.Now())},
                   {"repeat", e.repeat}};
    if (e.distance) {
      answer["distance"] = *e.distance;
      answer["score"] = face::SimilarityScore(*e.distance);
    }
    if (e.decision == store::Decision::kGrant && e.user_id) AddUser(answer, *e.user_id);
    answer["commands"] = PendingCommands(device.id);
    const double total = Ms(clock_.Monotonic() - ctx->received_at);
    (*timings)["total"] = total;
    answer["timings_ms"] = *timings;
    if (latency_) latency_->Observe(total / 1000);
    if (metrics_) {
      metrics_
          ->GetCounter("facegate_access_decisions_total", "Access decisions by outcome",
                       {"decision", "reason"},
                       {std::string(store::DecisionName(e.decision)), e.reason})
          ->Increment();
    }
    spdlog::info(
        "access: event_id={} device_id={} door_id={} decision={} reason={} "
        "latency_ms={:.1f}{}",
        recorded->event_id, device.id, device.door_id.value_or(0), store::DecisionName(e.decision),
        e.reason, total, e.repeat ? " repeat" : "");
    Answer(*ctx, respond, status::ok, answer);
  }

  void AddUser(json& answer, int64_t user_id) {
    auto user = ctx_.store->GetUser(user_id);
    if (!user.ok()) return;
    std::string name = user->first_name;
    if (!user->last_name.empty()) name += (name.empty() ? "" : " ") + user->last_name;
    answer["user"] = {{"external_id", user->external_id}, {"display_name", name}};
  }

  void AnswerFromEvent(const net::RequestContext& ctx, const net::Responder& respond,
                       const store::StoredEvent& stored) {
    const store::AccessEvent& e = stored.event;
    json answer = {{"decision", store::DecisionName(e.decision)},
                   {"reason", e.reason},
                   {"event_id", stored.id},
                   {"server_time", FormatRfc3339(clock_.Now())},
                   {"repeat", e.repeat},
                   {"retry", true},
                   {"commands", json::array()}};
    if (e.distance) {
      answer["distance"] = *e.distance;
      answer["score"] = face::SimilarityScore(*e.distance);
    }
    if (e.decision == store::Decision::kGrant && e.user_id) AddUser(answer, *e.user_id);
    Answer(ctx, respond, status::ok, answer);
  }

  const DeviceApiOptions options_;
  const DeviceApiContext ctx_;
  const Clock& clock_;
  std::unique_ptr<WorkPool> pool_;
  RateLimiter capture_limiter_;
  GuessLimiter guess_limiter_;

  std::mutex last_mu_;
  std::unordered_map<int64_t, LastDecision> last_;  // GUARDED_BY(last_mu_), by device id

  Mono next_tick_{};
  std::atomic<size_t> expiring_count_{0};
  Mono next_expiry_log_{};

  Counter* overloaded_ = nullptr;
  Counter* rate_limited_ = nullptr;
  Histogram* latency_ = nullptr;
  Gauge* online_ = nullptr;
  Counter* offline_total_ = nullptr;
  Gauge* expiring_ = nullptr;
  MetricsRegistry* metrics_ = nullptr;  // labelled series are looked up per use
};

}  // namespace

Result<std::shared_ptr<DeviceApi>> DeviceApi::Create(const DeviceApiOptions& options,
                                                     DeviceApiContext context) {
  if (!context.store || !context.ca || !context.clock) {
    return Status::InvalidArgument("device API: store, CA and clock are required");
  }
  if (context.commissioning_secret.size() < store::kMinCommissioningSecretBytes) {
    return Status::InvalidArgument("device API: the commissioning secret is too short");
  }
  return std::shared_ptr<DeviceApi>(std::make_shared<DeviceApiImpl>(options, std::move(context)));
}

}  // namespace facegate::api
