#include "facegate/ship/space_service.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "facegate/core/settings_reader.h"
#include "facegate/core/time_format.h"
#include "facegate/core/work_pool.h"
#include "facegate/ship/sync.h"

namespace facegate::ship {
namespace {

using json = nlohmann::json;
using store::IntegrationStatus;

constexpr const char* kName = "space";
constexpr const char* kAuditCursorSetting = "ship.audit_cursor";  // "<Space> <next EventID>"
constexpr size_t kMaxAwaitingAudit = 10000;
constexpr int kMaxAuditPagesPerRound = 20;
constexpr int kOperationDeniedByHost = 103;

// "https://h:1/p" -> kind, host, port, path; errors say what is wrong with the URL.
Status ParseUrl(const std::string& url, TransportOptions* o) {
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    o->kind = TransportOptions::Kind::kHttps;
    rest = url.substr(8);
  } else if (url.rfind("stp+tls://", 0) == 0) {
    o->kind = TransportOptions::Kind::kStp;
    o->stp_tls = true;
    rest = url.substr(10);
  } else if (url.rfind("stp://", 0) == 0) {
    o->kind = TransportOptions::Kind::kStp;
    o->stp_tls = false;
    rest = url.substr(6);
  } else {
    return Status::InvalidArgument(
        "expected https://HOST[:PORT][/PATH], stp+tls://HOST[:PORT] or stp://HOST[:PORT], got '" +
        url + "'");
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  o->path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (o->kind == TransportOptions::Kind::kStp && o->path != "/") {
    return Status::InvalidArgument("an stp URL has no path, got '" + url + "'");
  }
  std::string port;
  if (!authority.empty() && authority[0] == '[') {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("unclosed '[' in '" + url + "'");
    o->host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Status::InvalidArgument("bad port in '" + url + "'");
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    o->host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (o->host.empty()) return Status::InvalidArgument("no host in '" + url + "'");
  o->port = 8100;
  if (!port.empty()) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535)
        return Status::InvalidArgument("bad port in '" + url + "'");
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return Status::InvalidArgument("bad port in '" + url + "'");
    o->port = static_cast<uint16_t>(p);
  }
  return Status::Ok();
}

std::string_view StatusName(IntegrationStatus s) { return store::IntegrationStatusName(s); }

IntegrationStatus StatusOfFailure(const Status& s) {
  return s.code() == StatusCode::kUnauthenticated ? IntegrationStatus::kUnauthorized
                                                  : IntegrationStatus::kDisconnected;
}

}  // namespace

Result<SpaceSettings> ParseSpaceSettings(std::string_view settings_json) {
  json j = json::parse(settings_json, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("settings: expected a JSON object");
  SpaceSettings out;
  SettingsReader r(j);
  auto error = [&](const std::string& key, const std::string& what) { r.Error(key, what); };
  auto text = [&](const char* key) { return r.Text(key); };
  auto number = [&](const char* key, int64_t fallback, int64_t min, int64_t max) {
    return r.Number(key, fallback, min, max);
  };
  const std::string url = text("url");
  if (url.empty()) {
    error("url", "required (https://HOST:8100/ or stp+tls://HOST:8100)");
  } else if (Status s = ParseUrl(url, &out.transport); !s.ok()) {
    error("url", s.message());
  }
  const std::string auth = text("auth");
  if (auth.empty() || auth == "key") {
    out.transport.auth = TransportOptions::Auth::kKey;
  } else if (auth == "basic") {
    out.transport.auth = TransportOptions::Auth::kBasic;
  } else {
    error("auth", "expected key or basic, got '" + auth + "'");
  }
  out.transport.api_key = text("api_key");
  out.transport.basic_user = text("basic_user");
  out.transport.basic_password = text("basic_password");
  out.transport.ca_file = text("ca_file");
  out.transport.pin_sha256 = text("pin_sha256");
  out.transport.stp_version = static_cast<int>(number("stp_version", 0, 0, 99));
  out.sync_interval = std::chrono::seconds(number("sync_interval_s", 300, 1, 86400));
  out.probe_interval = std::chrono::seconds(number("probe_interval_s", 30, 1, 3600));
  out.client.request_timeout =
      std::chrono::milliseconds(number("request_timeout_ms", 10000, 100, 600000));
  out.client.page_size = static_cast<int>(number("page_size", 500, 1, 10000));
  out.door_open_timeout = std::chrono::milliseconds(number("door_open_timeout_ms", 1000, 50, 1900));
  out.audit_interval = std::chrono::seconds(number("audit_interval_s", 60, 0, 86400));
  out.audit_match_window = std::chrono::seconds(number("audit_match_window_s", 120, 1, 3600));
  out.audit_grace = std::chrono::seconds(number("audit_grace_s", 300, 1, 86400));
  const std::string removed = text("removed_users");
  if (removed.empty() || removed == "erase") {
    out.removed_users = store::RemovedShipUser::kErase;
  } else if (removed == "keep") {
    out.removed_users = store::RemovedShipUser::kKeep;
  } else {
    error("removed_users", "expected erase or keep, got '" + removed + "'");
  }
  if (r.ok()) {
    // The transport's own checks (verification, credentials) with the same key names.
    auto t = MakeTransport(out.transport);
    if (!t.ok()) r.ErrorText(t.status().message());
  }
  FACEGATE_RETURN_IF_ERROR(r.Finish());
  return out;
}

struct SpaceService::Impl {
  store::Store& store;
  const Clock& clock;
  std::function<void()> on_synced;
  SpaceServiceOptions options;
  Gauge* status_gauge[4] = {};
  Counter* syncs_ok = nullptr;
  Counter* syncs_failed = nullptr;
  Gauge* users = nullptr;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;       // GUARDED_BY(mu)
  bool sync_requested = true;  // GUARDED_BY(mu): a full sync at start-up
  State state;                 // GUARDED_BY(mu)
  std::thread thread;

  // What door openings use, published by the thread (GUARDED_BY(mu)).
  std::shared_ptr<Client> live_client;
  std::chrono::milliseconds door_open_timeout{1000};
  WorkPool openings{"ship-open", 8, 256};
  Counter* opened = nullptr;
  Counter* open_failed = nullptr;
  Counter* open_refused = nullptr;
  Histogram* open_seconds = nullptr;

  // Openings Space confirmed, waiting for their audit-trail entry (GUARDED_BY(mu)).
  struct AwaitingAudit {
    std::string door;
    Clock::WallTime at;
  };
  std::deque<AwaitingAudit> awaiting_audit;
  bool audit_enabled = false;  // GUARDED_BY(mu)
  Counter* audit_confirmed = nullptr;
  Counter* audit_unconfirmed = nullptr;

  // Owned by the thread.
  Clock::MonoTime next_audit{};
  std::string audit_error_seen;
  std::string settings_seen;
  std::optional<SpaceSettings> settings;
  std::shared_ptr<Client> client;
  Clock::MonoTime next_probe{};
  Clock::MonoTime next_sync{};

  Impl(store::Store& s, const Clock& c, MetricsRegistry* metrics, std::function<void()> synced,
       SpaceServiceOptions o)
      : store(s), clock(c), on_synced(std::move(synced)), options(o) {
    if (metrics) {
      for (auto st : {IntegrationStatus::kConnected, IntegrationStatus::kUnauthorized,
                      IntegrationStatus::kDisconnected, IntegrationStatus::kNoStatus}) {
        status_gauge[static_cast<int>(st)] = metrics->GetGauge(
            "facegate_integration_status",
            "1 for the integration's current status (connected, unauthorized, disconnected, "
            "no_status)",
            {"integration", "status"}, {kName, std::string(StatusName(st))});
      }
      syncs_ok = metrics->GetCounter("facegate_ship_syncs_total", "Salto Space full syncs",
                                     {"result"}, {"ok"});
      syncs_failed = metrics->GetCounter("facegate_ship_syncs_total", "Salto Space full syncs",
                                         {"result"}, {"failed"});
      users = metrics->GetGauge("facegate_ship_users", "Users read at the last Salto Space sync");
      status_gauge[static_cast<int>(IntegrationStatus::kNoStatus)]->Set(1);
      auto openings_total = [&](const char* result) {
        return metrics->GetCounter("facegate_acs_door_openings_total",
                                   "Door openings asked of Salto Space, by result", {"result"},
                                   {result});
      };
      opened = openings_total("opened");
      open_failed = openings_total("unreachable");
      open_refused = openings_total("refused");
      audit_confirmed = metrics->GetCounter(
          "facegate_ship_audit_openings_total",
          "Door openings Salto Space confirmed, by whether its audit trail then showed them",
          {"result"}, {"confirmed"});
      audit_unconfirmed = metrics->GetCounter(
          "facegate_ship_audit_openings_total",
          "Door openings Salto Space confirmed, by whether its audit trail then showed them",
          {"result"}, {"unconfirmed"});
      open_seconds = metrics->GetHistogram("facegate_acs_door_open_seconds",
                                           "Time to a confirmed door opening from Salto Space",
                                           MetricsRegistry::LatencyBucketsSeconds());
    }
  }

  void SetStatus(IntegrationStatus status, const std::string& error) {
    bool changed = false;
    {
      std::lock_guard lock(mu);
      changed = state.status != status || (!error.empty() && state.last_error != error);
      state.status = status;
      if (!error.empty()) state.last_error = error;
    }
    for (int i = 0; i < 4; ++i) {
      if (status_gauge[i]) status_gauge[i]->Set(i == static_cast<int>(status) ? 1 : 0);
    }
    if (!changed && status != IntegrationStatus::kNoStatus) return;
    if (changed) {
      if (status == IntegrationStatus::kConnected) {
        spdlog::info("integration=space status=connected url={}", client ? client->Describe() : "");
      } else {
        spdlog::warn("integration=space status={} error=\"{}\"", StatusName(status), error);
      }
    }
    if (Status s = store.SetIntegrationStatus(kName, status, error); !s.ok()) {
      spdlog::error("integration=space: the status could not be stored: {}", s.ToString());
    }
  }

  void Publish() {
    std::lock_guard lock(mu);
    live_client = client;
    if (settings) door_open_timeout = settings->door_open_timeout;
    audit_enabled = client && settings && settings->audit_interval.count() > 0;
    if (!audit_enabled) awaiting_audit.clear();
  }

  // An opening Space confirmed: its audit entry is looked for at the next reconciliation.
  void AwaitAudit(const std::string& door) {
    std::lock_guard lock(mu);
    if (!audit_enabled) return;
    if (awaiting_audit.size() >= kMaxAwaitingAudit) awaiting_audit.pop_front();
    awaiting_audit.push_back({door, clock.Now()});
    state.openings_awaiting_audit = static_cast<int64_t>(awaiting_audit.size());
  }

  // Reads the audit trail from the cursor and matches it to the openings awaiting it.
  void Reconcile() {
    const std::string space = client->Describe();
    int64_t cursor = 0;
    if (auto v = store.GetSetting(kAuditCursorSetting); v.ok() && *v) {
      const std::string& text = **v;
      if (text.size() > space.size() && text.compare(0, space.size(), space) == 0 &&
          text[space.size()] == ' ') {
        cursor = std::strtoll(text.c_str() + space.size() + 1, nullptr, 10);
      }
    }
    std::vector<AuditEntry> entries;
    bool caught_up = false;
    for (int pages = 0; pages < kMaxAuditPagesPerRound; ++pages) {
      auto page = client->ReadAuditTrail(cursor, settings->client.page_size);
      if (!page.ok()) {
        // Not a status change: probes and syncs say whether Space is reachable.
        if (page.status().message() != audit_error_seen) {
          spdlog::warn("integration=space audit trail not read (reconciliation waits): {}",
                       page.status().ToString());
          audit_error_seen = page.status().message();
        }
        break;
      }
      audit_error_seen.clear();
      for (AuditEntry& e : page->entries) {
        if (e.event_id < cursor) continue;  // StartingFrom... read as inclusive
        cursor = e.event_id + 1;
        entries.push_back(std::move(e));
      }
      if (page->eof || page->entries.empty()) {
        caught_up = true;
        break;
      }
    }
    if (Status s = store.SetSetting(kAuditCursorSetting, space + " " + std::to_string(cursor));
        !s.ok()) {
      spdlog::error("integration=space: the audit cursor could not be stored: {}", s.ToString());
    }
    const auto now = clock.Now();
    int64_t confirmed = 0;
    std::vector<AwaitingAudit> unconfirmed;
    {
      std::lock_guard lock(mu);
      for (const AuditEntry& e : entries) {
        if (e.operation == kOperationDeniedByHost || !e.date_time) continue;
        const auto at = FromSpaceLocalTime(*e.date_time);
        for (auto it = awaiting_audit.begin(); it != awaiting_audit.end(); ++it) {
          const auto apart = at > it->at ? at - it->at : it->at - at;
          if (it->door == e.ext_door_id && apart <= settings->audit_match_window) {
            awaiting_audit.erase(it);
            ++confirmed;
            break;
          }
        }
      }
      // Only a trail read to its end can tell that an entry is missing.
      while (caught_up && !awaiting_audit.empty() &&
             awaiting_audit.front().at + settings->audit_grace < now) {
        unconfirmed.push_back(std::move(awaiting_audit.front()));
        awaiting_audit.pop_front();
      }
      state.audit_cursor = cursor;
      state.audit_entries_read += static_cast<int64_t>(entries.size());
      state.openings_confirmed += confirmed;
      state.openings_unconfirmed += static_cast<int64_t>(unconfirmed.size());
      state.openings_awaiting_audit = static_cast<int64_t>(awaiting_audit.size());
      state.last_audit_read = now;
    }
    if (audit_confirmed) audit_confirmed->Increment(static_cast<uint64_t>(confirmed));
    if (audit_unconfirmed) audit_unconfirmed->Increment(unconfirmed.size());
    for (const auto& u : unconfirmed) {
      spdlog::warn(
          "integration=space door={} opening at {} was confirmed by Salto Space but is not in "
          "its audit trail after {} s",
          u.door, FormatRfc3339(u.at), settings->audit_grace.count());
    }
  }

  // Looks at the stored settings; (re)makes the client when they changed.
  bool Configure() {
    auto row = store.GetIntegration(kName);
    if (!row.ok()) {
      spdlog::error("integration=space: settings not readable: {}", row.status().ToString());
      return client != nullptr;
    }
    const bool enabled = *row && (*row)->enabled;
    const std::string seen = enabled ? (*row)->settings_json : std::string();
    if (enabled && seen == settings_seen && client) return true;
    if (!enabled) {
      if (client || settings_seen != "-") {
        client.reset();
        Publish();
        settings.reset();
        settings_seen = "-";
        if (*row && (*row)->status != IntegrationStatus::kNoStatus) {
          SetStatus(IntegrationStatus::kNoStatus, "");
        }
      }
      return false;
    }
    settings_seen = seen;
    client.reset();
    Publish();
    auto parsed = ParseSpaceSettings(seen);
    if (!parsed.ok()) {
      SetStatus(IntegrationStatus::kNoStatus, "not configured: " + parsed.status().message());
      return false;
    }
    auto transport = MakeTransport(parsed->transport);
    if (!transport.ok()) {
      SetStatus(IntegrationStatus::kNoStatus, "not configured: " + transport.status().message());
      return false;
    }
    settings = std::move(parsed).value();
    client = std::make_shared<Client>(std::move(transport).value(), settings->client, clock);
    Publish();
    next_probe = clock.Monotonic();
    next_audit = clock.Monotonic() + settings->audit_interval;
    std::lock_guard lock(mu);
    sync_requested = true;  // new settings: a new Space, perhaps
    return true;
  }

  void Sync() {
    auto result = RunFullSync(*client, store, settings->removed_users, clock);
    if (!result.ok()) {
      {
        std::lock_guard lock(mu);
        state.syncs++;
        state.failed_syncs++;
      }
      if (syncs_failed) syncs_failed->Increment();
      spdlog::warn("integration=space sync failed (the store keeps the last complete sync): {}",
                   result.status().ToString());
      SetStatus(StatusOfFailure(result.status()), result.status().message());
      return;
    }
    {
      std::lock_guard lock(mu);
      state.syncs++;
      state.last_sync = clock.Now();
      state.last_sync_result = *result;
    }
    if (syncs_ok) syncs_ok->Increment();
    if (users) users->Set(result->users_read);
    const auto& r = result->report;
    spdlog::info(
        "integration=space sync: users={} (+{} ~{} -{} adopted {}) doors={} groups={} "
        "schedules={} rights={} memberships={} skipped={} read_ms={} apply_ms={}",
        result->users_read, r.users_added, r.users_updated, r.users_removed, r.users_adopted,
        r.doors, r.groups, r.schedules, r.rights, r.memberships, r.skipped,
        result->read_time.count(), result->apply_time.count());
    for (const auto& e : r.skipped_examples) spdlog::warn("integration=space sync skipped: {}", e);
    SetStatus(IntegrationStatus::kConnected, "");
    if (on_synced) on_synced();
  }

  // One round: settings, then a sync when one is due or asked for, else a probe when due.
  void Round() {
    if (!Configure()) return;
    const auto now = clock.Monotonic();
    bool sync = false;
    {
      std::lock_guard lock(mu);
      sync = sync_requested || now >= next_sync;
      sync_requested = false;
    }
    if (sync) {
      next_sync = now + settings->sync_interval;
      next_probe = now + settings->probe_interval;
      Sync();
    } else if (now >= next_probe) {
      next_probe = now + settings->probe_interval;
      auto info = client->GetInfo();
      if (info.ok()) {
        SetStatus(IntegrationStatus::kConnected, "");
      } else {
        SetStatus(StatusOfFailure(info.status()), info.status().message());
      }
    }
    if (settings->audit_interval.count() > 0 && clock.Monotonic() >= next_audit) {
      next_audit = clock.Monotonic() + settings->audit_interval;
      if (state_status() == IntegrationStatus::kConnected) Reconcile();
    }
  }

  IntegrationStatus state_status() const {
    std::lock_guard lock(mu);
    return state.status;
  }

  void Run() {
    for (;;) {
      Round();
      std::unique_lock lock(mu);
      if (stopping) return;
      cv.wait_for(lock, options.poll, [this] { return stopping || sync_requested; });
      if (stopping) return;
    }
  }
};
SpaceService::SpaceService(store::Store& store, const Clock& clock, MetricsRegistry* metrics,
                           std::function<void()> on_synced, SpaceServiceOptions options)
    : impl_(std::make_unique<Impl>(store, clock, metrics, std::move(on_synced), options)) {
  impl_->thread = std::thread([this] { impl_->Run(); });
}

SpaceService::~SpaceService() { Stop(); }

void SpaceService::OnGrant(const store::Door& door, int64_t /*user_id*/,
                           std::chrono::milliseconds budget,
                           std::function<void(access::GrantOutcome)> done) {
  using Kind = access::GrantOutcome::Kind;
  std::shared_ptr<Client> client;
  std::chrono::milliseconds timeout;
  {
    std::lock_guard lock(impl_->mu);
    client = impl_->live_client;
    timeout = impl_->door_open_timeout;
  }
  if (!client) return done({});  // the integration is off: the decision is Facegate's alone
  if (door.source != store::RecordSource::kShip) return done({});
  const json settings = json::parse(door.settings_json, nullptr, false);
  if (settings.is_object() && settings.value("open_via_space", true) == false) return done({});
  const bool fail_open = settings.is_object() && settings.value("acs_fail_open", false) == true;
  const auto limit = std::min(budget, timeout);
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + limit;
  Impl* impl = impl_.get();
  auto run = [impl, client, ext = door.external_id, fail_open, started, deadline, done] {
    access::GrantOutcome o;
    o.fail_open = fail_open;
    auto r = std::chrono::steady_clock::now() < deadline
                 ? client->OpenDoors({ext}, deadline)
                 : Result<std::vector<DoorOpenResult>>(
                       Status::DeadlineExceeded("no time was left to ask Salto Space"));
    o.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
               .count();
    if (!r.ok()) {
      o.kind = Kind::kUnreachable;
      o.error = r.status().message();
      if (impl->open_failed) impl->open_failed->Increment();
      spdlog::warn("integration=space door={} not opened: {} ({:.0f} ms)", ext, o.error, o.ms);
    } else if (r->front().error_code == error_code::kOk) {
      o.kind = Kind::kOpened;
      impl->AwaitAudit(ext);
      if (impl->opened) impl->opened->Increment();
      if (impl->open_seconds) impl->open_seconds->Observe(o.ms / 1000);
    } else {
      o.kind = Kind::kRefused;
      o.error = "Salto Space refused to open door " + ext + ": " + r->front().message + " (code " +
                std::to_string(r->front().error_code) + ")";
      if (impl->open_refused) impl->open_refused->Increment();
      spdlog::warn("integration=space {}", o.error);
    }
    done(std::move(o));
  };
  if (!impl_->openings.Post(run)) {
    access::GrantOutcome o;
    o.kind = Kind::kUnreachable;
    o.error = "too many door openings waiting for Salto Space";
    o.fail_open = fail_open;
    done(std::move(o));
  }
}

void SpaceService::RequestSync() {
  std::lock_guard lock(impl_->mu);
  impl_->sync_requested = true;
  impl_->cv.notify_all();
}

void SpaceService::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

SpaceService::State SpaceService::state() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state;
}

std::string SpaceService::DetailsJson() const {
  const State st = state();
  json j = {{"syncs", st.syncs},
            {"failed_syncs", st.failed_syncs},
            {"last_sync_at", st.last_sync ? json(FormatRfc3339(*st.last_sync)) : json(nullptr)},
            {"last_sync", nullptr}};
  j["audit"] = {{"cursor", st.audit_cursor},
                {"entries_read", st.audit_entries_read},
                {"openings_confirmed", st.openings_confirmed},
                {"openings_unconfirmed", st.openings_unconfirmed},
                {"openings_awaiting", st.openings_awaiting_audit},
                {"last_read_at",
                 st.last_audit_read ? json(FormatRfc3339(*st.last_audit_read)) : json(nullptr)}};
  if (st.last_sync_result) {
    const SyncResult& r = *st.last_sync_result;
    const store::ShipSyncReport& p = r.report;
    j["last_sync"] = {{"users_read", r.users_read},
                      {"doors_read", r.doors_read},
                      {"groups_read", r.groups_read},
                      {"timezone_tables_read", r.timezone_tables_read},
                      {"users_added", p.users_added},
                      {"users_updated", p.users_updated},
                      {"users_removed", p.users_removed},
                      {"users_adopted", p.users_adopted},
                      {"rights", p.rights},
                      {"memberships", p.memberships},
                      {"skipped", p.skipped},
                      {"skipped_examples", p.skipped_examples},
                      {"read_ms", r.read_time.count()},
                      {"apply_ms", r.apply_time.count()}};
  }
  return j.dump();
}

}  // namespace facegate::ship
