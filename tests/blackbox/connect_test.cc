// Black-box: the cloud link of the real facegated against a real mosquitto (TLS on loopback,
// client certificates required), watched by a subscriber of the test's own. Every payload
// seen is checked against a closed schema for its topic and scanned for the site's people.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "blackbox/admin_fixture.h"
#include "facegate/store/store.h"
#include "testing/mosquitto_process.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr const char* kServerId = "site-test-1";
constexpr const char* kPrefix = "facegate/site-test-1/";

// The people of the test site: none of this may ever cross the link.
const std::vector<std::string> kPersonal = {"E-ALICE-77", "Alicia", "Zanzibar", "lobby-turnstile"};

// Closed schemas: every key listed with its type ("int", "number", "string", "bool",
// "object", "array", "any", alternatives with '|', optional with a trailing '?'), nested
// objects as objects; nothing else allowed.
const json kStatus = {{"v", "int"},
                      {"state", "string"},
                      {"server_id", "string"},
                      {"version", "string"},
                      {"time", "string"}};
const json kEvent = {{"v", "int"},         {"event_id", "int"},     {"time", "string"},
                     {"device_id", "int"}, {"door_id", "int|null"}, {"decision", "string"},
                     {"reason", "string"}, {"latency_ms", "number"}};
const json kTelemetry = {{"v", "int"},
                         {"time", "string"},
                         {"server_id", "string"},
                         {"version", "string"},
                         {"process",
                          {{"cpu_percent", "number"},
                           {"cpu_seconds", "number"},
                           {"rss_bytes", "int"},
                           {"threads", "int"}}},
                         {"outbox_backlog", "int"},
                         {"integrations", "object"},
                         {"uptime_s", "number"},
                         {"decisions", {{"count", "int"}, {"per_second", "number"}}},
                         {"latency_ms",
                          {{"p50", "number|null"},
                           {"p90", "number|null"},
                           {"p99", "number|null"},
                           {"mean", "number|null"}}},
                         {"face_queue_depth", "int"},
                         {"index", {{"templates", "int"}, {"identities", "int"}}}};
const json kDevice = {{"device_id", "int"},   {"door_id", "int|null"},
                      {"status", "string"},   {"online", "bool"},
                      {"firmware", "string"}, {"last_seen_at", "string|null"}};
const json kDevices = {{"v", "int"}, {"time", "string"}, {"devices", "array"}};
const json kReply = {{"v", "int"},
                     {"request_id", "string|null"},
                     {"command", "string"},
                     {"time", "string"},
                     {"ok", "bool"},
                     {"result", "any?"},
                     {"error", {{"code", "string"}, {"message", "string"}}}};

bool HasType(const json& v, const std::string& type) {
  if (type == "any") return true;
  if (type == "int") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "bool") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return false;
}

void ExpectSchema(const json& schema, const json& value, const std::string& where) {
  ASSERT_TRUE(value.is_object()) << where << ": not an object: " << value.dump();
  for (auto it = value.begin(); it != value.end(); ++it) {
    EXPECT_TRUE(schema.contains(it.key())) << where << ": unknown field " << it.key();
  }
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const std::string path = where + "." + it.key();
    if (it->is_object()) {
      // The error object of a reply is there only when ok is false.
      if (it.key() == "error" && !value.contains("error")) continue;
      ASSERT_TRUE(value.contains(it.key())) << path << " missing";
      ExpectSchema(*it, value[it.key()], path);
      continue;
    }
    std::string type = it->get<std::string>();
    const bool optional = !type.empty() && type.back() == '?';
    if (optional) type.pop_back();
    if (!value.contains(it.key())) {
      EXPECT_TRUE(optional) << path << " missing in " << value.dump();
      continue;
    }
    bool ok = false;
    for (size_t start = 0; start <= type.size();) {
      const size_t bar = type.find('|', start);
      ok = ok || HasType(value[it.key()], type.substr(start, bar - start));
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
    EXPECT_TRUE(ok) << path << ": expected " << type << ", got " << value[it.key()].dump();
  }
}

// Each message: valid for its topic, and nothing personal in it.
void ExpectClean(const Observer::Message& m) {
  SCOPED_TRACE(m.topic + " " + m.payload);
  for (const auto& p : kPersonal) {
    EXPECT_EQ(m.payload.find(p), std::string::npos) << "personal data on the link: " << p;
  }
  ASSERT_EQ(m.topic.rfind(kPrefix, 0), 0u) << "a topic outside the layout";
  const std::string rest = m.topic.substr(std::string(kPrefix).size());
  const json j = json::parse(m.payload, nullptr, false);
  if (rest == "status") {
    ExpectSchema(kStatus, j, rest);
  } else if (rest == "events") {
    ExpectSchema(kEvent, j, rest);
  } else if (rest == "telemetry") {
    ExpectSchema(kTelemetry, j, rest);
    for (auto it = j["integrations"].begin(); it != j["integrations"].end(); ++it) {
      EXPECT_TRUE(it->is_string()) << it.key();
    }
  } else if (rest == "devices") {
    ExpectSchema(kDevices, j, rest);
    for (const auto& d : j["devices"]) ExpectSchema(kDevice, d, "devices[]");
  } else if (rest.rfind("cmd-reply/", 0) == 0) {
    ExpectSchema(kReply, j, rest);
  } else if (rest.rfind("cmd/", 0) == 0) {
    // The test's own commands.
  } else {
    ADD_FAILURE() << "unexpected topic " << m.topic;
  }
}

class ConnectTest : public AdminApiTest {
 protected:
  void SetUp() override {
    if (!BrokerAvailable()) GTEST_SKIP() << "no mosquitto";
    broker_ = std::make_unique<Broker>();
    observer_ = std::make_unique<Observer>(*broker_);
  }
  void TearDown() override {
    if (!observer_) return;
    for (const auto& m : observer_->Messages()) ExpectClean(m);
  }

  store::StoreOptions StoreOptions() const {
    store::StoreOptions o;
    o.db_file = daemon_.data_dir() / "facegate.db";
    o.key_dir = daemon_.data_dir() / "keys";
    return o;
  }

  // The site's people and a terminal (what must never show on the link).
  void MakeSite() {
    ApiReply r = admin_->Post(
        "/api/v1/users",
        {{"external_id", "E-ALICE-77"}, {"first_name", "Alicia"}, {"last_name", "Zanzibar"}});
    ASSERT_EQ(r.status, 201) << Describe(r);
    r = admin_->Post("/api/v1/devices", {{"name", "lobby-turnstile"}});
    ASSERT_EQ(r.status, 201) << Describe(r);
    device_id_ = r.json["device"]["id"];
  }

  void Enable(json settings) {
    ApiReply r = admin_->Put("/api/v1/integrations/connect",
                             {{"enabled", true}, {"settings", std::move(settings)}});
    ASSERT_EQ(r.status, 200) << Describe(r);
  }

  json WaitForStatus(const std::string& status) {
    json last;
    for (int i = 0; i < 300; ++i) {
      ApiReply r = admin_->Get("/api/v1/integrations/connect");
      last = r.json;
      if (r.status == 200 && r.json.value("status", "") == status) return r.json;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the cloud link never became " << status << "; last: " << last.dump();
    return last;
  }

  // Decisions as the device API records them, with their outbox rows for the link, written
  // through the store beside the running daemon.
  std::vector<int64_t> RecordEvents(int n) {
    auto s = store::Store::Open(StoreOptions(), SystemClock::Instance());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    std::vector<int64_t> ids;
    if (!s.ok()) return ids;
    for (int i = 0; i < n; ++i) {
      store::AccessEvent e;
      e.time = SystemClock::Instance().Now();
      e.device_id = device_id_;
      e.decision = store::Decision::kDeny;
      e.reason = "unknown_face";
      e.latency_ms = 42.5;
      std::vector<store::OutboxMessage> outbox = {{"connect", "events",
                                                   json{{"v", 1},
                                                        {"time", "2026-12-03T10:00:00Z"},
                                                        {"device_id", device_id_},
                                                        {"door_id", nullptr},
                                                        {"decision", "deny"},
                                                        {"reason", "unknown_face"},
                                                        {"latency_ms", 42.5}}
                                                       .dump()}};
      auto r = (*s)->RecordEvent(e, outbox);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) ids.push_back(r->event_id);
    }
    return ids;
  }

  // How many times each event id was seen on .../events.
  std::map<int64_t, int> EventsSeen() {
    std::map<int64_t, int> seen;
    for (const auto& m : observer_->Messages()) {
      if (m.topic != std::string(kPrefix) + "events") continue;
      json j = json::parse(m.payload, nullptr, false);
      if (j.is_object() && j["event_id"].is_number_integer()) seen[j["event_id"]]++;
    }
    return seen;
  }

  // Waits until every id was delivered; then expects each exactly once.
  void ExpectDeliveredOnce(const std::vector<int64_t>& ids) {
    std::map<int64_t, int> seen;
    for (int i = 0; i < 600; ++i) {
      seen = EventsSeen();
      size_t n = 0;
      for (int64_t id : ids) n += seen.count(id);
      if (n == ids.size()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    int missing = 0, repeated = 0;
    for (int64_t id : ids) {
      if (!seen.count(id)) ++missing;
      if (seen[id] > 1) ++repeated;
    }
    EXPECT_EQ(missing, 0) << "events never delivered";
    EXPECT_EQ(repeated, 0) << "events delivered more than once";
  }

  // A connected link whose broker then stops.
  void ConnectedThenBrokerDown() {
    StartDaemon();
    ASSERT_NO_FATAL_FAILURE(MakeSite());
    ASSERT_NO_FATAL_FAILURE(Enable(broker_->Settings(kServerId)));
    WaitForStatus("connected");
    broker_->Stop();
    WaitForStatus("disconnected");
  }

  // A command as the cloud sends it; its reply.
  json Command(const std::string& name, const std::string& payload,
               const std::string& reply_topic) {
    const size_t before = observer_->count();
    observer_->Publish(std::string(kPrefix) + "cmd/" + name, payload);
    auto m = observer_->WaitFor(
        std::string(kPrefix) + "cmd-reply/" + reply_topic,
        [](const json& j) { return j.is_object(); }, std::chrono::seconds(30), before);
    EXPECT_TRUE(m.has_value()) << "no reply to " << name;
    return m ? json::parse(m->payload) : json();
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Observer> observer_;
  int64_t device_id_ = 0;
};

TEST_F(ConnectTest, ConnectsAnnouncesAnswersCommandsAndLeavesItsLastWill) {
  StartDaemon();
  ASSERT_NO_FATAL_FAILURE(MakeSite());
  EXPECT_EQ(admin_->Get("/api/v1/integrations/connect").json["status"], "no_status");
  json settings = broker_->Settings(kServerId);
  settings["telemetry_interval_s"] = 1;
  ASSERT_NO_FATAL_FAILURE(Enable(settings));
  json j = WaitForStatus("connected");
  EXPECT_EQ(j["details"]["server_id"], kServerId) << j.dump();

  // Up: online (retained), telemetry, the device list.
  auto online = observer_->WaitFor(std::string(kPrefix) + "status",
                                   [](const json& s) { return s.value("state", "") == "online"; });
  ASSERT_TRUE(online.has_value());
  EXPECT_TRUE(
      observer_
          ->WaitFor(std::string(kPrefix) + "telemetry", [](const json& t) { return t.is_object(); })
          .has_value());
  auto devices = observer_->WaitFor(std::string(kPrefix) + "devices",
                                    [](const json& d) { return d.is_object(); });
  ASSERT_TRUE(devices.has_value());
  EXPECT_EQ(json::parse(devices->payload)["devices"][0]["device_id"], device_id_);

  // Events from the outbox, each with its id.
  ExpectDeliveredOnce(RecordEvents(3));

  // Down: commands answered on cmd-reply/<request id>; bad ones with an error.
  json reply = Command("ping", R"({"request_id":"r-1"})", "r-1");
  EXPECT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["result"]["pong"], true) << reply.dump();
  reply = Command("launch-rockets", R"({"request_id":"r-2"})", "r-2");
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["error"]["code"], "unknown_command") << reply.dump();
  reply = Command("ping", "{not json", "_invalid");
  EXPECT_EQ(reply["error"]["code"], "malformed") << reply.dump();
  reply = Command("ping", R"({"request_id":"no spaces/or slashes"})", "_invalid");
  EXPECT_EQ(reply["error"]["code"], "invalid_argument") << reply.dump();
  reply = Command("set-log-level", R"({"request_id":"r-3","args":{"level":"loud"}})", "r-3");
  EXPECT_EQ(reply["error"]["code"], "invalid_argument") << reply.dump();
  reply = Command("set-log-level", R"({"request_id":"r-4","args":{"level":"debug"}})", "r-4");
  EXPECT_EQ(reply["ok"], true) << reply.dump();
  reply = Command("sync-now", R"({"request_id":"r-5"})", "r-5");
  EXPECT_EQ(reply["error"]["code"], "not_enabled") << reply.dump();
  reply = Command("device-command",
                  R"({"request_id":"r-6","args":{"device_id":999999,"command":"reboot"}})", "r-6");
  EXPECT_EQ(reply["error"]["code"], "not_found") << reply.dump();
  reply = Command("device-command",
                  json{{"request_id", "r-7"},
                       {"args", {{"device_id", device_id_}, {"command", "self-destruct"}}}}
                      .dump(),
                  "r-7");
  EXPECT_EQ(reply["error"]["code"], "invalid_argument") << reply.dump();
  reply = Command(
      "device-command",
      json{{"request_id", "r-8"}, {"args", {{"device_id", device_id_}, {"command", "identify"}}}}
          .dump(),
      "r-8");
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  {
    auto s = store::Store::Open(StoreOptions(), SystemClock::Instance());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto queued = (*s)->GetDeviceCommand(reply["result"]["command_id"].get<int64_t>());
    ASSERT_TRUE(queued.ok() && queued->has_value()) << reply.dump();
    EXPECT_EQ((*queued)->command, "identify");
    EXPECT_EQ((*queued)->origin, "connect");
  }
  EXPECT_THAT(admin_->Get("/api/v1/audit?actor=connect").body, HasSubstr("device.command"));
  reply = Command("request-diagnostics", R"({"request_id":"r-9"})", "r-9");
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  EXPECT_EQ(reply["result"]["server_id"], kServerId);
  EXPECT_TRUE(reply["result"]["daemon"]["config"].is_object()) << reply.dump();
  EXPECT_TRUE(reply["result"]["daemon"]["recent_problems"].is_array()) << reply.dump();

  // The daemon dies without a word: the broker publishes its last will.
  daemon_.Stop(SIGKILL);
  auto offline = observer_->WaitFor(
      std::string(kPrefix) + "status",
      [](const json& s) { return s.value("state", "") == "offline"; }, std::chrono::seconds(30));
  EXPECT_TRUE(offline.has_value()) << "no last will";
}

TEST_F(ConnectTest, WrongClientCertificateIsUnauthorizedAndAStoppedBrokerDisconnected) {
  StartDaemon();
  json settings = broker_->Settings(kServerId);
  settings["cert_file"] = broker_->file("wrong.crt").string();
  settings["key_file"] = broker_->file("wrong.key").string();
  ASSERT_NO_FATAL_FAILURE(Enable(settings));
  json j = WaitForStatus("unauthorized");
  EXPECT_FALSE(j.value("last_error", "").empty());

  // The right certificate: connected; the broker stops: disconnected; back: connected.
  ASSERT_NO_FATAL_FAILURE(Enable(broker_->Settings(kServerId)));
  WaitForStatus("connected");
  broker_->Stop();
  j = WaitForStatus("disconnected");
  EXPECT_FALSE(j.value("last_error", "").empty());
  broker_->Start();
  WaitForStatus("connected");

  // Settings that cannot work are refused when saved, each named.
  ApiReply r = admin_->Put("/api/v1/integrations/connect",
                           {{"settings", {{"port", 0}, {"ca_file", nullptr}}}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("settings.port")) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("settings.ca_file")) << Describe(r);
}

TEST_F(ConnectTest, EventsMadeWhileTheBrokerIsDownArriveOnceAfterItReturns) {
  ASSERT_NO_FATAL_FAILURE(ConnectedThenBrokerDown());
  const std::vector<int64_t> ids = RecordEvents(500);
  // The backlog as the admin sees it.
  json j;
  for (int i = 0; i < 200; ++i) {
    j = admin_->Get("/api/v1/integrations/connect").json;
    if (j["details"].value("outbox_backlog", 0) == 500) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(j["details"]["outbox_backlog"], 500) << j.dump();
  broker_->Start();
  ExpectDeliveredOnce(ids);
}

TEST_F(ConnectTest, EventsSurviveADaemonKilledDuringTheOutage) {
  ASSERT_NO_FATAL_FAILURE(ConnectedThenBrokerDown());
  const std::vector<int64_t> ids = RecordEvents(500);
  daemon_.Stop(SIGKILL);
  ASSERT_TRUE(daemon_.Start().ok());
  broker_->Start();
  ExpectDeliveredOnce(ids);
}

}  // namespace
}  // namespace facegate::testing
