#include "facegate/connect/connect_service.h"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "connect/tls_probe.h"
#include "connect/topics.h"
#include "facegate/core/files.h"
#include "facegate/core/logging.h"
#include "facegate/core/time_format.h"

namespace facegate::connect {
namespace {

using json = nlohmann::json;
using store::IntegrationStatus;
using Mono = Clock::MonoTime;

constexpr const char* kName = "connect";
constexpr const char* kDestination = "connect";
constexpr int kSchemaVersion = 1;
constexpr size_t kMaxQueuedCommands = 1000;
constexpr size_t kMaxCommandBytes = 64 * 1024;
constexpr auto kTrimEvery = std::chrono::seconds(10);
constexpr auto kCountEvery = std::chrono::seconds(1);

std::string_view StatusName(IntegrationStatus s) { return store::IntegrationStatusName(s); }

// CPU seconds (user + system) and resident bytes of this process, from /proc.
struct ProcessUsage {
  double cpu_seconds = 0;
  int64_t rss_bytes = 0;
  int threads = 0;
};

ProcessUsage ReadProcessUsage() {
  ProcessUsage u;
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const size_t close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(text.substr(close + 2));
    std::string field;
    std::vector<std::string> f;
    while (in >> field) f.push_back(field);
    // f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, rss 24.
    if (f.size() > 21) {
      const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
      u.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
      u.threads = std::stoi(f[17]);
      u.rss_bytes = std::stoll(f[21]) * sysconf(_SC_PAGESIZE);
    }
  }
  return u;
}

}  // namespace

struct ConnectService::Impl {
  ConnectContext ctx;
  ConnectServiceOptions options;
  store::Store& store;
  const Clock& clock;

  Gauge* status_gauge[4] = {};
  Counter* events_published = nullptr;
  Counter* events_dropped = nullptr;
  Counter* connects_ok = nullptr;
  Counter* connects_failed = nullptr;
  Counter* commands_ok = nullptr;
  Counter* commands_failed = nullptr;
  Gauge* backlog_gauge = nullptr;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // GUARDED_BY(mu)
  bool wake = false;      // GUARDED_BY(mu)
  // From Paho's threads (GUARDED_BY(mu)).
  std::deque<mqtt::const_message_ptr> commands_in;
  bool connection_lost = false;
  std::string lost_cause;
  // What DetailsJson reports (GUARDED_BY(mu)).
  IntegrationStatus status = IntegrationStatus::kNoStatus;
  std::string last_error;
  std::string server_id_seen;
  std::optional<Clock::WallTime> connected_since;
  int64_t events_delivered = 0, dropped = 0, backlog = 0, in_flight_count = 0;
  int64_t commands_handled = 0, connect_attempts = 0, connection_losses = 0;
  std::atomic<bool> enabled{false};
  std::thread thread;

  // Owned by the thread.
  std::string settings_seen;
  std::optional<ConnectSettings> settings;
  std::string server_id;
  std::string ca_path, cert_path, key_path;
  std::unique_ptr<mqtt::async_client> client;
  bool connected = false;
  int failures = 0;
  Mono next_attempt{}, next_telemetry{}, next_devices{}, next_trim{}, next_count{};
  struct InFlight {
    int64_t outbox_id;
    mqtt::delivery_token_ptr token;
  };
  std::deque<InFlight> in_flight;
  std::unordered_set<int64_t> in_flight_ids;
  std::mt19937_64 rng{std::random_device{}()};
  ProcessUsage last_usage;
  Mono last_usage_at{};

  Impl(ConnectContext c, ConnectServiceOptions o)
      : ctx(std::move(c)), options(o), store(*ctx.store), clock(*ctx.clock) {
    MetricsRegistry* m = ctx.metrics;
    if (!m) return;
    for (auto st : {IntegrationStatus::kConnected, IntegrationStatus::kUnauthorized,
                    IntegrationStatus::kDisconnected, IntegrationStatus::kNoStatus}) {
      status_gauge[static_cast<int>(st)] = m->GetGauge(
          "facegate_integration_status",
          "1 for the integration's current status (connected, unauthorized, disconnected, "
          "no_status)",
          {"integration", "status"}, {kName, std::string(StatusName(st))});
    }
    status_gauge[static_cast<int>(IntegrationStatus::kNoStatus)]->Set(1);
    events_published = m->GetCounter("facegate_connect_events_published_total",
                                     "Access events the cloud broker acknowledged (PUBACK)");
    events_dropped = m->GetCounter(
        "facegate_connect_events_dropped_total",
        "Access events dropped from the cloud link's backlog (oldest first, beyond max_backlog)");
    backlog_gauge =
        m->GetGauge("facegate_connect_outbox_backlog", "Access events waiting for the cloud link");
    auto connects = [&](const char* result) {
      return m->GetCounter("facegate_connect_connections_total",
                           "Connection attempts to the cloud broker, by result", {"result"},
                           {result});
    };
    connects_ok = connects("ok");
    connects_failed = connects("failed");
    auto commands = [&](const char* result) {
      return m->GetCounter("facegate_connect_commands_total",
                           "Commands from the cloud, by whether they succeeded", {"result"},
                           {result});
    };
    commands_ok = commands("ok");
    commands_failed = commands("error");
  }

  std::string Topic(const std::string& name) const {
    return settings->topic_prefix + "/" + server_id + "/" + name;
  }

  void SetStatus(IntegrationStatus s, const std::string& error) {
    bool changed = false;
    {
      std::lock_guard lock(mu);
      changed = status != s || (!error.empty() && last_error != error);
      status = s;
      if (!error.empty()) last_error = error;
    }
    for (int i = 0; i < 4; ++i) {
      if (status_gauge[i]) status_gauge[i]->Set(i == static_cast<int>(s) ? 1 : 0);
    }
    if (!changed) return;
    if (s == IntegrationStatus::kConnected) {
      spdlog::info("integration=connect status=connected broker={}:{} server_id={}",
                   settings ? settings->host : "", settings ? settings->port : 0, server_id);
    } else {
      spdlog::warn("integration=connect status={} error=\"{}\"", StatusName(s), error);
    }
    if (Status st = store.SetIntegrationStatus(kName, s, error); !st.ok()) {
      spdlog::error("integration=connect: the status could not be stored: {}", st.ToString());
    }
  }

  // ---------------------------------------------------------------- settings

  // The PEM settings as files Paho can read (0600 in a 0700 directory).
  Status WriteFiles() {
    ca_path = settings->ca_file;
    cert_path = settings->cert_file;
    key_path = settings->key_file;
    if (settings->ca_pem.empty() && settings->cert_pem.empty() && settings->key_pem.empty()) {
      return Status::Ok();
    }
    if (ctx.files_dir.empty()) {
      return Status::FailedPrecondition("PEM settings need the daemon's state directory");
    }
    FACEGATE_RETURN_IF_ERROR(EnsureDirectory(ctx.files_dir, 0700));
    auto put = [&](const std::string& pem, const char* name, std::string* path) -> Status {
      if (pem.empty()) return Status::Ok();
      *path = (ctx.files_dir / name).string();
      return WriteFileAtomically(*path, pem, 0600);
    };
    FACEGATE_RETURN_IF_ERROR(put(settings->ca_pem, "broker-ca.pem", &ca_path));
    FACEGATE_RETURN_IF_ERROR(put(settings->cert_pem, "client.crt", &cert_path));
    return put(settings->key_pem, "client.key", &key_path);
  }

  // Looks at the stored settings; a change closes the connection and starts again.
  bool Configure() {
    auto row = store.GetIntegration(kName);
    if (!row.ok()) {
      spdlog::error("integration=connect: settings not readable: {}", row.status().ToString());
      return settings.has_value();
    }
    const bool on = *row && (*row)->enabled;
    const std::string seen = on ? (*row)->settings_json : std::string("-");
    if (seen == settings_seen) return settings.has_value();
    settings_seen = seen;
    Disconnect(/*graceful=*/true);
    settings.reset();
    // Events go to the outbox only for a link that can run: a misconfigured one would let
    // the backlog grow without the trim that runs with the link.
    enabled = false;
    if (!on) {
      SetStatus(IntegrationStatus::kNoStatus, "");
      return false;
    }
    auto parsed = ParseConnectSettings(seen);
    if (!parsed.ok()) {
      SetStatus(IntegrationStatus::kNoStatus, "not configured: " + parsed.status().message());
      return false;
    }
    settings = std::move(parsed).value();
    server_id = settings->server_id;
    if (server_id.empty()) {
      auto id = ServerId(store);
      if (!id.ok()) {
        settings.reset();
        SetStatus(IntegrationStatus::kNoStatus, "no server id: " + id.status().message());
        return false;
      }
      server_id = *id;
    }
    if (Status s = WriteFiles(); !s.ok()) {
      settings.reset();
      SetStatus(IntegrationStatus::kNoStatus, "not configured: " + s.message());
      return false;
    }
    {
      std::lock_guard lock(mu);
      server_id_seen = server_id;
    }
    failures = 0;
    next_attempt = clock.Monotonic();
    enabled = true;
    return true;
  }

  // ---------------------------------------------------------------- connection

  std::chrono::milliseconds Backoff() {
    const double min_ms =
        std::chrono::duration<double, std::milli>(settings->reconnect_min).count();
    const double max_ms =
        std::chrono::duration<double, std::milli>(settings->reconnect_max).count();
    double base = min_ms;
    for (int i = 1; i < failures && base < max_ms; ++i) base *= 2;
    base = std::min(base, max_ms);
    // Jitter: servers that lost the broker together do not all come back at once.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return std::chrono::milliseconds(static_cast<int64_t>(base * jitter(rng)));
  }

  std::string StatusPayload(const char* state) const {
    return json{{"v", kSchemaVersion},
                {"state", state},
                {"server_id", server_id},
                {"version", ctx.version},
                {"time", FormatRfc3339(clock.Now())}}
        .dump();
  }

  void TryConnect() {
    {
      std::lock_guard lock(mu);
      connection_lost = false;
      connect_attempts++;
    }
    const std::string uri = "ssl://" + settings->host + ":" + std::to_string(settings->port);
    try {
      client = std::make_unique<mqtt::async_client>(uri, server_id, nullptr);
    } catch (const std::exception& e) {
      settings.reset();
      enabled = false;
      SetStatus(IntegrationStatus::kNoStatus, std::string("not configured: ") + e.what());
      return;
    }
    client->set_connection_lost_handler([this](const std::string& cause) {
      std::lock_guard lock(mu);
      connection_lost = true;
      lost_cause = cause.empty() ? "the connection to the broker was lost" : cause;
      wake = true;
      cv.notify_all();
    });
    client->set_message_callback([this](mqtt::const_message_ptr message) {
      std::lock_guard lock(mu);
      if (commands_in.size() < kMaxQueuedCommands) commands_in.push_back(std::move(message));
      wake = true;
      cv.notify_all();
    });
    auto ssl = mqtt::ssl_options_builder()
                   .trust_store(ca_path)
                   .key_store(cert_path)
                   .private_key(key_path)
                   .enable_server_cert_auth(true)
                   .verify(true)
                   .ssl_version(MQTT_SSL_VERSION_TLS_1_2)
                   .finalize();
    // The last will: the broker says "offline" (retained) when the link dies unannounced.
    mqtt::will_options will(Topic("status"), StatusPayload("offline"), 1, true);
    auto connect_options = mqtt::connect_options_builder()
                               .mqtt_version(MQTTVERSION_3_1_1)
                               .clean_session(false)
                               .keep_alive_interval(settings->keep_alive)
                               .connect_timeout(settings->connect_timeout)
                               .automatic_reconnect(false)
                               .max_inflight(settings->max_in_flight + 16)
                               .will(std::move(will))
                               .ssl(std::move(ssl))
                               .finalize();
    std::string failure;
    int rc = 0;
    try {
      auto token = client->connect(connect_options);
      if (!token->wait_for(settings->connect_timeout + std::chrono::seconds(2))) {
        failure = "no answer from the broker within " +
                  std::to_string(settings->connect_timeout.count()) + " s";
      }
    } catch (const mqtt::exception& e) {
      failure = e.what();
      rc = e.get_return_code();
    }
    if (failure.empty()) {
      try {
        client->subscribe(Topic("cmd/+"), 1)->wait_for(settings->connect_timeout);
        client->publish(Topic("status"), StatusPayload("online"), 1, true);
      } catch (const mqtt::exception& e) {
        failure = std::string("after connecting: ") + e.what();
      }
    }
    if (!failure.empty()) {
      client.reset();
      ++failures;
      if (connects_failed) connects_failed->Increment();
      // CONNACK 4 (bad user name or password) and 5 (not authorized). Otherwise Paho says
      // little ("TCP/TLS connect failure"): a probe of our own tells an unreachable broker
      // from a certificate refused on either side.
      if (rc == 4 || rc == 5) {
        SetStatus(IntegrationStatus::kUnauthorized,
                  "the broker refused this client (CONNACK " + std::to_string(rc) + ")");
      } else {
        internal::ProbeResult probe = internal::ProbeTls(
            {settings->host, settings->port, ca_path, cert_path, key_path,
             std::chrono::duration_cast<std::chrono::milliseconds>(settings->connect_timeout)});
        if (probe.stage == internal::ProbeResult::Stage::kTls) {
          SetStatus(IntegrationStatus::kUnauthorized,
                    "TLS with " + settings->host + " failed: " + probe.message);
        } else {
          SetStatus(
              IntegrationStatus::kDisconnected,
              "cannot reach the broker " + settings->host + ":" + std::to_string(settings->port) +
                  ": " +
                  (probe.stage == internal::ProbeResult::Stage::kTcp ? probe.message : failure));
        }
      }
      // After the probe: its time counts towards the wait.
      next_attempt = clock.Monotonic() + Backoff();
      return;
    }
    connected = true;
    failures = 0;
    if (connects_ok) connects_ok->Increment();
    {
      std::lock_guard lock(mu);
      connected_since = clock.Now();
    }
    const Mono now = clock.Monotonic();
    next_telemetry = now;
    next_devices = now;
    SetStatus(IntegrationStatus::kConnected, "");
  }

  // Closes the connection: announced (retained "offline", then DISCONNECT) when `graceful`
  // and connected. Events in flight stay in the outbox for the next connection.
  void Disconnect(bool graceful) {
    if (client && connected && graceful) {
      try {
        client->publish(Topic("status"), StatusPayload("offline"), 1, true)->wait_for(1000);
        client->disconnect(std::chrono::milliseconds(1000))->wait_for(2000);
      } catch (const mqtt::exception& e) {
        spdlog::debug("integration=connect: disconnect: {}", e.what());
      }
    }
    client.reset();
    connected = false;
    in_flight.clear();
    in_flight_ids.clear();
    std::lock_guard lock(mu);
    connected_since.reset();
    in_flight_count = 0;
    commands_in.clear();
  }

  void HandleLost() {
    std::string cause;
    {
      std::lock_guard lock(mu);
      if (!connection_lost) return;
      connection_lost = false;
      cause = lost_cause;
      connection_losses++;
    }
    if (!connected) return;
    Disconnect(/*graceful=*/false);
    ++failures;
    next_attempt = clock.Monotonic() + Backoff();
    SetStatus(IntegrationStatus::kDisconnected, cause);
  }

  // ---------------------------------------------------------------- up

  // Acknowledged events leave the outbox; failed ones are tried again.
  void Completions() {
    for (auto it = in_flight.begin(); it != in_flight.end();) {
      bool done = false;
      std::string error;
      try {
        done = it->token->try_wait();
      } catch (const mqtt::exception& e) {
        done = true;
        error = e.what();
      }
      if (!done) {
        ++it;
        continue;
      }
      if (error.empty()) {
        Status s = store.AckOutbox(it->outbox_id);
        if (!s.ok() && s.code() != StatusCode::kNotFound) {
          spdlog::error("integration=connect: outbox {} not removed: {}", it->outbox_id,
                        s.ToString());
        }
        if (events_published) events_published->Increment();
        std::lock_guard lock(mu);
        events_delivered++;
      } else {
        (void)store.RetryOutboxLater(it->outbox_id, clock.Now(), error);
      }
      in_flight_ids.erase(it->outbox_id);
      it = in_flight.erase(it);
    }
    std::lock_guard lock(mu);
    in_flight_count = static_cast<int64_t>(in_flight.size());
  }

  void PumpOutbox() {
    const int room = settings->max_in_flight - static_cast<int>(in_flight.size());
    if (room <= 0) return;
    auto due =
        store.DueOutbox(kDestination, clock.Now(), room + static_cast<int>(in_flight.size()));
    if (!due.ok()) {
      spdlog::error("integration=connect: outbox not readable: {}", due.status().ToString());
      return;
    }
    for (const store::OutboxEntry& e : *due) {
      if (in_flight_ids.count(e.id)) continue;
      json payload = json::parse(e.message.payload, nullptr, false);
      if (!payload.is_object()) {
        // A message that can never be sent must not hold up the others.
        spdlog::error("integration=connect: outbox {} is not a JSON object; dropped", e.id);
        (void)store.AckOutbox(e.id);
        continue;
      }
      payload["event_id"] = e.event_id ? json(*e.event_id) : json(nullptr);
      const std::string topic = Topic(e.message.topic.empty() ? "events" : e.message.topic);
      try {
        auto token = client->publish(topic, payload.dump(), 1, false);
        in_flight.push_back({e.id, std::move(token)});
        in_flight_ids.insert(e.id);
      } catch (const mqtt::exception& ex) {
        spdlog::warn("integration=connect: event not published: {}", ex.what());
        break;
      }
    }
    std::lock_guard lock(mu);
    in_flight_count = static_cast<int64_t>(in_flight.size());
  }

  void Publish(const std::string& name, const json& payload, bool retained) {
    try {
      client->publish(Topic(name), payload.dump(), 1, retained);
    } catch (const mqtt::exception& e) {
      spdlog::warn("integration=connect: {} not published: {}", name, e.what());
    }
  }

  json IntegrationStates() {
    json states = json::object();
    auto all = store.ListIntegrations();
    if (all.ok()) {
      for (const auto& i : *all) states[i.name] = std::string(StatusName(i.status));
    }
    return states;
  }

  void Telemetry() {
    const Mono now = clock.Monotonic();
    if (now < next_telemetry) return;
    next_telemetry = now + settings->telemetry_interval;
    const ProcessUsage usage = ReadProcessUsage();
    double cpu_percent = 0;
    if (last_usage_at != Mono{}) {
      const double wall = std::chrono::duration<double>(now - last_usage_at).count();
      if (wall > 0) cpu_percent = 100.0 * (usage.cpu_seconds - last_usage.cpu_seconds) / wall;
    }
    last_usage = usage;
    last_usage_at = now;
    json t = {{"v", kSchemaVersion},
              {"time", FormatRfc3339(clock.Now())},
              {"server_id", server_id},
              {"version", ctx.version},
              {"process",
               {{"cpu_percent", cpu_percent},
                {"cpu_seconds", usage.cpu_seconds},
                {"rss_bytes", usage.rss_bytes},
                {"threads", usage.threads}}},
              {"outbox_backlog", Backlog()},
              {"integrations", IntegrationStates()}};
    if (ctx.telemetry) {
      json daemon = json::parse(ctx.telemetry(), nullptr, false);
      if (daemon.is_object()) {
        for (auto it = daemon.begin(); it != daemon.end(); ++it) t[it.key()] = *it;
      }
    }
    Publish("telemetry", t, false);
  }

  void Devices() {
    const Mono now = clock.Monotonic();
    if (now < next_devices) return;
    next_devices = now + settings->devices_interval;
    json devices = json::array();
    int64_t after = 0;
    for (;;) {
      auto page = store.ListDevices(after, 500);
      if (!page.ok()) {
        spdlog::warn("integration=connect: devices not readable: {}", page.status().ToString());
        return;
      }
      for (const store::Device& d : *page) {
        // Ids, door, state and firmware: a device's name is the site's and stays here.
        devices.push_back(
            {{"device_id", d.id},
             {"door_id", d.door_id ? json(*d.door_id) : json(nullptr)},
             {"status", std::string(store::DeviceStatusName(d.status))},
             {"online", d.online},
             {"firmware", d.firmware},
             {"last_seen_at", d.last_seen_at ? json(FormatRfc3339(*d.last_seen_at)) : json()}});
        after = d.id;
      }
      if (page->size() < 500) break;
    }
    Publish("devices",
            {{"v", kSchemaVersion}, {"time", FormatRfc3339(clock.Now())}, {"devices", devices}},
            true);
  }

  int64_t Backlog() {
    std::lock_guard lock(mu);
    return backlog;
  }

  // Keeps the backlog bounded, also (above all) while the broker is unreachable.
  void TrimBacklog() {
    const Mono now = clock.Monotonic();
    if (now >= next_count) {
      next_count = now + kCountEvery;
      auto n = store.OutboxBacklog(kDestination);
      if (n.ok()) {
        if (backlog_gauge) backlog_gauge->Set(static_cast<double>(*n));
        std::lock_guard lock(mu);
        backlog = *n;
      }
    }
    if (now < next_trim) return;
    next_trim = now + kTrimEvery;
    auto trimmed = store.TrimOutbox(kDestination, settings->max_backlog);
    if (!trimmed.ok()) {
      spdlog::error("integration=connect: backlog not trimmed: {}", trimmed.status().ToString());
    } else if (*trimmed > 0) {
      spdlog::warn(
          "integration=connect: {} access events dropped from the backlog (more than "
          "max_backlog={} waiting)",
          *trimmed, settings->max_backlog);
      if (events_dropped) events_dropped->Increment(static_cast<uint64_t>(*trimmed));
      std::lock_guard lock(mu);
      dropped += *trimmed;
      next_count = now;  // counted again next round
    }
  }

  // ---------------------------------------------------------------- down

  json Error(const std::string& code, const std::string& message) {
    return {{"code", code}, {"message", message}};
  }

  void Audit(const std::string& action, const std::string& target, const json& details, bool ok) {
    store::AuditEntry a;
    a.actor = "connect";
    a.action = action;
    a.target = target;
    a.outcome = ok ? "ok" : "failed";
    a.details_json = details.dump();
    if (auto r = store.AppendAudit(a); !r.ok()) {
      spdlog::error("integration=connect: audit not written: {}", r.status().ToString());
    }
  }

  // One command: its result, or an error {"code","message"} in `error`.
  json Run(const std::string& name, const json& args, json* error) {
    if (name == "ping") return {{"pong", true}, {"time", FormatRfc3339(clock.Now())}};
    if (name == "set-log-level") {
      const std::string level = args.is_object() ? args.value("level", "") : "";
      if (level != "trace" && level != "debug" && level != "info" && level != "warn" &&
          level != "error") {
        *error =
            Error("invalid_argument", "args.level: expected trace, debug, info, warn or error");
        return nullptr;
      }
      if (Status st = SetLogLevel(level); !st.ok()) {
        *error = Error("invalid_argument", st.message());
        return nullptr;
      }
      spdlog::info("integration=connect: log level set to {} by the cloud", level);
      Audit("log.level", "log", {{"level", level}}, true);
      return {{"level", level}};
    }
    if (name == "sync-now") {
      if (!ctx.sync_now || !ctx.sync_now()) {
        *error = Error("not_enabled", "the Salto Space integration is not enabled");
        return nullptr;
      }
      Audit("integration.space.sync", "integration:space", json::object(), true);
      return {{"requested", true}};
    }
    if (name == "device-command") {
      if (!args.is_object()) {
        *error = Error("invalid_argument", "args: expected an object");
        return nullptr;
      }
      auto id = args.find("device_id");
      const std::string command = args.value("command", "");
      if (id == args.end() || !id->is_number_integer()) {
        *error = Error("invalid_argument", "args.device_id: expected a device id");
        return nullptr;
      }
      if (!store::IsKnownDeviceCommand(command)) {
        *error = Error("invalid_argument",
                       std::string("args.command: expected one of ") + store::kKnownDeviceCommands);
        return nullptr;
      }
      auto device = store.GetDevice(id->get<int64_t>());
      if (!device.ok()) {
        *error = Error(device.status().code() == StatusCode::kNotFound ? "not_found" : "internal",
                       device.status().message());
        return nullptr;
      }
      store::NewDeviceCommand c;
      c.device_id = device->id;
      c.command = command;
      c.payload_json = args.value("payload", json::object()).dump();
      c.origin = "connect";
      if (auto ttl = args.find("expires_in_s");
          ttl != args.end() && ttl->is_number_integer() && ttl->get<int64_t>() > 0) {
        c.expires_at = clock.Now() + std::chrono::seconds(ttl->get<int64_t>());
      }
      auto queued = store.QueueDeviceCommand(c);
      if (!queued.ok()) {
        *error = Error("internal", queued.status().message());
        return nullptr;
      }
      Audit("device.command", "device:" + std::to_string(device->id),
            {{"command", command}, {"command_id", *queued}}, true);
      return {{"command_id", *queued}, {"device_id", device->id}, {"command", command}};
    }
    if (name == "request-diagnostics") {
      json d = {{"version", ctx.version},
                {"server_id", server_id},
                {"link", json::parse(Details(), nullptr, false)},
                {"integrations", IntegrationStates()}};
      if (ctx.diagnostics) {
        json daemon = json::parse(ctx.diagnostics(), nullptr, false);
        if (daemon.is_object()) d["daemon"] = daemon;
      }
      return d;
    }
    *error = Error("unknown_command",
                   "unknown command '" + name +
                       "' (ping, request-diagnostics, set-log-level, sync-now, device-command)");
    return nullptr;
  }

  void HandleCommands() {
    std::deque<mqtt::const_message_ptr> batch;
    {
      std::lock_guard lock(mu);
      batch.swap(commands_in);
    }
    const std::string prefix = Topic("cmd/");
    for (const auto& m : batch) {
      const std::string& topic = m->get_topic();
      const std::string name = topic.rfind(prefix, 0) == 0 ? topic.substr(prefix.size()) : "";
      json reply = {{"v", kSchemaVersion},
                    {"request_id", nullptr},
                    {"command", name},
                    {"time", FormatRfc3339(clock.Now())}};
      json error;
      json result;
      std::string reply_to = "_invalid";
      const std::string& text = m->get_payload_str();
      json request =
          text.size() > kMaxCommandBytes ? json(nullptr) : json::parse(text, nullptr, false);
      if (text.size() > kMaxCommandBytes) {
        error = Error("too_large",
                      "the command exceeds " + std::to_string(kMaxCommandBytes) + " bytes");
      } else if (!request.is_object()) {
        error = Error("malformed", "the command is not a JSON object");
      } else if (!request.contains("request_id") || !request["request_id"].is_string() ||
                 !internal::IsTopicLevel(request["request_id"].get<std::string>())) {
        error =
            Error("invalid_argument", "request_id: expected 1 to 64 characters of [A-Za-z0-9._-]");
      } else {
        reply_to = request["request_id"].get<std::string>();
        reply["request_id"] = reply_to;
        result = Run(name, request.value("args", json::object()), &error);
      }
      reply["ok"] = error.is_null();
      if (error.is_null()) {
        reply["result"] = result;
        if (commands_ok) commands_ok->Increment();
      } else {
        reply["error"] = error;
        if (commands_failed) commands_failed->Increment();
        spdlog::warn("integration=connect command '{}' refused: {}", name,
                     error.value("message", ""));
      }
      {
        std::lock_guard lock(mu);
        commands_handled++;
      }
      Publish("cmd-reply/" + reply_to, reply, false);
    }
  }

  // ---------------------------------------------------------------- loop

  void Round() {
    if (!Configure()) return;
    HandleLost();
    if (!settings) return;
    if (!connected && clock.Monotonic() >= next_attempt) TryConnect();
    if (!settings) return;
    if (connected) {
      Completions();
      HandleCommands();
      PumpOutbox();
      Telemetry();
      Devices();
    }
    TrimBacklog();
  }

  void Run() {
    for (;;) {
      Round();
      std::unique_lock lock(mu);
      if (stopping) break;
      cv.wait_for(lock, options.poll, [this] { return stopping || wake; });
      wake = false;
      if (stopping) break;
    }
    Disconnect(/*graceful=*/true);
  }

  std::string Details() const {
    std::lock_guard lock(mu);
    return json{{"server_id", server_id_seen.empty() ? json(nullptr) : json(server_id_seen)},
                {"connected_since",
                 connected_since ? json(FormatRfc3339(*connected_since)) : json(nullptr)},
                {"events_delivered", events_delivered},
                {"events_in_flight", in_flight_count},
                {"outbox_backlog", backlog},
                {"events_dropped", dropped},
                {"commands_handled", commands_handled},
                {"connect_attempts", connect_attempts},
                {"connection_losses", connection_losses}}
        .dump();
  }
};

ConnectService::ConnectService(ConnectContext context, ConnectServiceOptions options)
    : impl_(std::make_unique<Impl>(std::move(context), options)) {
  impl_->thread = std::thread([this] { impl_->Run(); });
}

ConnectService::~ConnectService() { Stop(); }

bool ConnectService::wants_events() const { return impl_->enabled.load(); }

void ConnectService::Notify() {
  std::lock_guard lock(impl_->mu);
  impl_->wake = true;
  impl_->cv.notify_all();
}

void ConnectService::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string ConnectService::DetailsJson() const { return impl_->Details(); }

}  // namespace facegate::connect
