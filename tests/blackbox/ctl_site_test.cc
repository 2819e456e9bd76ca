// Black-box: the site-administration commands of facegatectl (user, door, group, schedule,
// holiday, right, device, face enroll|list|delete) run as the real binary against a started
// facegated, through its admin API (--url, --ca, --token-file). What they did is checked
// through the API and by opening the same store in the test process; commissioning codes are
// checked by redeeming them as the daemon would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "blackbox/ctl_api_fixture.h"
#include "blackbox/demo_faces.h"
#include "facegate/core/clock.h"
#include "facegate/net/pki.h"
#include "facegate/store/commissioning.h"
#include "facegate/store/store.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
class CtlSiteTest : public CtlApiTest {};

TEST_F(CtlSiteTest, UserAddUpdateListShowErase) {
  auto r = Ctl({"user", "add", "alice", "--first-name", "Alice", "--last-name", "Liddell",
                "--valid-from", "2026-01-01T00:00:00Z", "--valid-until",
                "2030-01-01T00:00:00+01:00", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  EXPECT_EQ(j["external_id"], "alice");
  EXPECT_EQ(j["first_name"], "Alice");
  EXPECT_EQ(j["valid_from"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(j["valid_until"], "2029-12-31T23:00:00.000Z");
  EXPECT_EQ(j["active"], true);
  EXPECT_EQ(j["source"], "local");

  ExpectExit(Ctl({"user", "add", "alice"}), 6, "alice");  // duplicate: conflict
  ExpectExit(Ctl({"user", "add", "bob", "--valid-from", "yesterday"}), 2, "--valid-from");
  ExpectExit(Ctl({"user", "add", "bob", "--valid-from", "2027-01-01T00:00:00Z", "--valid-until",
                  "2026-01-01T00:00:00Z"}),
             2, "never be valid");
  ExpectExit(Ctl({"user", "add", "bob", "--colour", "blue"}), 2, "--colour");
  ExpectExit(Ctl({"user", "add"}), 2, "external id");
  ExpectExit(Ctl({"user", "frobnicate"}), 2, "frobnicate");
  r = Ctl({"user", "add", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, Not(HasSubstr("writes the database")));

  r = Ctl({"user", "update", "alice", "--banned", "--inactive", "--valid-until", "none", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  EXPECT_EQ(j["banned"], true);
  EXPECT_EQ(j["active"], false);
  EXPECT_TRUE(j["valid_until"].is_null());
  EXPECT_EQ(j["first_name"], "Alice");  // kept
  ExpectExit(Ctl({"user", "update", "bob", "--banned"}), 5, "bob");
  ExpectExit(Ctl({"user", "update", "alice", "--banned", "--unbanned"}), 2, "contradict");
  ExpectExit(Ctl({"user", "update", "alice"}), 2, "nothing to change");
  // Consistent alone, but not with the stored valid_from: the server refuses it.
  ExpectExit(Ctl({"user", "update", "alice", "--valid-until", "2025-01-01T00:00:00Z"}), 1,
             "valid_until");

  ASSERT_EQ(Ctl({"user", "add", "bob"}).code, 0);
  // External ids with '/', ' ' and '%' reach the right record.
  ASSERT_EQ(Ctl({"user", "add", "a/b c%d"}).code, 0);
  r = Ctl({"user", "show", "a/b c%d", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["external_id"], "a/b c%d");

  r = Ctl({"user", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  ASSERT_EQ(j["users"].size(), 3u);
  EXPECT_EQ(j["users"][0]["external_id"], "alice");
  r = Ctl({"user", "list"});
  EXPECT_THAT(r.out, HasSubstr("inactive,banned")) << Describe(r);

  // Templates show as metadata only.
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto u = s->FindUserByExternalId("bob");
    ASSERT_TRUE(u.ok());
    std::vector<float> v(128, 0.0884f);
    store::NewTemplate t;
    t.user_id = u->id;
    t.model_version = "dlib-resnet-v1";
    t.values = v;
    t.quality_json = R"({"sharpness": 99.5})";
    ASSERT_TRUE(s->AddTemplate(t).ok());
  }
  r = Ctl({"user", "show", "bob", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  ASSERT_EQ(j["templates"].size(), 1u);
  EXPECT_EQ(j["templates"][0]["model_version"], "dlib-resnet-v1");
  EXPECT_EQ(j["templates"][0]["quality"]["sharpness"], 99.5);
  EXPECT_FALSE(j["templates"][0].contains("values"));
  EXPECT_THAT(r.out, Not(HasSubstr("0.0884")));
  const int64_t template_id = j["templates"][0]["id"].get<int64_t>();
  r = Ctl({"user", "show", "bob"});
  EXPECT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("face templates: 1"));
  EXPECT_THAT(r.out, Not(HasSubstr("0.0884")));
  ExpectExit(Ctl({"user", "show", "carol"}), 5, "carol");

  r = Ctl({"face", "list", "bob", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["faces"][0]["id"], template_id);

  // Subject access: the record, templates as a count only.
  r = Ctl({"user", "export", "bob"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  EXPECT_EQ(j["user"]["external_id"], "bob");
  EXPECT_EQ(j["templates"]["count"], 1);
  EXPECT_THAT(r.out, Not(HasSubstr("0.0884")));
  ExpectExit(Ctl({"user", "export", "carol"}), 5, "carol");

  // Erasure: refused without --yes when nobody can be asked; then done, with the report.
  ExpectExit(Ctl({"user", "erase", "bob"}), 2, "--yes");
  r = Ctl({"user", "erase", "bob", "--yes", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  EXPECT_EQ(j["user_deleted"], true);
  EXPECT_EQ(j["templates_deleted"], 1);
  EXPECT_TRUE(j.contains("wal_truncated"));
  ExpectExit(Ctl({"user", "show", "bob"}), 5, "bob");
  ExpectExit(Ctl({"user", "erase", "bob", "--yes"}), 5, "bob");
  auto s = OpenStore();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->CountTemplates().value(), 0);
}

TEST_F(CtlSiteTest, FaceDeleteOneTemplate) {
  ASSERT_EQ(Ctl({"user", "add", "dan"}).code, 0);
  int64_t id = 0;
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto u = s->FindUserByExternalId("dan");
    ASSERT_TRUE(u.ok());
    std::vector<float> v(128, 0.0884f);
    store::NewTemplate t;
    t.user_id = u->id;
    t.model_version = "dlib-resnet-v1";
    t.values = v;
    auto added = s->AddTemplate(t);
    ASSERT_TRUE(added.ok());
    id = *added;
  }
  ExpectExit(Ctl({"face", "delete", std::to_string(id)}), 2, "--yes");
  ExpectExit(Ctl({"face", "delete", "x", "--yes"}), 2, "template id");
  auto r = Ctl({"face", "delete", std::to_string(id), "--yes"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("dan"));
  ExpectExit(Ctl({"face", "delete", std::to_string(id), "--yes"}), 5);
  r = Ctl({"face", "list", "dan", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_TRUE(ParseJson(r)["faces"].empty());
}

TEST_F(CtlSiteTest, DoorsGroupsSchedulesHolidaysRights) {
  auto r = Ctl({"door", "add", "D1", "--name", "Lobby", "--security-level", "high", "--require-pad",
                "--pad-min-score", "0.7"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  ASSERT_EQ(Ctl({"door", "add", "D2"}).code, 0);
  ExpectExit(Ctl({"door", "add", "D1"}), 6, "D1");
  ExpectExit(Ctl({"door", "add", "D3", "--security-level", "paranoid"}), 2, "--security-level");
  ExpectExit(Ctl({"door", "add", "D3", "--pad-min-score", "2"}), 2, "--pad-min-score");
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto d = s->FindDoorByExternalId("D1");
    ASSERT_TRUE(d.ok() && d->has_value());
    EXPECT_EQ((*d)->name, "Lobby");
    json settings = json::parse((*d)->settings_json);
    EXPECT_EQ(settings["security_level"], "high");
    EXPECT_EQ(settings["require_pad"], true);
    EXPECT_DOUBLE_EQ(settings["pad_min_score"].get<double>(), 0.7);
    auto d2 = s->FindDoorByExternalId("D2");
    ASSERT_TRUE(d2.ok() && d2->has_value());
    EXPECT_EQ((*d2)->settings_json, "{}");  // unset: the config's defaults apply
  }
  r = Ctl({"door", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  ASSERT_EQ(j["doors"].size(), 2u);
  EXPECT_EQ(j["doors"][0]["settings"]["security_level"], "high");
  r = Ctl({"door", "list"});
  EXPECT_THAT(r.out, HasSubstr("required (min 0.70)")) << Describe(r);

  ASSERT_EQ(Ctl({"user", "add", "alice"}).code, 0);
  ASSERT_EQ(Ctl({"group", "add", "staff", "--name", "Staff"}).code, 0);
  ExpectExit(Ctl({"group", "add", "staff"}), 6, "staff");
  ASSERT_EQ(Ctl({"group", "member", "add", "staff", "alice"}).code, 0);
  ExpectExit(Ctl({"group", "member", "add", "staff", "alice"}), 6, "already");
  ExpectExit(Ctl({"group", "member", "add", "staff", "nobody"}), 5, "nobody");
  ExpectExit(Ctl({"group", "member", "add", "ghosts", "alice"}), 5, "ghosts");
  ExpectExit(Ctl({"group", "member", "add", "staff"}), 2);
  r = Ctl({"group", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["groups"][0]["members"], 1);
  r = Ctl({"group", "member", "list", "staff", "--json"});
  EXPECT_EQ(ParseJson(r)["members"], json::array({"alice"}));

  r = Ctl({"schedule", "add", "office", "--name", "Office hours", "--range", "mon-fri:08:00-18:00",
           "--range", "sat,sun:10:00-12:00", "--range", "8:10:00-24:00", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  ASSERT_EQ(j["ranges"].size(), 8u);
  EXPECT_EQ(j["ranges"][0]["range"], "mon:08:00-18:00");
  EXPECT_EQ(j["ranges"][7]["range"], "holiday:10:00-24:00");
  ExpectExit(Ctl({"schedule", "add", "night", "--range", "mon:22:00-06:00"}), 2, "midnight");
  ExpectExit(Ctl({"schedule", "add", "night", "--range", "funday:08:00-09:00"}), 2, "funday");
  ExpectExit(Ctl({"schedule", "add", "night"}), 2, "--range");
  ExpectExit(Ctl({"schedule", "add", "office", "--range", "mon:08:00-09:00"}), 6, "office");
  r = Ctl({"schedule", "list"});
  EXPECT_THAT(r.out, HasSubstr("fri:08:00-18:00")) << Describe(r);

  ASSERT_EQ(Ctl({"holiday", "add", "default", "2026-12-25", "--name", "Christmas"}).code, 0);
  ExpectExit(Ctl({"holiday", "add", "default", "2026-12-25"}), 6, "2026-12-25");
  ExpectExit(Ctl({"holiday", "add", "default", "2026-02-30"}), 2, "YYYY-MM-DD");
  ExpectExit(Ctl({"holiday", "add", "default", "2026-12-26", "--day-type", "7"}), 2, "--day-type");
  r = Ctl({"holiday", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["holidays"][0]["name"], "Christmas");

  r = Ctl({"right", "add", "--user", "alice", "--door", "D1", "--schedule", "office", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const int64_t right_id = ParseJson(r)["id"].get<int64_t>();
  ASSERT_EQ(Ctl({"right", "add", "--group", "staff", "--door", "D2"}).code, 0);
  ExpectExit(Ctl({"right", "add", "--user", "alice", "--door", "D1"}), 6, "already");
  ExpectExit(Ctl({"right", "add", "--user", "alice", "--door", "D9"}), 1, "D9");
  ExpectExit(Ctl({"right", "add", "--user", "zed", "--door", "D1"}), 1, "zed");
  ExpectExit(Ctl({"right", "add", "--user", "alice", "--door", "D2", "--schedule", "never"}), 1,
             "never");
  ExpectExit(Ctl({"right", "add", "--user", "alice", "--group", "staff", "--door", "D1"}), 2,
             "exactly one");
  ExpectExit(Ctl({"right", "add", "--user", "alice"}), 2, "--door");

  r = Ctl({"right", "list", "--user", "alice", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  ASSERT_EQ(j["rights"].size(), 2u) << j.dump();
  EXPECT_EQ(j["rights"][0]["door"], "D1");
  EXPECT_EQ(j["rights"][0]["schedule"], "office");
  EXPECT_EQ(j["rights"][1]["via_group"], "staff");
  r = Ctl({"right", "list", "--door", "D2", "--json"});
  ASSERT_EQ(ParseJson(r)["rights"].size(), 1u);
  EXPECT_EQ(ParseJson(r)["rights"][0]["group"], "staff");
  ExpectExit(Ctl({"right", "list", "--door", "D9"}), 5, "D9");

  // What the decision engine will read.
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto data = s->LoadAccessSnapshotData();
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(data->rights.size(), 2u);
    EXPECT_EQ(data->memberships.size(), 1u);
    ASSERT_EQ(data->schedules.size(), 1u);
    EXPECT_EQ(data->schedules[0].ranges[0], (store::ScheduleRange{1, 480, 1080}));
  }

  ASSERT_EQ(Ctl({"right", "remove", std::to_string(right_id)}).code, 0);
  ExpectExit(Ctl({"right", "remove", std::to_string(right_id)}), 5, std::to_string(right_id));
  ExpectExit(Ctl({"right", "remove", "first"}), 2, "first");
  ASSERT_EQ(Ctl({"group", "member", "remove", "staff", "alice"}).code, 0);
  ExpectExit(Ctl({"group", "member", "remove", "staff", "alice"}), 5, "not a member");
}

// The code the command printed, as the daemon checks it: HMAC under the data directory's
// secret, redeemed once.
Result<store::RedeemedCommissioningCode> Redeem(store::Store& s, const std::string& secret,
                                                const std::string& code) {
  auto hash = store::HashCommissioningCode(code, secret);
  if (!hash.ok()) return hash.status();
  return s.RedeemCommissioningCode(*hash, SystemClock::Instance().Now());
}

TEST_F(CtlSiteTest, DeviceCreateCodeAndLifecycle) {
  ASSERT_EQ(Ctl({"door", "add", "D1"}).code, 0);
  auto r = Ctl({"device", "create", "lobby-left", "--door", "D1", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  const std::regex code_form("^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$");
  const std::string first_code = j["code"].get<std::string>();
  EXPECT_TRUE(std::regex_match(first_code, code_form)) << first_code;
  EXPECT_EQ(j["device"]["name"], "lobby-left");
  EXPECT_EQ(j["device"]["door"], "D1");
  EXPECT_EQ(j["device"]["status"], "created");
  EXPECT_TRUE(j["expires_at"].is_string());
  const json& qr = j["qr_payload"];
  EXPECT_EQ(qr["v"], 1);
  EXPECT_EQ(qr["server"], "127.0.0.1");
  EXPECT_EQ(qr["port"], daemon_.device_port());
  EXPECT_EQ(qr["code"], first_code);
  auto ca = net::InspectCertificatePem(daemon_.ca_pem());
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(qr["ca_sha256"], ca->sha256_fingerprint_hex);

  ExpectExit(Ctl({"device", "create", "lobby-left"}), 6, "lobby-left");
  ExpectExit(Ctl({"device", "create", "other", "--door", "D7"}), 1, "D7");
  ExpectExit(Ctl({"device", "create"}), 2);

  // A new code replaces the first: the first is refused, the new one redeems once.
  r = Ctl({"device", "code", "lobby-left"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  std::smatch m;
  const std::regex printed("commissioning code: ([0-9A-Z]{5}-[0-9A-Z]{5})");
  ASSERT_TRUE(std::regex_search(r.out, m, printed)) << Describe(r);
  const std::string second_code = m[1];
  EXPECT_THAT(r.out, HasSubstr("QR payload: {"));
  ExpectExit(Ctl({"device", "code", "nowhere"}), 5, "nowhere");
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    const std::string secret = ReadFileForTest(daemon_.pki_dir() / "commissioning.secret");
    auto old = Redeem(*s, secret, first_code);
    EXPECT_FALSE(old.ok());
    auto redeemed = Redeem(*s, secret, second_code);
    ASSERT_TRUE(redeemed.ok()) << redeemed.status().ToString();
    EXPECT_EQ(redeemed->device.name, "lobby-left");
    EXPECT_FALSE(Redeem(*s, secret, second_code).ok());  // single use
  }

  r = Ctl({"device", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  ASSERT_EQ(j["devices"].size(), 1u);
  EXPECT_EQ(j["devices"][0]["online"], false);
  EXPECT_TRUE(j["devices"][0]["cert_serial"].is_null());
  EXPECT_TRUE(j["devices"][0].contains("last_seen_at"));
  r = Ctl({"device", "list"});
  EXPECT_THAT(r.out, HasSubstr("lobby-left")) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("LAST_SEEN"));
  EXPECT_THAT(r.out, HasSubstr("CERT_EXPIRES"));

  ASSERT_EQ(Ctl({"device", "set-door", "lobby-left", "--none"}).code, 0);
  ExpectExit(Ctl({"device", "set-door", "lobby-left", "D8"}), 1, "D8");
  ExpectExit(Ctl({"device", "set-door", "lobby-left"}), 2, "--none");
  ASSERT_EQ(Ctl({"device", "disable", "lobby-left"}).code, 0);
  ExpectExit(Ctl({"device", "disable", "ghost"}), 5, "ghost");
  ExpectExit(Ctl({"device", "code", "lobby-left"}), 6, "disabled");
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto d = s->FindDeviceByName("lobby-left");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->status, store::DeviceStatus::kDisabled);
    EXPECT_FALSE(d->door_id.has_value());
  }
  r = Ctl({"device", "enable", "lobby-left", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["status"], "created");  // it never had a certificate

  r = Ctl({"device", "command", "lobby-left", "reboot", "--payload", R"({"delay_s": 5})",
           "--expires-in", "600", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const int64_t command_id = ParseJson(r)["id"].get<int64_t>();
  ExpectExit(Ctl({"device", "command", "lobby-left", "reboot", "--payload", "{nope"}), 2,
             "--payload");
  ExpectExit(Ctl({"device", "command", "lobby-left", "reboot", "--expires-in", "-3"}), 2,
             "--expires-in");
  ExpectExit(Ctl({"device", "command", "lobby-left", "dance"}), 1, "command");
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto c = s->GetDeviceCommand(command_id);
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->command, "reboot");
    EXPECT_THAT((*c)->origin, HasSubstr("admin:"));
    EXPECT_EQ(json::parse((*c)->payload_json)["delay_s"], 5);
    EXPECT_TRUE((*c)->expires_at.has_value());
  }

  ExpectExit(Ctl({"device", "decommission", "lobby-left"}), 2, "--yes");
  r = Ctl({"device", "decommission", "lobby-left", "--yes", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["status"], "decommissioned");
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto d = s->FindDeviceByName("lobby-left");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->status, store::DeviceStatus::kDecommissioned);
  }
  ExpectExit(Ctl({"device", "delete", "lobby-left"}), 2, "--yes");
  ASSERT_EQ(Ctl({"device", "delete", "lobby-left", "--yes"}).code, 0);
  ExpectExit(Ctl({"device", "delete", "lobby-left", "--yes"}), 5, "lobby-left");
}

// With the face engine: the daemon embeds what the command uploads.
class CtlFaceTest : public CtlSiteTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ModelsDir() / "shape_predictor_68_face_landmarks.dat")) {
      GTEST_SKIP() << "no model files (run scripts/setup)";
    }
    StartDaemon(/*face=*/true);
    token_file_ = WriteToken("admin.token", admin_token_);
  }
};

TEST_F(CtlFaceTest, FaceEnrollReportsQualityRefusalsAndDuplicates) {
  const auto bob_file = daemon_.dir() / "bob.jpg";
  std::ofstream(bob_file, std::ios::binary) << Capture(kBob);
  const auto blank_file = daemon_.dir() / "blank.jpg";
  std::ofstream(blank_file, std::ios::binary) << NoFaceJpeg();

  ASSERT_EQ(Ctl({"user", "add", "carol"}).code, 0);
  ASSERT_EQ(Ctl({"user", "add", "dave"}).code, 0);
  ExpectExit(Ctl({"face", "enroll", "nobody", bob_file.string()}), 5, "nobody");
  ExpectExit(Ctl({"face", "enroll", "carol"}), 2);
  ExpectExit(Ctl({"face", "enroll", "carol", bob_file.string(), "--source", "self"}), 2,
             "--source");

  auto r = Ctl({"face", "enroll", "carol", bob_file.string(), blank_file.string(), "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  ASSERT_EQ(j["images"].size(), 2u);
  EXPECT_EQ(j["images"][0]["accepted"], true) << j.dump(2);
  EXPECT_TRUE(j["images"][0]["template_id"].is_number());
  EXPECT_GT(j["images"][0]["quality"]["interocular_px"].get<double>(), 20);
  EXPECT_EQ(j["images"][1]["accepted"], false);
  EXPECT_EQ(j["images"][1]["reason"], "no_face");
  EXPECT_EQ(j["accepted"], 1);
  EXPECT_EQ(j["templates_of_user"], 1);
  EXPECT_FALSE(j["images"][0].contains("template"));
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto u = s->FindUserByExternalId("carol");
    ASSERT_TRUE(u.ok());
    auto templates = s->ListTemplatesOfUser(u->id);
    ASSERT_TRUE(templates.ok());
    ASSERT_EQ(templates->size(), 1u);
    EXPECT_EQ((*templates)[0].id, j["images"][0]["template_id"].get<int64_t>());
    EXPECT_EQ((*templates)[0].source, store::TemplateSource::kAdmin);
  }

  // Nothing accepted: exit 1, the reason reported.
  r = Ctl({"face", "enroll", "carol", blank_file.string()});
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("refused: no_face"));

  // The same face for another user: refused, naming carol; exit 6.
  r = Ctl({"face", "enroll", "dave", bob_file.string()});
  EXPECT_EQ(r.code, 6) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("refused: duplicate_face"));
  EXPECT_THAT(r.out, HasSubstr("carol"));
}

// With admin.keep_photos: an operator reads a kept photo back with `face photo`.
class CtlFacePhotoTest : public CtlSiteTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ModelsDir() / "shape_predictor_68_face_landmarks.dat")) {
      GTEST_SKIP() << "no model files (run scripts/setup)";
    }
    daemon_.config()["admin"]["keep_photos"] = true;
    StartDaemon(/*face=*/true);
    token_file_ = WriteToken("admin.token", admin_token_);
  }
};

TEST_F(CtlFacePhotoTest, FacePhotoWritesTheKeptPhotoPrivately) {
  const std::string jpeg = Capture(kBob);
  const auto bob_file = daemon_.dir() / "bob.jpg";
  std::ofstream(bob_file, std::ios::binary) << jpeg;
  ASSERT_EQ(Ctl({"user", "add", "bob"}).code, 0);
  auto r = Ctl({"face", "enroll", "bob", bob_file.string(), "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const std::string id = std::to_string(ParseJson(r)["images"][0]["template_id"].get<int64_t>());

  ExpectExit(Ctl({"face", "photo", id}), 2, "--output");
  ExpectExit(Ctl({"face", "photo", "x1", "--output", "p.jpg"}), 2, "template id");
  const auto out = daemon_.dir() / "photo.jpg";
  ExpectExit(Ctl({"face", "photo", "12345", "--output", out.string()}), 5);
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(out.string() + ".partial"));

  r = Ctl({"face", "photo", id, "--output", out.string(), "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["bytes"], jpeg.size());
  std::ifstream in(out, std::ios::binary);
  const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(back == jpeg) << "the photo written differs from the one enrolled";
  EXPECT_EQ(std::filesystem::status(out).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  r = Ctl({"face", "photo", id, "--output", "-"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_TRUE(r.out == jpeg);

  // Erased with the user: nothing left to read.
  ASSERT_EQ(Ctl({"user", "erase", "bob", "--yes"}).code, 0);
  ExpectExit(Ctl({"face", "photo", id, "--output", out.string() + "2"}), 5);
}

}  // namespace
}  // namespace facegate::testing
