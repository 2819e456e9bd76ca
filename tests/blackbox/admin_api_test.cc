// Black-box: the admin API (docs/admin-api.md) against the real facegated over real TLS:
// authentication and roles, tokens, audit, users, devices, events, integrations, the system
// summary; with the face engine (tests named Face*, ctest label "face"): enrollment with its
// quality report, the duplicate check, import batches, and erasure that leaves no ciphertext
// in the database file or its WAL.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "blackbox/admin_fixture.h"
#include "facegate/core/clock.h"
#include "facegate/core/files.h"
#include "facegate/store/store.h"
#include "testing/terminal.h"

namespace facegate::testing {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

// ------------------------------------------------------------------ authentication, roles

TEST_F(AdminApiTest, NoOrBadTokenIs401AndAudited) {
  StartDaemon();
  AdminClient anonymous(&daemon_, "");
  ApiReply r = anonymous.Get("/api/v1/system");
  EXPECT_EQ(r.status, 401) << Describe(r);
  EXPECT_EQ(r.json["error"], "unauthorized");
  EXPECT_THAT(r.headers["www-authenticate"], HasSubstr("Bearer"));

  AdminClient wrong(&daemon_, "fgt_notatokenatall");
  r = wrong.Get("/api/v1/users");
  EXPECT_EQ(r.status, 401) << Describe(r);
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("unknown or revoked"));

  // Basic credentials are not a bearer token.
  auto raw = daemon_.Connect(daemon_.admin_port());
  ASSERT_TRUE(raw.ok());
  auto basic = (*raw)->Request("GET", "/api/v1/system", "", {{"Authorization", "Basic YTpi"}});
  ASSERT_TRUE(basic.ok());
  EXPECT_EQ(basic->status, 401);

  r = admin_->Get("/api/v1/audit?action=user.list");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_FALSE(r.json["items"].empty()) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["actor"], "anonymous");
  EXPECT_EQ(r.json["items"][0]["outcome"], "denied");
  EXPECT_EQ(r.json["items"][0]["remote_address"], "127.0.0.1");
  // The presented token is never written anywhere.
  EXPECT_EQ(r.body.find("fgt_notatokenatall"), std::string::npos);
}

TEST_F(AdminApiTest, RolesLimitWhatATokenMayDo) {
  StartDaemon();
  AdminClient viewer(&daemon_, MakeToken("viewer-1", "viewer"));
  AdminClient op(&daemon_, MakeToken("operator-1", "operator"));

  EXPECT_EQ(viewer.Get("/api/v1/system").status, 200);
  EXPECT_EQ(viewer.Get("/api/v1/users").status, 200);
  ApiReply r = viewer.Post("/api/v1/users", {{"external_id", "E1"}});
  EXPECT_EQ(r.status, 403) << Describe(r);
  EXPECT_EQ(r.json["error"], "forbidden");
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("operator"));
  EXPECT_EQ(viewer.Get("/api/v1/tokens").status, 403);
  EXPECT_EQ(viewer.Get("/api/v1/audit").status, 403);

  EXPECT_EQ(op.Post("/api/v1/users", {{"external_id", "E1"}}).status, 201);
  EXPECT_EQ(op.Post("/api/v1/tokens", {{"name", "x"}, {"role", "admin"}}).status, 403);
  EXPECT_EQ(op.Put("/api/v1/integrations/enrollment", {{"enabled", false}}).status, 403);

  r = admin_->Get("/api/v1/audit?action=user.create");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json["items"].size(), 2u) << Describe(r);  // newest first
  EXPECT_EQ(r.json["items"][0]["actor"], "token:operator-1");
  EXPECT_EQ(r.json["items"][0]["outcome"], "ok");
  EXPECT_EQ(r.json["items"][0]["target"], "user:E1");
  EXPECT_EQ(r.json["items"][1]["actor"], "token:viewer-1");
  EXPECT_EQ(r.json["items"][1]["outcome"], "denied");
}

TEST_F(AdminApiTest, TokensAreShownOnceListedWithLastUseAndRevocable) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/tokens", {{"name", "ci"}, {"role", "operator"}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  const std::string token = r.json["token"];
  const int64_t id = r.json["id"];
  EXPECT_EQ(r.json["role"], "operator");
  EXPECT_THAT(token, ::testing::StartsWith("fgt_"));

  EXPECT_EQ(admin_->Post("/api/v1/tokens", {{"name", "ci"}}).status, 409);
  r = admin_->Post("/api/v1/tokens", {{"role", "root"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json["fields"].contains("name")) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("role")) << Describe(r);

  AdminClient ci(&daemon_, token);
  EXPECT_EQ(ci.Get("/api/v1/users").status, 200);
  r = admin_->Get("/api/v1/tokens");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find(token), std::string::npos) << "a listing shows a secret";
  bool seen = false;
  for (const auto& t : r.json["items"]) {
    if (t["name"] == "ci") {
      seen = true;
      EXPECT_TRUE(t["last_used_at"].is_string()) << t.dump();
    }
  }
  EXPECT_TRUE(seen) << Describe(r);

  EXPECT_EQ(admin_->Delete("/api/v1/tokens/" + std::to_string(id)).status, 200);
  r = ci.Get("/api/v1/users");
  EXPECT_EQ(r.status, 401) << "a revoked token still works: " << Describe(r);
  EXPECT_EQ(admin_->Delete("/api/v1/tokens/" + std::to_string(id)).status, 409);
  EXPECT_EQ(admin_->Delete("/api/v1/tokens/999999").status, 404);
}

// ------------------------------------------------------------------ users

TEST_F(AdminApiTest, UsersCrudValidationAndPaging) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/users",
                            {{"first_name", 7}, {"valid_from", "yesterday"}, {"colour", "red"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_EQ(r.json["error"], "invalid_request");
  for (const char* f : {"external_id", "first_name", "valid_from", "colour"}) {
    EXPECT_TRUE(r.json["fields"].contains(f)) << f << ": " << Describe(r);
  }
  EXPECT_EQ(admin_->Call("POST", "/api/v1/users", "{not json", "application/json").status, 400);

  for (int i = 1; i <= 3; ++i) {
    r = admin_->Post("/api/v1/users", {{"external_id", "E" + std::to_string(i)},
                                       {"first_name", "Ada" + std::to_string(i)},
                                       {"last_name", "Lovelace"},
                                       {"valid_until", "2030-01-01T00:00:00Z"}});
    ASSERT_EQ(r.status, 201) << Describe(r);
  }
  EXPECT_EQ(r.json["valid_until"], "2030-01-01T00:00:00.000Z");
  EXPECT_EQ(admin_->Post("/api/v1/users", {{"external_id", "E1"}}).status, 409);

  // An external id that needs escaping in a path.
  r = admin_->Post("/api/v1/users", {{"external_id", "dept/7 x"}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  r = admin_->Get("/api/v1/users/dept%2F7%20x");
  EXPECT_EQ(r.status, 200) << Describe(r);

  r = admin_->Get("/api/v1/users/E2");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["first_name"], "Ada2");
  EXPECT_EQ(r.json["faces"], 0);
  EXPECT_EQ(admin_->Get("/api/v1/users/nobody").status, 404);

  r = admin_->Patch("/api/v1/users/E2", {{"banned", true}, {"valid_until", nullptr}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["banned"], true);
  EXPECT_TRUE(r.json["valid_until"].is_null());
  EXPECT_EQ(r.json["first_name"], "Ada2");  // untouched
  r = admin_->Patch("/api/v1/users/E2", {{"external_id", "E9"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json["fields"].contains("external_id"));

  // Paging by cursor: 4 users, 3 pages of at most 2... then none left.
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    r = admin_->Get("/api/v1/users?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200) << Describe(r);
    for (const auto& u : r.json["items"]) seen.push_back(u["external_id"]);
    if (r.json["next_cursor"].is_null()) break;
    cursor = r.json["next_cursor"];
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("E1", "E2", "E3", "dept/7 x"));
  r = admin_->Get("/api/v1/users?query=ada3");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["external_id"], "E3");
  r = admin_->Get("/api/v1/users?limit=0&cursor=x");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json["fields"].contains("limit"));
  EXPECT_TRUE(r.json["fields"].contains("cursor"));

  r = admin_->Delete("/api/v1/users/E3");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["erased"], true);
  EXPECT_EQ(admin_->Get("/api/v1/users/E3").status, 404);
  EXPECT_EQ(admin_->Delete("/api/v1/users/E3").status, 404);

  r = admin_->Get("/api/v1/users/E1/export");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["user"]["external_id"], "E1");
  EXPECT_EQ(r.json["templates"]["count"], 0);
  EXPECT_TRUE(r.json["events"].is_array());
  EXPECT_TRUE(r.json["rights"].is_array());

  r = admin_->Get("/api/v1/system");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["counts"]["users"], 3);
  EXPECT_EQ(r.json["model"]["face_work"], false);
  EXPECT_FALSE(r.json["version"].get<std::string>().empty());
}

// ------------------------------------------------------------------ devices, events

TEST_F(AdminApiTest, DevicesGetCodesCommandsAndCanBeDisabled) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/devices", {{"name", "bad name!"}, {"door", "nowhere"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("name"));
  EXPECT_TRUE(r.json["fields"].contains("door"));

  r = admin_->Post("/api/v1/devices", {{"name", "lobby-1"}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_EQ(r.json["device"]["status"], "created");
  const std::string code = r.json["commissioning"]["code"];
  EXPECT_EQ(r.json["commissioning"]["qr_payload"]["port"], daemon_.device_port());
  EXPECT_EQ(admin_->Post("/api/v1/devices", {{"name", "lobby-1"}}).status, 409);

  // The code works at the device listener: a real terminal commissions itself with it.
  Terminal terminal("127.0.0.1", daemon_.device_port(), daemon_.ca_pem());
  auto commissioned = terminal.Commission(code);
  ASSERT_TRUE(commissioned.ok()) << commissioned.status().ToString();
  EXPECT_EQ(commissioned->status, 200) << commissioned->body;
  r = admin_->Get("/api/v1/devices/lobby-1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json["status"], "commissioned");
  EXPECT_TRUE(r.json["certificate"].is_object());

  r = admin_->Post("/api/v1/devices/lobby-1/commands", {{"command", "explode"}});
  EXPECT_EQ(r.status, 400);
  r = admin_->Post("/api/v1/devices/lobby-1/commands",
                   {{"command", "reboot"}, {"expires_in_s", 600}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  auto beat = terminal.Heartbeat();
  ASSERT_TRUE(beat.ok());
  EXPECT_THAT(beat->body, HasSubstr("reboot"));

  r = admin_->Patch("/api/v1/devices/lobby-1", {{"enabled", false}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["status"], "disabled");
  beat = terminal.Heartbeat();
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->status, 403);
  r = admin_->Patch("/api/v1/devices/lobby-1", {{"enabled", true}});
  EXPECT_EQ(r.json["status"], "commissioned");

  r = admin_->Get("/api/v1/devices?limit=10");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json["items"].size(), 1u);
  EXPECT_EQ(r.json["items"][0]["online"], true);

  r = admin_->Post("/api/v1/devices/lobby-1/decommission", json::object());
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["certificates_revoked"], 1);
  EXPECT_EQ(admin_->Delete("/api/v1/devices/lobby-1").status, 200);
  EXPECT_EQ(admin_->Get("/api/v1/devices/lobby-1").status, 404);
}

TEST_F(AdminApiTest, EventsFilterPageAndExportAsCsv) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/devices", {{"name", "t1"}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  const int64_t device_id = r.json["device"]["id"];
  {
    // Decisions as the device API records them (the face engine is off in this test), written
    // through the same store beside the running daemon.
    store::StoreOptions o;
    o.db_file = daemon_.data_dir() / "facegate.db";
    o.key_dir = daemon_.data_dir() / "keys";
    auto s = store::Store::Open(o, SystemClock::Instance());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (int i = 0; i < 4; ++i) {
      store::AccessEvent e;
      e.time = SystemClock::Instance().Now();
      e.device_id = device_id;
      e.decision = store::Decision::kDeny;
      e.reason = i < 3 ? "no_door" : "unknown_face";
      e.request_id = "req-" + std::to_string(i);
      ASSERT_TRUE((*s)->RecordEvent(e, {}).ok());
    }
  }
  r = admin_->Get("/api/v1/events?limit=2&decision=deny&device=t1");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_EQ(r.json["items"].size(), 2u);
  ASSERT_TRUE(r.json["next_cursor"].is_string());
  const int64_t first = r.json["items"][0]["id"], second = r.json["items"][1]["id"];
  EXPECT_GT(first, second);  // newest first
  r = admin_->Get("/api/v1/events?limit=2&cursor=" + r.json["next_cursor"].get<std::string>());
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json["items"].size(), 2u);
  EXPECT_EQ(admin_->Get("/api/v1/events?reason=no_door").json["items"].size(), 3u);
  EXPECT_EQ(admin_->Get("/api/v1/events?decision=grant").json["items"].size(), 0u);
  r = admin_->Get("/api/v1/events?decision=maybe&from=noon");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json["fields"].contains("decision"));
  EXPECT_TRUE(r.json["fields"].contains("from"));
  EXPECT_EQ(admin_->Get("/api/v1/events?door=nowhere").status, 404);
  r = admin_->Get("/api/v1/events?from=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z");
  EXPECT_EQ(r.json["items"].size(), 0u);

  r = admin_->Get("/api/v1/events.csv?reason=no_door");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_THAT(r.headers["content-type"], HasSubstr("text/csv"));
  EXPECT_THAT(r.body, ::testing::StartsWith("id,time,door,device_id,user,decision,reason"));
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 4) << r.body;  // header + 3
  // Streamed: chunked, never held whole in the daemon's memory.
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  r = admin_->Get("/api/v1/audit?action=event.export&limit=1");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["outcome"], "ok");
  EXPECT_EQ(r.json["items"][0]["details"]["rows"], 3) << Describe(r);
}

TEST_F(AdminApiTest, RetentionPurgeDeletesOldEventsAndAuditRows) {
  daemon_.config()["admin"] = {{"event_retention_days", 30}, {"audit_retention_days", 60}};
  StartDaemon();
  const auto now = SystemClock::Instance().Now();
  const auto days = [](int n) { return std::chrono::hours(24) * n; };
  {
    store::StoreOptions o;
    o.db_file = daemon_.data_dir() / "facegate.db";
    o.key_dir = daemon_.data_dir() / "keys";
    auto s = store::Store::Open(o, SystemClock::Instance());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (int age : {45, 1}) {
      store::AccessEvent e;
      e.time = now - days(age);
      e.reason = "aged_" + std::to_string(age);
      ASSERT_TRUE((*s)->RecordEvent(e, {}).ok());
    }
    for (int age : {90, 45}) {
      store::AuditEntry a;
      a.at = now - days(age);
      a.actor = "facegatectl";
      a.action = "test.aged_" + std::to_string(age);
      ASSERT_TRUE((*s)->AppendAudit(a).ok());
    }
  }
  // The purge runs at start-up and then hourly.
  ASSERT_TRUE(daemon_.Stop().has_value());
  ASSERT_TRUE(daemon_.Start().ok());
  ASSERT_TRUE(daemon_.WaitForLog("retention purge")) << daemon_.log();
  ApiReply r = admin_->Get("/api/v1/events");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["reason"], "aged_1");
  r = admin_->Get("/api/v1/audit?action=test.");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["action"], "test.aged_45");
}

// ------------------------------------------------------------------ integrations

TEST_F(AdminApiTest, IntegrationsHaveSettingsAndStatusAndSyncMakesRecordsReadOnly) {
  StartDaemon();
  ApiReply r = admin_->Get("/api/v1/integrations");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_EQ(r.json["items"].size(), 3u);
  for (const auto& i : r.json["items"]) EXPECT_EQ(i["status"], "no_status") << i.dump();

  // The enrollment service needs its company name and privacy policy before it opens.
  r = admin_->Put("/api/v1/integrations/enrollment", {{"enabled", true}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("settings.company_name"));
  EXPECT_TRUE(r.json["fields"].contains("settings.privacy_policy_url"));
  r = admin_->Put("/api/v1/integrations/enrollment",
                  {{"enabled", true},
                   {"settings",
                    {{"company_name", "Acme"},
                     {"privacy_policy_url", "https://acme.example/privacy-biometrics"}}}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["enabled"], true);
  EXPECT_EQ(r.json["settings"]["company_name"], "Acme");
  EXPECT_EQ(admin_->Get("/api/v1/integrations/nothing").status, 404);

  // Secrets are never answered back. (Port 1 of loopback: nothing answers the daemon's
  // Space service there.)
  r = admin_->Put("/api/v1/integrations/space", {{"enabled", true},
                                                 {"settings",
                                                  {{"url", "https://127.0.0.1:1/"},
                                                   {"api_key", "s3cret"},
                                                   {"pin_sha256", std::string(64, 'A')}}}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["settings"]["api_key"], "(set)");
  EXPECT_EQ(r.body.find("s3cret"), std::string::npos);

  // While the Salto Space sync is on, the records it owns are read-only; devices are not.
  r = admin_->Post("/api/v1/users", {{"external_id", "E1"}});
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "read_only");
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("Salto Space"));
  EXPECT_EQ(admin_->Post("/api/v1/devices", {{"name", "d1"}}).status, 201);
  r = admin_->Put("/api/v1/integrations/space", {{"enabled", false}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json["settings"]["api_key"], "(set)");  // kept
  EXPECT_EQ(admin_->Post("/api/v1/users", {{"external_id", "E1"}}).status, 201);
}

// ------------------------------------------------------------------ faces (face engine)

class AdminFaceTest : public AdminApiTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ModelsDir() / "shape_predictor_68_face_landmarks.dat")) {
      GTEST_SKIP() << "no model files in " << ModelsDir() << " (run scripts/setup)";
    }
    StartDaemon(/*face=*/true);
  }
  ApiReply Enroll(const std::string& user, const std::string& jpeg) {
    return admin_->Call("POST", "/api/v1/users/" + user + "/faces", jpeg, "image/jpeg");
  }
};

TEST_F(AdminFaceTest, FaceEnrollAnswersTheQualityReportAndRefusesBadPhotos) {
  ASSERT_EQ(admin_->Post("/api/v1/users", {{"external_id", "ada"}}).status, 201);
  ApiReply r = Enroll("ada", Capture(kAdaEnrolled));
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_GT(r.json["quality"]["interocular_px"].get<double>(), 40);
  EXPECT_EQ(r.json["face"]["source"], "admin");
  EXPECT_TRUE(r.json["duplicate_of"].is_null());
  EXPECT_FALSE(r.json["face"].contains("values"));

  r = Enroll("ada", NoFaceJpeg());
  EXPECT_EQ(r.status, 422) << Describe(r);
  EXPECT_EQ(r.json["error"], "no_face");
  r = Enroll("ada", TwoFacesJpeg());
  EXPECT_EQ(r.status, 422) << Describe(r);
  EXPECT_EQ(r.json["error"], "multiple_faces");
  r = Enroll("ada", "this is not an image");
  EXPECT_EQ(r.status, 422) << Describe(r);
  EXPECT_EQ(r.json["error"], "unsupported_format");
  EXPECT_EQ(Enroll("nobody", Capture(kBob)).status, 404);

  r = admin_->Get("/api/v1/users/ada/faces");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json["items"].size(), 1u);
  const int64_t face_id = r.json["items"][0]["id"];

  // The same person enrolled for somebody else is refused, naming who has that face.
  ASSERT_EQ(admin_->Post("/api/v1/users", {{"external_id", "impostor"}}).status, 201);
  r = Enroll("impostor", Capture(kAdaAtTheDoor, 80));
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "duplicate_face");
  EXPECT_EQ(r.json["other_user"], "ada");
  // A second photo of the same person for herself is fine; another person is fine.
  EXPECT_EQ(Enroll("ada", Capture(kAdaAtTheDoor, 80)).status, 201);
  EXPECT_EQ(Enroll("impostor", Capture(kBob)).status, 201);

  EXPECT_EQ(admin_->Delete("/api/v1/faces/" + std::to_string(face_id)).status, 200);
  EXPECT_EQ(admin_->Delete("/api/v1/faces/" + std::to_string(face_id)).status, 404);
  r = admin_->Get("/api/v1/system");
  EXPECT_EQ(r.json["index"]["templates"], 2) << Describe(r);
}

TEST_F(AdminApiTest, FaceDuplicateFlagPolicyEnrollsAndSaysWho) {
  if (!std::filesystem::exists(ModelsDir() / "shape_predictor_68_face_landmarks.dat")) {
    GTEST_SKIP() << "no model files in " << ModelsDir() << " (run scripts/setup)";
  }
  daemon_.config()["admin"] = {{"duplicate_enrollment", "flag"}};
  StartDaemon(/*face=*/true);
  for (const char* id : {"ada", "twin"}) {
    ASSERT_EQ(admin_->Post("/api/v1/users", {{"external_id", id}}).status, 201);
  }
  auto enroll = [&](const std::string& user, const std::string& jpeg) {
    return admin_->Call("POST", "/api/v1/users/" + user + "/faces", jpeg, "image/jpeg");
  };
  ApiReply r = enroll("ada", Capture(kAdaEnrolled));
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_TRUE(r.json["duplicate_of"].is_null());
  r = enroll("twin", Capture(kAdaAtTheDoor, 80));
  ASSERT_EQ(r.status, 201) << "flag enrolls the face: " << Describe(r);
  EXPECT_EQ(r.json["duplicate_of"], "ada");
  r = admin_->Get("/api/v1/audit?action=face.enroll&limit=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json["items"][0]["details"]["duplicate_of"], "ada") << Describe(r);
}

// Every ciphertext in `table` (face_templates, face_photos) for `user_id`, read from the
// database as an attacker with the files would.
std::vector<std::string> BlobsOf(const std::filesystem::path& db_file, const std::string& table,
                                 int64_t user_id) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = "SELECT ciphertext FROM " + table + " WHERE user_id = ?";
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_bind_int64(stmt, 1, user_id);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out.emplace_back(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::vector<std::string> CiphertextsOf(const std::filesystem::path& db_file, int64_t user_id) {
  return BlobsOf(db_file, "face_templates", user_id);
}

TEST_F(AdminFaceTest, FaceErasureLeavesNoTemplateNoIndexEntryAndNoBytesInTheFiles) {
  ApiReply r = admin_->Post("/api/v1/users", {{"external_id", "bob"}});
  ASSERT_EQ(r.status, 201);
  const int64_t bob_id = r.json["id"];
  ASSERT_EQ(Enroll("bob", Capture(kBob)).status, 201);
  ASSERT_EQ(admin_->Post("/api/v1/users", {{"external_id", "carol"}}).status, 201);
  ASSERT_EQ(Enroll("carol", Capture(kCarol)).status, 201);
  const auto db_file = daemon_.data_dir() / "facegate.db";
  auto ciphertexts = CiphertextsOf(db_file, bob_id);
  ASSERT_EQ(ciphertexts.size(), 1u);
  ASSERT_GE(ciphertexts[0].size(), 128u * 4);

  r = admin_->Delete("/api/v1/users/bob");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["templates_deleted"], 1);
  EXPECT_EQ(r.json["wal_truncated"], true) << Describe(r);
  // The index entry went with it: bob's face now matches nobody, so it can be enrolled for
  // someone else without a duplicate refusal.
  r = admin_->Get("/api/v1/system");
  EXPECT_EQ(r.json["index"]["templates"], 1) << Describe(r);
  ASSERT_EQ(admin_->Post("/api/v1/users", {{"external_id", "bob2"}}).status, 201);
  EXPECT_EQ(Enroll("bob2", Capture(kBob)).status, 201);
  EXPECT_EQ(Enroll("carol", Capture(kCarol)).status, 201);  // still carol's

  for (const char* suffix : {"", "-wal"}) {
    auto file = db_file;
    file += suffix;
    auto bytes = ReadFile(file, 1ll << 30);
    if (!bytes.ok()) continue;  // no WAL file at all is fine
    // Any 32-byte window of the ciphertext would betray it.
    const std::string probe = ciphertexts[0].substr(ciphertexts[0].size() / 2, 32);
    EXPECT_EQ(bytes->find(probe), std::string::npos) << "erased template bytes remain in " << file;
  }
}

// Whether the database file or its WAL holds a 32-byte window from the middle of `bytes`.
bool FilesHold(const std::filesystem::path& db_file, const std::string& bytes) {
  const std::string probe = bytes.substr(bytes.size() / 2, 32);
  for (const char* suffix : {"", "-wal"}) {
    auto file = db_file;
    file += suffix;
    auto content = ReadFile(file, 1ll << 30);
    if (content.ok() && content->find(probe) != std::string::npos) return true;
  }
  return false;
}

TEST_F(AdminApiTest, FaceKeptPhotosAreEncryptedForOperatorsExportedForAdminsAndErased) {
  if (!std::filesystem::exists(ModelsDir() / "shape_predictor_68_face_landmarks.dat")) {
    GTEST_SKIP() << "no model files in " << ModelsDir() << " (run scripts/setup)";
  }
  daemon_.config()["admin"] = {{"keep_photos", true}};
  StartDaemon(/*face=*/true);
  AdminClient viewer(&daemon_, MakeToken("viewer-1", "viewer"));
  AdminClient op(&daemon_, MakeToken("operator-1", "operator"));
  ApiReply r = admin_->Post("/api/v1/users", {{"external_id", "bob"}});
  ASSERT_EQ(r.status, 201);
  const int64_t bob_id = r.json["id"];
  const std::string jpeg = Capture(kBob);
  r = op.Call("POST", "/api/v1/users/bob/faces", jpeg, "image/jpeg");
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_EQ(r.json["face"]["photo"], true);
  const std::string face = std::to_string(r.json["face"]["id"].get<int64_t>());

  // Operators see the photo; viewers do not; reading it is audited.
  r = op.Get("/api/v1/faces/" + face + "/photo");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.headers["content-type"], "image/jpeg");
  EXPECT_TRUE(r.body == jpeg) << "the photo read back differs from the one enrolled";
  EXPECT_EQ(viewer.Get("/api/v1/faces/" + face + "/photo").status, 403);
  r = admin_->Get("/api/v1/audit?action=face.photo");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json["items"].size(), 2u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["outcome"], "denied");
  EXPECT_EQ(r.json["items"][1]["target"], "user:bob");
  EXPECT_EQ(admin_->Get("/api/v1/system").json["counts"]["photos"], 1);
  r = op.Get("/api/v1/users/bob/export");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["photos"]["count"], 1);

  // The template values leave only to an admin, streamed as JSON lines.
  EXPECT_EQ(op.Get("/api/v1/export/templates").status, 403);
  r = admin_->Get("/api/v1/export/templates");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.headers["content-type"], "application/x-ndjson");
  ASSERT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 1) << r.body;
  const json line = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(line.is_object()) << r.body;
  EXPECT_EQ(line["user"], "bob");
  EXPECT_EQ(line["values"].size(), 128u);
  EXPECT_EQ(line["dimension"], 128);
  r = admin_->Get("/api/v1/audit?action=template.export");
  ASSERT_EQ(r.json["items"].size(), 2u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["details"]["templates"], 1) << Describe(r);

  // At rest only ciphertext; after the erasure not even that.
  const auto db_file = daemon_.data_dir() / "facegate.db";
  EXPECT_FALSE(FilesHold(db_file, jpeg)) << "the photo is stored in the clear";
  const auto photo_ciphertexts = BlobsOf(db_file, "face_photos", bob_id);
  const auto template_ciphertexts = BlobsOf(db_file, "face_templates", bob_id);
  ASSERT_EQ(photo_ciphertexts.size(), 1u);
  ASSERT_EQ(template_ciphertexts.size(), 1u);
  r = op.Delete("/api/v1/users/bob");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["templates_deleted"], 1);
  EXPECT_EQ(r.json["photos_deleted"], 1);
  EXPECT_EQ(r.json["wal_truncated"], true) << Describe(r);
  EXPECT_FALSE(FilesHold(db_file, photo_ciphertexts[0])) << "erased photo bytes remain";
  EXPECT_FALSE(FilesHold(db_file, template_ciphertexts[0])) << "erased template bytes remain";
  EXPECT_EQ(op.Get("/api/v1/faces/" + face + "/photo").status, 404);
  EXPECT_EQ(admin_->Get("/api/v1/system").json["counts"]["photos"], 0);
}

TEST_F(AdminFaceTest, FaceImportBatchEmbedsChecksDuplicatesAndIsIdempotent) {
  std::vector<FormPart> parts;
  json rows = json::array();
  auto add = [&](int row, const std::string& id, std::vector<std::string> photos,
                 json groups = json::array()) {
    json keys = json::array();
    for (auto& p : photos) {
      std::string key = "p" + std::to_string(parts.size());
      parts.push_back(FormPart{key, "image/jpeg", std::move(p), key + ".jpg"});
      keys.push_back(key);
    }
    rows.push_back({{"row", row},
                    {"external_id", id},
                    {"first_name", id},
                    {"last_name", "Test"},
                    {"groups", groups},
                    {"photos", keys}});
  };
  add(2, "ada", {Capture(kAdaEnrolled), Capture(kAdaAtTheDoor, 80)});
  add(3, "bob", {Capture(kBob)});
  add(4, "nobody", {NoFaceJpeg()});
  add(5, "ada-again", {Capture(kAdaAtTheDoor, 70)});  // the same person as row 2
  add(6, "two", {TwoFacesJpeg()});
  add(7, "junk", {std::string("GIF89a not really")});
  add(8, "grouped", {Capture(kCarol)}, json::array({"no-such-group"}));
  auto post = [&](bool dry_run) {
    std::vector<FormPart> all = parts;
    all.insert(all.begin(), FormPart{"manifest", "application/json",
                                     json{{"dry_run", dry_run}, {"rows", rows}}.dump(), ""});
    FormBody body = BuildMultipart(all);
    return admin_->Call("POST", "/api/v1/import", body.body, body.content_type);
  };
  ApiReply r = post(true);
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["imported"], 2) << Describe(r);
  EXPECT_EQ(admin_->Get("/api/v1/system").json["counts"]["users"], 0);  // a dry run writes nothing

  r = post(false);
  ASSERT_EQ(r.status, 200) << Describe(r);
  std::map<std::string, json> by_id;
  for (const auto& row : r.json["rows"]) by_id[row["external_id"]] = row;
  EXPECT_EQ(by_id["ada"]["status"], "imported");
  EXPECT_EQ(by_id["ada"]["templates"], 2);
  EXPECT_EQ(by_id["bob"]["status"], "imported");
  EXPECT_EQ(by_id["nobody"]["reason"], "no_face");
  EXPECT_EQ(by_id["ada-again"]["reason"], "duplicate");
  EXPECT_EQ(by_id["ada-again"]["other_user"], "ada");
  EXPECT_EQ(by_id["two"]["reason"], "multiple_faces");
  EXPECT_EQ(by_id["junk"]["reason"], "unsupported_format");
  EXPECT_EQ(by_id["grouped"]["reason"], "unknown_group");
  EXPECT_EQ(r.json["imported"], 2);
  EXPECT_EQ(r.json["rejected"], 5);

  // Again: nothing new; the rejected rows are rejected again for the same reasons.
  r = post(false);
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["imported"], 0);
  EXPECT_EQ(r.json["skipped"], 2);
  EXPECT_EQ(admin_->Get("/api/v1/system").json["counts"]["templates"], 3);

  // Bad batches are refused as a whole, saying why.
  FormBody no_manifest = BuildMultipart({FormPart{"p0", "image/jpeg", Capture(kBob), "a.jpg"}});
  r = admin_->Call("POST", "/api/v1/import", no_manifest.body, no_manifest.content_type);
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.json["fields"].contains("manifest")) << Describe(r);
  EXPECT_EQ(admin_->Post("/api/v1/import", json::object()).status, 415);
}

}  // namespace
}  // namespace facegate::testing
