// Black-box: facegatectl's token, event, integration, status, audit and export commands, and
// the exit codes every API command shares, run as the real binary against a started facegated.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "blackbox/ctl_api_fixture.h"
#include "facegate/core/files.h"
#include "facegate/net/pki.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CtlAdminTest : public CtlApiTest {
 protected:
  // Runs with the daemon's --config as well (what --bootstrap reads).
  CtlResult Local(std::vector<std::string> args) {
    args.push_back("--config");
    args.push_back(daemon_.config_path().string());
    return RunCtl(daemon_.dir(), args);
  }
};

TEST_F(CtlAdminTest, TokenCreateListRevoke) {
  auto r = Ctl({"token", "create", "--name", "ops", "--role", "operator"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  std::smatch m;
  const std::regex token_re("^(fgt_[A-Za-z0-9_-]{43})\n$");
  ASSERT_TRUE(std::regex_match(r.out, m, token_re)) << Describe(r);
  const auto ops = WriteToken("ops.token", m[1]);
  EXPECT_THAT(r.err, HasSubstr("shown only now"));

  ExpectExit(Ctl({"token", "create", "--name", "ops"}), 6, "ops");
  ExpectExit(Ctl({"token", "create", "--name", "x", "--role", "root"}), 2, "--role");
  ExpectExit(Ctl({"token", "create"}), 2, "--name");

  // The operator may add users, not doors, nor list tokens.
  EXPECT_EQ(CtlWith(ops, {"user", "add", "u1"}).code, 0);
  ExpectExit(CtlWith(ops, {"door", "add", "D1"}), 4, "403");
  ExpectExit(CtlWith(ops, {"token", "list"}), 4);

  r = Ctl({"token", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  int64_t ops_id = 0;
  for (const auto& t : j["tokens"]) {
    EXPECT_FALSE(t.contains("token"));
    if (t["name"] == "ops") ops_id = t["id"].get<int64_t>();
  }
  ASSERT_GT(ops_id, 0) << j.dump();
  r = Ctl({"token", "list"});
  EXPECT_THAT(r.out, HasSubstr("operator")) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr("fgt_")));

  ExpectExit(Ctl({"token", "revoke", "abc"}), 2, "token id");
  ASSERT_EQ(Ctl({"token", "revoke", std::to_string(ops_id)}).code, 0);
  ExpectExit(CtlWith(ops, {"user", "list"}), 4, "401");
  ExpectExit(Ctl({"token", "revoke", "999999"}), 5);
}

TEST_F(CtlAdminTest, TokenBootstrapOnlyWithoutActiveTokens) {
  // The --init token is active: refused, pointing at the API.
  auto r = Local({"token", "create", "--bootstrap"});
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("token create --name"));
  EXPECT_TRUE(r.out.empty());
  ExpectExit(Local({"token", "create", "--bootstrap", "--role", "viewer"}), 2, "--role");

  // Every token revoked through the API (the admin revokes its own last).
  r = Ctl({"token", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json tokens = ParseJson(r)["tokens"];
  ASSERT_FALSE(tokens.empty());
  for (const auto& t : tokens) {
    ASSERT_EQ(Ctl({"token", "revoke", std::to_string(t["id"].get<int64_t>())}).code, 0);
  }
  ExpectExit(Ctl({"status"}), 4);

  r = Local({"token", "create", "--bootstrap", "--name", "recovery"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(r.out, m, std::regex("^(fgt_[A-Za-z0-9_-]{43})\n$"))) << Describe(r);
  const auto recovery = WriteToken("recovery.token", m[1]);
  // The running daemon accepts it at once, as an admin.
  r = CtlWith(recovery, {"token", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  bool found = false;
  const json after = ParseJson(r)["tokens"];
  for (const auto& t : after) {
    if (t["name"] == "recovery") {
      found = true;
      EXPECT_EQ(t["role"], "admin");
    }
  }
  EXPECT_TRUE(found);
  // Now one is active again.
  ExpectExit(Local({"token", "create", "--bootstrap"}), 1, "refused");
}

TEST_F(CtlAdminTest, ExitCodes) {
  // 3: nothing listens there (connection refused).
  auto r = RunCtl(daemon_.dir(),
                  {"status", "--url", "https://127.0.0.1:1", "--ca",
                   (daemon_.pki_dir() / "ca.crt").string(), "--token-file", token_file_.string()});
  EXPECT_EQ(r.code, 3) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("127.0.0.1:1"));
  // 3 as well: the daemon's certificate is not signed by the CA given (pinning: the system's
  // trust store is never consulted).
  auto other_ca = net::LocalCa::OpenOrCreate(daemon_.dir() / "other-ca", SystemClock::Instance(),
                                             std::chrono::hours(24));
  ASSERT_TRUE(other_ca.ok()) << other_ca.status().ToString();
  r = RunCtl(
      daemon_.dir(),
      {"status", "--url", "https://127.0.0.1:" + std::to_string(daemon_.admin_port()), "--ca",
       (daemon_.dir() / "other-ca" / "ca.crt").string(), "--token-file", token_file_.string()});
  EXPECT_EQ(r.code, 3) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("certificate")) << Describe(r);
  // 4: an unknown token.
  const auto bad = WriteToken("bad.token", "fgt_" + std::string(43, 'A'));
  ExpectExit(CtlWith(bad, {"user", "list"}), 4, "401");
  // 5 and 6.
  ExpectExit(Ctl({"user", "show", "nobody"}), 5, "nobody");
  ASSERT_EQ(Ctl({"user", "add", "dup"}).code, 0);
  ExpectExit(Ctl({"user", "add", "dup"}), 6, "dup");
  // 2: no token anywhere.
  r = RunCtl(daemon_.dir(), {"user", "list", "--url", "https://127.0.0.1:1", "--ca",
                             (daemon_.pki_dir() / "ca.crt").string(), "--config",
                             (daemon_.dir() / "missing.json").string()});
  if (std::getenv("FACEGATE_TOKEN") == nullptr && std::getenv("FACEGATE_TOKEN_FILE") == nullptr) {
    EXPECT_EQ(r.code, 2) << Describe(r);
    EXPECT_THAT(r.err, HasSubstr("token"));
  }
}

TEST_F(CtlAdminTest, EventListAndExport) {
  ASSERT_EQ(Ctl({"door", "add", "D1"}).code, 0);
  ASSERT_EQ(Ctl({"user", "add", "alice"}).code, 0);
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto door = s->FindDoorByExternalId("D1");
    auto user = s->FindUserByExternalId("alice");
    ASSERT_TRUE(door.ok() && *door && user.ok());
    const auto now = SystemClock::Instance().Now();
    for (int i = 0; i < 5; ++i) {
      store::AccessEvent e;
      e.time = now - std::chrono::minutes(10 - i);
      e.door_id = (*door)->id;
      if (i % 2 == 0) e.user_id = user->id;
      e.decision = i % 2 == 0 ? store::Decision::kGrant : store::Decision::kDeny;
      e.reason = i % 2 == 0 ? "granted" : "unknown_face";
      e.distance = 0.3;
      e.latency_ms = 42;
      ASSERT_TRUE(s->RecordEvent(e, {}).ok());
    }
  }
  auto r = Ctl({"event", "list", "--json", "--limit", "0"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["events"].size(), 5u);
  r = Ctl({"event", "list", "--json", "--limit", "2"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["events"].size(), 2u);
  r = Ctl({"event", "list", "--user", "alice", "--decision", "grant", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  ASSERT_EQ(j["events"].size(), 3u);
  EXPECT_EQ(j["events"][0]["user"], "alice");
  r = Ctl({"event", "list", "--reason", "unknown_face"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("D1"));
  EXPECT_THAT(r.out, HasSubstr("unknown_face"));
  EXPECT_THAT(r.out, Not(HasSubstr("granted")));
  ExpectExit(Ctl({"event", "list", "--decision", "maybe"}), 2, "--decision");
  ExpectExit(Ctl({"event", "list", "--from", "today"}), 2, "--from");
  ExpectExit(Ctl({"event", "list", "--door", "D9"}), 5, "D9");

  r = Ctl({"event", "export", "--decision", "deny"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("id,time,door,device_id,user,decision"));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);  // header + 2
  const auto file = daemon_.dir() / "events.csv";
  r = Ctl({"event", "export", "--output", file.string()});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_TRUE(r.out.empty());
  const std::string csv = ReadFileForTest(file);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 6);
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".partial"));

  // A range of several store pages (1000 events each) streams whole, in order.
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    const auto now = SystemClock::Instance().Now();
    for (int i = 0; i < 2100; ++i) {
      store::AccessEvent e;
      e.time = now;
      e.decision = store::Decision::kDeny;
      e.reason = "bulk";
      ASSERT_TRUE(s->RecordEvent(e, {}).ok());
    }
  }
  r = Ctl({"event", "export", "--reason", "bulk", "--output", file.string()});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const std::string bulk = ReadFileForTest(file);
  EXPECT_EQ(std::count(bulk.begin(), bulk.end(), '\n'), 2101);
  std::set<std::string> ids;
  for (size_t at = bulk.find('\n') + 1; at < bulk.size(); at = bulk.find('\n', at) + 1) {
    ids.insert(bulk.substr(at, bulk.find(',', at) - at));
  }
  EXPECT_EQ(ids.size(), 2100u) << "rows repeated or lost at page boundaries";
}

TEST_F(CtlAdminTest, IntegrationSetShowList) {
  auto r = Ctl({"integration", "list", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_EQ(ParseJson(r)["integrations"].size(), 3u);
  ExpectExit(Ctl({"integration", "set", "space", "--enable"}), 1, "settings.url");
  r = Ctl({"integration", "set", "enrollment", "--setting", "company_name=Acme", "--setting",
           "privacy_policy_url=https://acme.example/privacy", "--setting", "max_photos=3",
           "--enable", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  EXPECT_EQ(j["enabled"], true);
  EXPECT_EQ(j["settings"]["company_name"], "Acme");
  EXPECT_EQ(j["settings"]["max_photos"], 3);
  r = Ctl({"integration", "set", "enrollment", "--setting", "max_photos=", "--disable", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  j = ParseJson(r);
  EXPECT_EQ(j["enabled"], false);
  EXPECT_FALSE(j["settings"].contains("max_photos"));
  r = Ctl({"integration", "show", "enrollment"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("company_name = Acme"));
  ExpectExit(Ctl({"integration", "show", "nope"}), 5, "nope");
  ExpectExit(Ctl({"integration", "set", "enrollment"}), 2, "nothing to change");
  ExpectExit(Ctl({"integration", "set", "enrollment", "--setting", "=x"}), 2, "KEY=VALUE");

  // Salto Space: settings checked as a whole, each bad one named; a new key shown once.
  r = Ctl({"integration", "set", "space", "--enable", "--setting", "url=ftp://space", "--setting",
           "removed_users=sometimes"});
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("settings.url"));
  EXPECT_THAT(r.err, HasSubstr("settings.removed_users"));
  ExpectExit(Ctl({"integration", "space", "reset-key"}), 2, "--yes");
  ExpectExit(Ctl({"integration", "space", "sync"}), 6, "not enabled");
  r = Ctl({"integration", "space", "reset-key", "--yes", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const std::string key = ParseJson(r).value("api_key", "");
  EXPECT_EQ(key.size(), 43u);
  r = Ctl({"integration", "show", "space", "--json"});
  EXPECT_EQ(ParseJson(r)["settings"]["api_key"], "(set)");
  EXPECT_THAT(r.out, Not(HasSubstr(key)));
  r = Ctl({"audit", "list", "--action", "integration.reset_key", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr(key))) << "the key is in the audit log";
  EXPECT_EQ(ParseJson(r)["audit"].size(), 1u);
  r = Ctl({"integration", "status"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("no_status"));
}

TEST_F(CtlAdminTest, StatusAndAudit) {
  ASSERT_EQ(Ctl({"user", "add", "alice"}).code, 0);
  auto r = Ctl({"status"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("users:     1"));
  EXPECT_THAT(r.out, HasSubstr("uptime:"));
  r = Ctl({"status", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_TRUE(ParseJson(r)["version"].is_string());

  r = Ctl({"audit", "list", "--action", "user.create", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  ASSERT_EQ(j["audit"].size(), 1u) << j.dump();
  EXPECT_EQ(j["audit"][0]["target"], "user:alice");
  EXPECT_THAT(j["audit"][0]["actor"].get<std::string>(), HasSubstr("token:"));
  r = Ctl({"audit", "list", "--limit", "1"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("ACTION"));
  ExpectExit(Ctl({"audit", "show"}), 2, "show");
}

TEST_F(CtlAdminTest, ExportUsersGroupsRights) {
  ASSERT_EQ(Ctl({"user", "add", "alice"}).code, 0);
  ASSERT_EQ(Ctl({"door", "add", "D1"}).code, 0);
  ASSERT_EQ(Ctl({"group", "add", "staff"}).code, 0);
  ASSERT_EQ(Ctl({"group", "member", "add", "staff", "alice"}).code, 0);
  ASSERT_EQ(Ctl({"right", "add", "--group", "staff", "--door", "D1"}).code, 0);
  auto r = Ctl({"export"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  json j = ParseJson(r);
  ASSERT_EQ(j["users"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["members"], json::array({"alice"}));
  EXPECT_EQ(j["rights"][0]["door"], "D1");
  EXPECT_TRUE(j["templates"].is_string()) << "templates are left out unless asked for";
}

TEST_F(CtlAdminTest, ExportWithTemplatesIsForAdminsAndHoldsTheValues) {
  ASSERT_EQ(Ctl({"user", "add", "alice"}).code, 0);
  // Templates written through the store beside the daemon (the face engine is off here):
  // more than one page of the export endpoint.
  std::vector<std::vector<float>> values(1203, std::vector<float>(128));
  {
    auto s = OpenStore();
    ASSERT_TRUE(s);
    auto alice = s->FindUserByExternalId("alice");
    ASSERT_TRUE(alice.ok());
    std::vector<store::NewTemplate> batch(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      for (size_t k = 0; k < 128; ++k) values[i][k] = static_cast<float>(i) + k / 1024.0f;
      batch[i].user_id = alice->id;
      batch[i].model_version = "dlib-resnet-v1";
      batch[i].values = values[i];
    }
    ASSERT_TRUE(s->AddTemplates(batch).ok());
  }
  auto op = [&] {
    auto r = Ctl({"token", "create", "--name", "ops", "--role", "operator"});
    EXPECT_EQ(r.code, 0) << Describe(r);
    return WriteToken("ops.token", r.out.substr(0, r.out.find('\n')));
  }();
  ExpectExit(CtlWith(op, {"export", "--with-templates"}), 4, "admin");

  const auto file = daemon_.dir() / "site.json";
  auto r = Ctl({"export", "--with-templates", "--output", file.string()});
  ASSERT_EQ(r.code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("1203 templates"));
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".partial"));
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const json j = json::parse(ReadFileForTest(file));
  ASSERT_EQ(j["templates"].size(), values.size());
  std::vector<bool> seen(values.size());
  for (const auto& t : j["templates"]) {
    EXPECT_EQ(t["user"], "alice");
    const auto v = t["values"].get<std::vector<float>>();
    ASSERT_EQ(v.size(), 128u);
    const auto i = static_cast<size_t>(v[0]);
    ASSERT_LT(i, values.size());
    EXPECT_EQ(v, values[i]) << "template " << i << " does not round-trip";
    seen[i] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 1203);
  // Audited, with the count.
  r = Ctl({"audit", "list", "--action", "template.export", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  const json audit = ParseJson(r)["audit"];
  ASSERT_EQ(audit.size(), 2u) << audit.dump();
  EXPECT_EQ(audit[0]["outcome"], "ok");
  EXPECT_EQ(audit[0]["details"]["templates"], 1203);
  EXPECT_EQ(audit[1]["outcome"], "denied");
}

}  // namespace
}  // namespace facegate::testing
