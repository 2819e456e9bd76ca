#include "facegate/daemon/daemon.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_set>

#include "facegate/access/snapshot_from_store.h"
#include "facegate/admin/admin_api.h"
#include "facegate/api/device_api.h"
#include "facegate/api/health.h"
#include "facegate/connect/connect_service.h"
#include "facegate/core/files.h"
#include "facegate/core/logging.h"
#include "facegate/core/metrics.h"
#include "facegate/core/version.h"
#include "facegate/daemon/host_check.h"
#include "facegate/face/face_engine.h"
#include "facegate/gallery/gallery.h"
#include "facegate/net/http_server.h"
#include "facegate/net/pki.h"
#include "facegate/net/tls.h"
#include "facegate/ship/space_service.h"
#include "facegate/store/keyring.h"
#include "facegate/store/store.h"
#include "signals.h"

namespace facegate::daemon {

namespace asio = boost::asio;

namespace {

constexpr const char* kServerCertName = "server";

// Addresses of this host's interfaces, for the certificate of a wildcard listener.
std::vector<std::string> InterfaceAddresses() {
  std::vector<std::string> out;
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr) continue;
    if (it->ifa_addr->sa_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(it->ifa_addr);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &sin->sin_addr, 4);
      out.push_back(asio::ip::address_v4(b).to_string());
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(it->ifa_addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      asio::ip::address_v6 a(b);
      if (a.is_link_local()) continue;  // scoped addresses are no use in a certificate
      out.push_back(a.to_string());
    }
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

struct Daemon::Impl {
  Impl(DaemonOptions o, const Clock& c) : options(std::move(o)), clock(c) {}

  std::filesystem::path pki_dir() const { return options.data_dir / "pki"; }
  std::filesystem::path keys_dir() const { return options.data_dir / "keys"; }

  net::ServerCertificateRequest CertificateRequest() const;
  Result<std::shared_ptr<asio::ssl::context>> MakeTls(const net::ListenerOptions& l);
  Status WritePortsFile();
  Status StartFaceWork();
  void StartCloudLink();
  std::string CloudTelemetry();
  std::string CloudDiagnostics();
  Status StartDeviceApi();
  Status StartAdminApi();
  void ResumeKeyRotation();
  void RefreshStatus();
  void RefreshAccessSnapshot(bool force);
  std::shared_ptr<const access::AccessSnapshot> AccessSnapshot() const;
  Status CheckHost();
  void RefreshClockWarning();
  void StartWatchdog();
  void PingWatchdog();
  void Drain();

  DaemonOptions options;
  const Clock& clock;
  Clock::MonoTime start_time;
  std::unique_ptr<net::LocalCa> ca;
  MetricsRegistry metrics;  // before the components that register series in it
  std::unique_ptr<store::Store> store;
  // Face work, declared after the store (the gallery reads it) and before the servers (their
  // handlers use both): members are destroyed in reverse order.
  std::unique_ptr<face::FaceEngine> face_engine;
  std::unique_ptr<gallery::Gallery> gallery;
  // The access model decisions use, rebuilt when another process changed the database.
  mutable std::mutex snapshot_mu;
  std::shared_ptr<const access::AccessSnapshot> access_snapshot;  // GUARDED_BY(snapshot_mu)
  std::optional<int64_t> snapshot_data_version;
  std::string commissioning_secret;
  std::shared_ptr<api::DeviceApi> device_api;
  std::shared_ptr<admin::AdminApi> admin_api;
  // The Salto Space integration: sync and status (its thread follows the stored settings).
  std::unique_ptr<ship::SpaceService> space;
  // The cloud link (MQTT over mTLS): events from the outbox and telemetry up, commands down.
  std::unique_ptr<connect::ConnectService> cloud;
  Histogram::Snapshot last_latency;  // telemetry's previous reading (cloud thread only)
  Clock::MonoTime last_latency_at{};
  std::mutex refresh_mu;  // one snapshot rebuild at a time (main loop, the Space sync)
  // Resumes a key rotation that an earlier run (or facegatectl) left unfinished.
  std::thread rotation_thread;
  std::atomic<bool> rotation_running{false};
  std::atomic<bool> stopping{false};
  net::CertificateAndKey server_cert;
  std::shared_ptr<api::Readiness> readiness = std::make_shared<api::Readiness>();
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::unique_ptr<net::HttpsServer>> servers;
  std::vector<std::thread> threads;
  // systemd's watchdog (WatchdogSec=): pinged from the I/O event loop, so a wedged loop
  // stops the pings and systemd restarts the service. After `io`: destroyed before it.
  std::unique_ptr<asio::steady_timer> watchdog;
  std::chrono::microseconds watchdog_interval{0};
  Clock::MonoTime clock_checked_at{};  // RefreshClockWarning (main loop only)
};

// The machine against the requirements (host_check.h): a refusal stops the start; warnings
// are logged and shown by /readyz.
Status Daemon::Impl::CheckHost() {
  const HostFacts f = ReadHostFacts(options.data_dir);
  auto tri = [](Tristate t) {
    return t == Tristate::kYes ? "yes" : t == Tristate::kNo ? "no" : "unknown";
  };
  spdlog::info(
      "host: avx2_fma={} memory_mib={} data_dir_fs={} data_dir_device=\"{}\" "
      "storage_encrypted={} clock_synchronized={}",
      f.avx2_fma ? "yes" : "no", f.memory_bytes >> 20, f.data_fs_type, f.data_device,
      tri(f.data_encrypted), tri(f.clock_synchronized));
  HostVerdict v = JudgeHost(f, options.server.allow_no_avx2);
  if (!v.refusal.ok()) return v.refusal;
  for (const auto& w : v.warnings) {
    spdlog::warn("{}: {}", w.name, w.message);
    readiness->SetWarning(w.name, w.message);
  }
  clock_checked_at = clock.Monotonic();
  return Status::Ok();
}

// The clock's sync state changes while the daemon runs (NTP reachable or not): read again
// every minute.
void Daemon::Impl::RefreshClockWarning() {
  if (clock.Monotonic() - clock_checked_at < std::chrono::seconds(60)) return;
  clock_checked_at = clock.Monotonic();
  int64_t max_error = -1;
  if (auto w = ClockWarning(ClockSynchronized(&max_error))) {
    readiness->SetWarning(w->name, w->message);
  } else {
    readiness->ClearWarning("time_not_synchronized");
  }
}

// Pings at half the interval systemd gave (WATCHDOG_USEC): one late tick is not a restart.
void Daemon::Impl::StartWatchdog() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) return;
  watchdog_interval =
      std::max(std::chrono::microseconds(usec / 2), std::chrono::microseconds(1000));
  watchdog = std::make_unique<asio::steady_timer>(io);
  spdlog::info("systemd watchdog: {} ms, pinged every {} ms from the event loop", usec / 1000,
               watchdog_interval.count() / 1000);
  PingWatchdog();
}

void Daemon::Impl::PingWatchdog() {
  sd_notify(0, "WATCHDOG=1");
  watchdog->expires_after(watchdog_interval);
  watchdog->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) PingWatchdog();
  });
}

net::ServerCertificateRequest Daemon::Impl::CertificateRequest() const {
  net::ServerCertificateRequest req;
  req.validity = std::chrono::hours(24) * options.tls.server_cert_validity_days;
  std::set<std::string> ips(options.tls.server_addresses.begin(),
                            options.tls.server_addresses.end());
  bool wildcard = false;
  for (const auto* l : {&options.device, &options.admin, &options.enrollment}) {
    if (!l->enabled) continue;
    auto a = asio::ip::make_address(l->address);
    if (a.is_unspecified()) {
      wildcard = true;
    } else {
      ips.insert(a.to_string());
    }
  }
  if (wildcard) {
    for (auto& a : InterfaceAddresses()) ips.insert(a);
  }
  req.ip_addresses.assign(ips.begin(), ips.end());
  req.dns_names = options.tls.server_names;
  return req;
}

Result<std::shared_ptr<asio::ssl::context>> Daemon::Impl::MakeTls(const net::ListenerOptions& l) {
  net::TlsServerConfig config;
  if (!l.cert_file.empty()) {
    auto cert = ReadFile(l.cert_file, 1 << 20);
    if (!cert.ok()) return cert.status().WithContext("listeners." + l.name + ".cert_file");
    auto key = ReadFile(l.key_file, 1 << 20);
    if (!key.ok()) return key.status().WithContext("listeners." + l.name + ".key_file");
    config.certificate_chain_pem = *cert;
    config.private_key_pem = *key;
  } else {
    config.certificate_chain_pem = server_cert.certificate_pem;
    config.private_key_pem = server_cert.private_key_pem;
  }
  if (l.name == "device") {
    // Terminals present certificates from the local CA; commissioning comes without one.
    config.client_certificates = net::ClientCertificateMode::kOptional;
    config.client_ca_pem = ca->certificate_pem();
    // An expired terminal certificate is answered 403 certificate_expired by the device API.
    config.accept_expired_client_certificates = true;
  }
  auto ctx = net::MakeServerTlsContext(config);
  if (!ctx.ok()) {
    std::string what = l.cert_file.empty()
                           ? "the generated server certificate in " + pki_dir().string()
                           : l.cert_file.string() + " / " + l.key_file.string();
    return ctx.status().WithContext("listener " + l.name + " (" + what + ")");
  }
  return ctx;
}

Status Daemon::Impl::WritePortsFile() {
  if (options.server.ports_file.empty()) return Status::Ok();
  // A missing directory is made (a fresh checkout's var/run); an existing one is left as it is
  // (systemd's RuntimeDirectory has its own owner and mode).
  const auto parent = options.server.ports_file.parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    FACEGATE_RETURN_IF_ERROR(EnsureDirectory(parent, 0755));
  }
  nlohmann::json ports = nlohmann::json::object();
  for (const auto& s : servers) ports[s->options().name] = s->bound_port();
  nlohmann::json doc = {{"pid", ::getpid()}, {"ports", ports}};
  return WriteFileAtomically(options.server.ports_file, doc.dump() + "\n", 0644);
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() {
  if (!impl_) return;
  impl_->stopping.store(true);
  if (impl_->rotation_thread.joinable()) impl_->rotation_thread.join();
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
}

Result<std::unique_ptr<Daemon>> Daemon::Create(DaemonOptions options, const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  impl->start_time = clock.Monotonic();
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Status Daemon::Initialize() {
  auto& o = impl_->options;
  FACEGATE_RETURN_IF_ERROR(EnsureDirectory(o.data_dir, 0750).WithContext("data_dir"));
  FACEGATE_RETURN_IF_ERROR(EnsureDirectory(impl_->pki_dir(), 0700));
  if (o.store.key_source == store::KeySource::kDirectory) {
    // Creates keys/ (0700) and template.key (0600) once; never replaces a key.
    FACEGATE_RETURN_IF_ERROR(
        store::Keyring::EnsureFirstKey(o.store.key_dir).WithContext("template keys"));
  }
  auto opened = store::Store::Open(o.store, impl_->clock);
  if (!opened.ok()) return opened.status().WithContext("store " + o.store.db_file.string());
  impl_->store = std::move(opened).value();
  auto secret = api::LoadCommissioningSecret(impl_->pki_dir() / "commissioning.secret", true);
  if (!secret.ok()) return secret.status().WithContext("commissioning secret");
  impl_->commissioning_secret = std::move(secret).value();
  auto ca = net::LocalCa::OpenOrCreate(impl_->pki_dir(), impl_->clock,
                                       std::chrono::hours(24) * o.tls.ca_validity_days);
  if (!ca.ok()) return ca.status().WithContext("local CA");
  impl_->ca = std::move(ca).value();
  auto cert = net::EnsureServerCertificate(*impl_->ca, impl_->pki_dir(), kServerCertName,
                                           impl_->CertificateRequest(), impl_->clock,
                                           std::chrono::hours(24) * o.tls.renew_before_days);
  if (!cert.ok()) return cert.status().WithContext("server certificate");
  impl_->server_cert = std::move(cert).value();
  auto info = net::InspectCertificatePem(impl_->server_cert.certificate_pem);
  if (info.ok()) {
    std::string sans;
    for (const auto& ip : info->ip_addresses) sans += (sans.empty() ? "" : ",") + ip;
    for (const auto& dns : info->dns_names) sans += (sans.empty() ? "" : ",") + dns;
    spdlog::info("local CA fingerprint={} server certificate serial={} san={}",
                 impl_->ca->info().sha256_fingerprint_hex, info->serial_hex, sans);
  }
  return Status::Ok();
}

Result<std::string> Daemon::CreateFirstAdminToken() {
  auto active = impl_->store->CountActiveAdminTokens();
  if (!active.ok()) return active.status();
  if (*active > 0) return std::string();
  std::string sha256;
  auto token = admin::GenerateAdminToken(&sha256);
  if (!token.ok()) return token.status();
  auto id = impl_->store->CreateAdminToken(
      store::NewAdminToken{"first-admin", "admin", sha256, "facegated --init"});
  if (!id.ok()) return id.status();
  spdlog::info("created the first admin token (name=first-admin role=admin id={})", *id);
  return token;
}

Status Daemon::Impl::StartFaceWork() {
  if (!options.face.enabled) {
    spdlog::warn("face.enabled is false: captures cannot be identified");
    return Status::Ok();
  }
  readiness->Require("face_engine");
  readiness->Require("gallery");
  auto engine = face::FaceEngine::Open(options.face, &clock, &metrics);
  if (!engine.ok()) return engine.status().WithContext("face engine");
  face_engine = std::move(engine).value();
  face::EngineInfo info = face_engine->Info();
  readiness->Set("face_engine", true,
                 "workers=" + std::to_string(info.workers) + " blas=" + info.blas);

  auto g = gallery::Gallery::Open(store.get(), options.index, std::string(face::kModelVersion),
                                  options.face.matching, clock, &metrics);
  if (!g.ok()) return g.status().WithContext("gallery");
  gallery = std::move(g).value();
  gallery->StartBackgroundSync();
  RefreshStatus();
  return Status::Ok();
}

std::shared_ptr<const access::AccessSnapshot> Daemon::Impl::AccessSnapshot() const {
  std::lock_guard lock(snapshot_mu);
  return access_snapshot;
}

// Rebuilds the access snapshot when the database changed under another connection
// (facegatectl on the host) or when `force`d. A failed rebuild keeps the current snapshot.
void Daemon::Impl::RefreshAccessSnapshot(bool force) {
  std::lock_guard refresh(refresh_mu);
  auto version = store->DataVersion();
  if (!force && version.ok() && snapshot_data_version == *version) return;
  auto snapshot = access::LoadSnapshot(*store);
  if (!snapshot.ok()) {
    spdlog::error("access model not reloaded (decisions keep the previous one): {}",
                  snapshot.status().ToString());
    return;
  }
  std::lock_guard lock(snapshot_mu);
  access_snapshot = std::move(snapshot).value();
  if (version.ok()) snapshot_data_version = *version;
}

void Daemon::Impl::ResumeKeyRotation() {
  if (rotation_running.load()) return;  // the running pass moves to the newest key by itself
  if (rotation_thread.joinable()) rotation_thread.join();
  auto status = store->KeyRotationStatus();
  if (!status.ok() || status->done) return;
  spdlog::info("template key rotation to key {}: {} templates to re-encrypt in the background",
               status->target_key_id, status->remaining);
  rotation_running.store(true);
  rotation_thread = std::thread([this] {
    store::KeyRotationOptions batch;
    batch.max_batches = 1;  // one transaction at a time, so a stop is prompt
    while (!stopping.load()) {
      auto progress = store->RotateKey(batch);
      if (!progress.ok()) {
        spdlog::error("template key rotation stopped: {}", progress.status().ToString());
        break;
      }
      if (progress->done) {
        // One more call marks the older keys retired (a batch that finishes does not).
        (void)store->RotateKey(batch);
        spdlog::info("template key rotation finished: all templates under key {}",
                     progress->target_key_id);
        break;
      }
    }
    rotation_running.store(false);
  });
}

Status Daemon::Impl::StartDeviceApi() {
  RefreshAccessSnapshot(true);
  if (!AccessSnapshot()) return Status::Internal("the access model could not be loaded");
  api::DeviceApiContext c;
  c.store = store.get();
  c.engine = face_engine.get();
  c.gallery = gallery.get();
  c.access_snapshot = [this] { return AccessSnapshot(); };
  c.grant_sender = space.get();
  if (cloud) {
    c.event_sinks.push_back(
        {"connect", [this] { return cloud->wants_events(); }, [this] { cloud->Notify(); }});
  }
  c.ca = ca.get();
  c.commissioning_secret = commissioning_secret;
  c.matching = options.face.matching;
  c.clock = &clock;
  c.metrics = &metrics;
  auto created = api::DeviceApi::Create(options.devices, std::move(c));
  if (!created.ok()) return created.status();
  device_api = std::move(created).value();
  return Status::Ok();
}

Status Daemon::Impl::StartAdminApi() {
  admin::AdminApiContext c;
  c.store = store.get();
  c.engine = face_engine.get();
  c.gallery = gallery.get();
  c.ca = ca.get();
  c.commissioning_secret = commissioning_secret;
  c.commissioning_code_ttl_s = options.devices.commissioning_code_ttl_s;
  c.matching = options.face.matching;
  c.system.version = std::string(Version());
  c.system.started_at = start_time;
  // What terminals are told to reach in QR codes: the first configured server address, else
  // the device listener's own (a wildcard one names nothing a terminal can use).
  c.system.device_listener_address = options.tls.server_addresses.empty()
                                         ? options.device.address
                                         : options.tls.server_addresses.front();
  // Bound at Start, after the routes are made (port 0 picks one).
  c.system.device_listener_port = [this]() -> uint16_t {
    for (const auto& s : servers) {
      if (s->options().name == "device") return s->bound_port();
    }
    return options.device.port;
  };
  c.clock = &clock;
  c.metrics = &metrics;
  c.request_space_sync = [this] {
    if (space) space->RequestSync();
  };
  c.integration_details = [this](std::string_view name) -> std::string {
    if (name == "space" && space) return space->DetailsJson();
    if (name == "connect" && cloud) return cloud->DetailsJson();
    return "";
  };
  auto created = admin::AdminApi::Create(options.admin_api, std::move(c));
  if (!created.ok()) return created.status();
  admin_api = std::move(created).value();
  return Status::Ok();
}

void Daemon::Impl::StartCloudLink() {
  connect::ConnectContext c;
  c.store = store.get();
  c.clock = &clock;
  c.metrics = &metrics;
  c.version = std::string(Version());
  c.files_dir = options.data_dir / "connect";
  c.telemetry = [this] { return CloudTelemetry(); };
  c.diagnostics = [this] { return CloudDiagnostics(); };
  c.sync_now = [this] {
    auto row = store->GetIntegration("space");
    if (!space || !row.ok() || !*row || !(*row)->enabled) return false;
    space->RequestSync();
    return true;
  };
  cloud = std::make_unique<connect::ConnectService>(std::move(c));
}

// The daemon's part of the cloud link's telemetry: decisions and their latency since the
// last call (estimated from the latency histogram's buckets), face queue, index.
std::string Daemon::Impl::CloudTelemetry() {
  Histogram* h = metrics.GetHistogram("facegate_access_latency_seconds",
                                      "Time from the whole capture received to the decision sent",
                                      MetricsRegistry::LatencyBucketsSeconds());
  Histogram::Snapshot now = h->Take();
  const auto at = clock.Monotonic();
  Histogram::Snapshot d = now;
  if (last_latency.cumulative_counts.size() == now.cumulative_counts.size()) {
    for (size_t i = 0; i < d.cumulative_counts.size(); ++i) {
      d.cumulative_counts[i] -= last_latency.cumulative_counts[i];
    }
    d.count -= last_latency.count;
    d.sum -= last_latency.sum;
  }
  const double seconds = last_latency_at == Clock::MonoTime{}
                             ? std::chrono::duration<double>(at - start_time).count()
                             : std::chrono::duration<double>(at - last_latency_at).count();
  last_latency = now;
  last_latency_at = at;
  // The upper bound of the bucket holding quantile q (interpolated inside it), in ms.
  auto quantile = [&](double q) -> nlohmann::json {
    if (d.count == 0) return nullptr;
    const double rank = q * static_cast<double>(d.count);
    double lower = 0;
    uint64_t below = 0;
    for (size_t i = 0; i < d.upper_bounds.size(); ++i) {
      const uint64_t c = d.cumulative_counts[i];
      if (static_cast<double>(c) >= rank) {
        const double in = static_cast<double>(c - below);
        const double f = in > 0 ? (rank - static_cast<double>(below)) / in : 1;
        return 1000 * (lower + f * (d.upper_bounds[i] - lower));
      }
      lower = d.upper_bounds[i];
      below = c;
    }
    return 1000 * lower;  // beyond the last bound
  };
  nlohmann::json t = {
      {"uptime_s", std::chrono::duration<double>(at - start_time).count()},
      {"decisions", {{"count", d.count}, {"per_second", seconds > 0 ? d.count / seconds : 0}}},
      {"latency_ms",
       {{"p50", quantile(0.5)},
        {"p90", quantile(0.9)},
        {"p99", quantile(0.99)},
        {"mean", d.count ? nlohmann::json(1000 * d.sum / static_cast<double>(d.count))
                         : nlohmann::json(nullptr)}}},
      {"face_queue_depth", face_engine ? face_engine->QueueDepth() : 0}};
  if (gallery) {
    gallery::GalleryStats st = gallery->Stats();
    t["index"] = {{"templates", st.templates}, {"identities", st.identities}};
  } else {
    t["index"] = {{"templates", 0}, {"identities", 0}};
  }
  return t.dump();
}

// What request-diagnostics adds: readiness, the configuration file with every secret
// redacted, and the recent warnings and errors with the site's people taken out.
std::string Daemon::Impl::CloudDiagnostics() {
  nlohmann::json d = {
      {"uptime_s", std::chrono::duration<double>(clock.Monotonic() - start_time).count()}};
  d["readiness"] = nlohmann::json::parse(readiness->ReportJson(), nullptr, false);
  std::function<void(nlohmann::json&)> redact = [&](nlohmann::json& j) {
    if (j.is_array()) {
      for (auto& v : j) redact(v);
      return;
    }
    if (!j.is_object()) return;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (store::IsSecretSettingKey(it.key()) && !it->is_object()) {
        *it = "(redacted)";
      } else {
        redact(*it);
      }
    }
  };
  nlohmann::json config = nullptr;
  if (!options.config_file.empty()) {
    auto text = ReadFile(options.config_file);
    if (text.ok()) {
      config = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false,
                                     /*ignore_comments=*/true);
      if (config.is_discarded()) config = "(not JSON)";
      redact(config);
    }
  }
  d["config"] = config;
  // A log line may name a person (an external id in a sync warning): every word that is an
  // enrolled person's external id or name is replaced before anything leaves the site.
  std::unordered_set<std::string> personal;
  for (int64_t after = 0;;) {
    auto users = store->ListUsers(after, 1000);
    if (!users.ok() || users->empty()) break;
    for (const auto& u : *users) {
      for (const std::string* w : {&u.external_id, &u.first_name, &u.last_name}) {
        if (!w->empty()) personal.insert(*w);
      }
      after = u.id;
    }
    if (users->size() < 1000) break;
  }
  nlohmann::json problems = nlohmann::json::array();
  for (const std::string& line : RecentProblems()) {
    std::string out, word;
    auto flush = [&] {
      out += personal.count(word) ? "[redacted]" : word;
      word.clear();
    };
    for (char c : line) {
      const bool part = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                        c == '.' || c == '@' || static_cast<unsigned char>(c) >= 0x80;
      if (part) {
        word.push_back(c);
      } else {
        flush();
        out.push_back(c);
      }
    }
    flush();
    problems.push_back(out);
  }
  d["recent_problems"] = problems;
  return d.dump();
}

// Called once a second from the main loop: what /readyz shows beyond the fixed checks, the
// access model, and the device API's periodic duties.
void Daemon::Impl::RefreshStatus() {
  RefreshAccessSnapshot(false);
  RefreshClockWarning();
  if (admin_api) admin_api->Tick();
  if (device_api) {
    device_api->Tick();
    if (size_t n = device_api->ExpiringCertificates(); n > 0) {
      readiness->SetWarning("device_certificates_expiring",
                            std::to_string(n) +
                                " terminal certificates expire within devices.renew_before_days "
                                "(terminals renew by themselves; see the log for which)");
    } else {
      readiness->ClearWarning("device_certificates_expiring");
    }
  }
  if (!gallery) return;
  gallery::GalleryStats st = gallery->Stats();
  readiness->Set("gallery", true,
                 "templates=" + std::to_string(st.templates) +
                     " identities=" + std::to_string(st.identities) + " simd=" + st.simd);
  if (st.stranger_risk.above_bound) {
    char text[256];
    std::snprintf(text, sizeof text,
                  "%zu people at security level %s: a stranger matches somebody with "
                  "probability %.3f (bound %.3f); raise face.matching.security_level or use "
                  "1:1 at the doors",
                  st.identities, std::string(face::SecurityLevelName(st.security_level)).c_str(),
                  st.stranger_risk.probability, options.face.matching.max_stranger_probability);
    readiness->SetWarning("stranger_risk", text);
  } else {
    readiness->ClearWarning("stranger_risk");
  }
}

Status Daemon::Start() {
  auto& o = impl_->options;
  FACEGATE_RETURN_IF_ERROR(impl_->CheckHost().WithContext("host check"));
  FACEGATE_RETURN_IF_ERROR(impl_->StartFaceWork());
  impl_->ResumeKeyRotation();
  // Before the device API, which tells it of every grant. A sync changes the access model:
  // decisions use the new one as soon as it is committed.
  impl_->space = std::make_unique<ship::SpaceService>(
      *impl_->store, impl_->clock, &impl_->metrics,
      [impl = impl_.get()] { impl->RefreshAccessSnapshot(true); });
  impl_->StartCloudLink();
  FACEGATE_RETURN_IF_ERROR(impl_->StartDeviceApi().WithContext("device API"));
  FACEGATE_RETURN_IF_ERROR(impl_->StartAdminApi().WithContext("admin API"));
  auto router_for = [&](const net::ListenerOptions& l) {
    auto router = std::make_shared<net::Router>();
    api::HealthRoutes which;
    which.metrics = l.name == "admin";
    api::AddHealthRoutes(*router, which, impl_->readiness, &impl_->metrics, impl_->clock,
                         impl_->start_time);
    if (l.name == "device") impl_->device_api->AddRoutes(*router);
    if (l.name == "admin") impl_->admin_api->AddRoutes(*router);
    return router;
  };
  for (const auto* l : {&o.device, &o.admin, &o.enrollment}) {
    if (!l->enabled) continue;
    impl_->readiness->Require("listener." + l->name);
    auto tls = impl_->MakeTls(*l);
    if (!tls.ok()) return tls.status();
    auto server =
        std::make_unique<net::HttpsServer>(impl_->io, *l, *tls, router_for(*l), &impl_->metrics);
    FACEGATE_RETURN_IF_ERROR(server->Start());
    impl_->servers.push_back(std::move(server));
  }
  if (auto tokens = impl_->store->CountActiveAdminTokens(); tokens.ok() && *tokens == 0) {
    spdlog::warn("no admin token exists yet: run 'facegated --init' once to create the first");
  }
  impl_->work.emplace(asio::make_work_guard(impl_->io));
  for (int i = 0; i < o.server.io_threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
  for (const auto& s : impl_->servers) {
    impl_->readiness->Set("listener." + s->options().name, true, "serving");
    spdlog::info("listener={} url=https://{}:{}/", s->options().name,
                 s->options().address.find(':') != std::string::npos
                     ? "[" + s->options().address + "]"
                     : s->options().address,
                 s->bound_port());
  }
  FACEGATE_RETURN_IF_ERROR(impl_->WritePortsFile().WithContext("server.ports_file"));
  sd_notifyf(0, "READY=1\nSTATUS=serving\nMAINPID=%d", static_cast<int>(::getpid()));
  // The first ping right after READY=1 (systemd arms the watchdog then), on the loop's thread.
  asio::post(impl_->io, [this] { impl_->StartWatchdog(); });
  spdlog::info("facegated {} ready", Version());
  return Status::Ok();
}

void Daemon::RequestStop() { RaiseSignalFlags(kSignalStop); }

int Daemon::RunUntilStopped() {
  InstallSignalHandlers();
  for (;;) {
    unsigned flags = WaitForSignals(std::chrono::milliseconds(1000));
    if (flags & kSignalStop) break;
    impl_->RefreshStatus();
    if (flags & kSignalReload) {
      sd_notify(0, "RELOADING=1");
      Status s = Reload();
      if (!s.ok())
        spdlog::error("reload failed, keeping the running configuration: {}", s.ToString());
      // Apart from the configuration: a template key added beside the running daemon
      // (facegatectl store rotate-key) is taken up, and the templates are moved to it in the
      // background, even when the configuration file is broken.
      if (auto key = impl_->store->ReloadKeys(); key.ok()) {
        impl_->ResumeKeyRotation();
      } else {
        spdlog::error("template keys not reloaded (the loaded ones stay in use): {}",
                      key.status().ToString());
      }
      sd_notify(0, "READY=1");
    }
  }
  impl_->Drain();
  return 0;
}

void Daemon::Impl::Drain() {
  sd_notify(0, "STOPPING=1");
  readiness->SetDraining();
  spdlog::info("draining: no new connections; waiting up to {} ms for requests in flight",
               options.server.drain_timeout_ms);
  for (auto& s : servers) s->Drain();
  auto deadline = clock.Monotonic() + std::chrono::milliseconds(options.server.drain_timeout_ms);
  auto busy = [&] {
    size_t n = 0;
    for (auto& s : servers) n += s->requests_in_flight();
    return n;
  };
  while (busy() > 0 && clock.Monotonic() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (size_t left = busy(); left > 0) {
    spdlog::warn("drain timeout: {} requests still in flight are cut off", left);
  }
  // Let the last answers reach the wire and the TLS close_notify go out.
  auto linger = clock.Monotonic() + std::chrono::milliseconds(500);
  auto open = [&] {
    size_t n = 0;
    for (auto& s : servers) n += s->open_connections();
    return n;
  };
  while (open() > 0 && clock.Monotonic() < linger) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  work.reset();
  io.stop();
  for (auto& t : threads) t.join();
  threads.clear();
  servers.clear();
  if (space) space->Stop();
  if (cloud) cloud->Stop();  // announces "offline" to the cloud
  // Before the engine: the APIs' threads may still be finishing decisions and imports.
  device_api.reset();
  admin_api.reset();
  stopping.store(true);
  if (rotation_thread.joinable()) rotation_thread.join();
  if (!options.server.ports_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(options.server.ports_file, ec);  // the ports are no longer bound
  }
  spdlog::info("stopped");
}

Status Daemon::Reload() {
  const DaemonOptions& current = impl_->options;
  auto fresh = LoadDaemonOptions(current.config_file);
  if (!fresh.ok()) return fresh.status();
  // Build everything first and apply only when all of it worked: a failed reload changes
  // nothing (the log level included).
  DaemonOptions next = current;
  next.log.level = fresh->log.level;
  next.tls = fresh->tls;
  for (auto* l : {&next.device, &next.admin, &next.enrollment}) {
    const net::ListenerOptions& f = l->name == "device"  ? fresh->device
                                    : l->name == "admin" ? fresh->admin
                                                         : fresh->enrollment;
    l->cert_file = f.cert_file;
    l->key_file = f.key_file;
    if (f.address != l->address || f.port != l->port || f.enabled != l->enabled) {
      spdlog::warn("listeners.{}: address, port or enabled changed; restart facegated to apply",
                   l->name);
    }
  }
  std::swap(impl_->options, next);  // CertificateRequest and MakeTls read impl_->options
  auto restore = [&] { std::swap(impl_->options, next); };
  auto cert = net::EnsureServerCertificate(
      *impl_->ca, impl_->pki_dir(), kServerCertName, impl_->CertificateRequest(), impl_->clock,
      std::chrono::hours(24) * impl_->options.tls.renew_before_days);
  if (!cert.ok()) {
    restore();
    return cert.status().WithContext("server certificate");
  }
  net::CertificateAndKey previous_cert = impl_->server_cert;
  impl_->server_cert = *cert;
  std::vector<std::shared_ptr<asio::ssl::context>> contexts;
  for (auto& s : impl_->servers) {
    const std::string& name = s->options().name;
    const auto& o = impl_->options;
    auto tls = impl_->MakeTls(name == "device"  ? o.device
                              : name == "admin" ? o.admin
                                                : o.enrollment);
    if (!tls.ok()) {
      impl_->server_cert = previous_cert;
      restore();
      return tls.status();
    }
    contexts.push_back(*tls);
  }
  if (Status s = SetLogLevel(impl_->options.log.level); !s.ok()) {
    impl_->server_cert = previous_cert;
    restore();
    return s;
  }
  if (impl_->options.log.level != next.log.level) {
    spdlog::info("log level is now {}", impl_->options.log.level);
  }
  for (size_t i = 0; i < impl_->servers.size(); ++i) {
    impl_->servers[i]->ReplaceTlsContext(contexts[i]);
  }
  spdlog::info("reloaded: certificates of {} listeners replaced", impl_->servers.size());
  return Status::Ok();
}

uint16_t Daemon::bound_port(const std::string& listener) const {
  for (const auto& s : impl_->servers) {
    if (s->options().name == listener) return s->bound_port();
  }
  return 0;
}

}  // namespace facegate::daemon
