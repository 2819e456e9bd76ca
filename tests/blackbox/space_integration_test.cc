// Black-box: the Salto Space integration of the real facegated against the SHIP simulator
// (both separate processes, real TLS on loopback). The integration's status follows what
// Space does (no_status, unauthorized, connected, disconnected and back), and the sync puts
// Space's users in the daemon's store, read-only in the admin API. Behind a fault proxy
// (tools/faultproxy) on the link, a peer that resets, hangs or cuts its answers short is
// "disconnected" with a reason, and the integration recovers when the link does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "blackbox/admin_fixture.h"
#include "faultproxy/fault_proxy.h"
#include "testing/ship_sim_process.h"
#include "testing/tls_client.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr const char* kSpaceKey = "space-integration-key-42";

constexpr const char* kData = R"({
  "doors": [{"ext_door_id": "D1", "name": "Lobby"}],
  "groups": [{"ext_group_id": "G1", "name": "Staff", "doors": [{"door": "D1"}]}],
  "users": [{"ext_user_id": "E1", "first_name": "Ada", "groups": ["G1"]},
            {"ext_user_id": "E2", "first_name": "Bob", "banned": true}]
})";

class SpaceIntegrationTest : public AdminApiTest {
 protected:
  // Polls the integration until `want` holds (or 30 s pass: a bound, not a timing claim).
  json WaitFor(const std::function<bool(const json&)>& want, const std::string& what) {
    json last;
    for (int i = 0; i < 300; ++i) {
      ApiReply r = admin_->Get("/api/v1/integrations/space");
      last = r.json;
      if (r.status == 200 && want(r.json)) return r.json;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the integration never became " << what << "; last: " << last.dump();
    return last;
  }
  json WaitForStatus(const std::string& status) {
    return WaitFor([&](const json& j) { return j.value("status", "") == status; }, status);
  }
};

TEST_F(SpaceIntegrationTest, StatusFollowsSpaceAndTheSyncLandsInTheStore) {
  SimProcess sim(kData, kSpaceKey);
  StartDaemon();
  ApiReply r = admin_->Get("/api/v1/integrations/space");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["status"], "no_status");

  const std::string url = "https://127.0.0.1:" + std::to_string(sim.https_port()) + "/";
  json settings = {{"url", url},
                   {"api_key", "not-the-key"},
                   {"pin_sha256", sim.fingerprint()},
                   {"probe_interval_s", 1},
                   {"sync_interval_s", 3600}};
  r = admin_->Put("/api/v1/integrations/space", {{"enabled", true}, {"settings", settings}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["settings"]["api_key"], "(set)");  // never answered back
  json j = WaitForStatus("unauthorized");
  EXPECT_THAT(j.value("last_error", ""), HasSubstr("refused the SHIP API key"));

  // The right key: connected, and Space's users are the daemon's, owned by the sync.
  r = admin_->Put("/api/v1/integrations/space", {{"settings", {{"api_key", kSpaceKey}}}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  WaitForStatus("connected");
  json users;
  for (int i = 0; i < 100; ++i) {
    users = admin_->Get("/api/v1/users?source=ship").json;
    if (users["items"].size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(users["items"].size(), 2u) << users.dump();
  // The last sync, as the admin sees it.
  j = WaitFor(
      [](const json& i) {
        const json d = i.value("details", json());
        return d.is_object() && d.value("last_sync", json()).is_object();
      },
      "synced");
  EXPECT_GE(j["details"]["failed_syncs"], 1) << "the sync with the wrong key";
  EXPECT_EQ(j["details"]["last_sync"]["users_read"], 2) << j.dump();
  EXPECT_EQ(j["details"]["last_sync"]["doors_read"], 1) << j.dump();
  EXPECT_TRUE(j["details"]["last_sync_at"].is_string()) << j.dump();
  EXPECT_TRUE(j["details"]["audit"].is_object()) << j.dump();
  r = admin_->Get("/api/v1/users/E2");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["banned"], true);
  EXPECT_EQ(r.json["source"], "ship");
  EXPECT_EQ(admin_->Get("/api/v1/doors/D1").json["source"], "ship");

  // "Sync now": another full read of Space.
  const int reads = sim.Control("GET", "/stats")["requests"].value("SaltoDBUserList.Read", 0);
  r = admin_->Post("/api/v1/integrations/space/sync", json::object());
  ASSERT_EQ(r.status, 202) << Describe(r);
  bool synced_again = false;
  for (int i = 0; i < 100 && !synced_again; ++i) {
    synced_again =
        sim.Control("GET", "/stats")["requests"].value("SaltoDBUserList.Read", 0) > reads;
    if (!synced_again) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(synced_again) << "sync now did not read Space";

  // A new key: shown once, unauthorized until Space has it, then connected.
  r = admin_->Post("/api/v1/integrations/space/reset-key", json::object());
  ASSERT_EQ(r.status, 200) << Describe(r);
  const std::string new_key = r.json.value("api_key", "");
  ASSERT_EQ(new_key.size(), 43u);
  WaitForStatus("unauthorized");
  sim.Control("POST", "/key", {{"api_key", new_key}});
  WaitForStatus("connected");

  // Space calls Facegate (POST /api/v1/ship on the admin listener) with the same key.
  auto ship_call = [&](const std::string& key, const std::string& xml) {
    auto client = daemon_.Connect(daemon_.admin_port());
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    HttpReply none;
    if (!client.ok()) return none;
    auto reply = (*client)->Request(
        "POST", "/api/v1/ship", xml,
        {{"Content-Type", "application/vnd.saltosystems.ship.v1+xml"}, {"Salto-SHIP-Key", key}});
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    return reply.ok() ? *reply : none;
  };
  const std::string get_info =
      "<RequestCall><RequestName>GetInfo</RequestName><Params/></RequestCall>";
  HttpReply inbound = ship_call(new_key, get_info);
  EXPECT_EQ(inbound.status, 200) << inbound.body;
  EXPECT_THAT(inbound.body, HasSubstr("<ProtocolID>SHIP</ProtocolID>"));
  EXPECT_EQ(ship_call("wrong", get_info).status, 401);
  inbound = ship_call(new_key, "<RequestCall><RequestName>Bogus</RequestName></RequestCall>");
  EXPECT_THAT(inbound.body, HasSubstr("<Code>502</Code>"));
  inbound = ship_call(new_key, "<RequestCall><RequestName>");
  EXPECT_THAT(inbound.body, HasSubstr("<Code>501</Code>"));
  const int before = sim.Control("GET", "/stats")["requests"].value("SaltoDBUserList.Read", 0);
  inbound = ship_call(new_key,
                      "<RequestCall><RequestName>UserChanged</RequestName><Params><ExtUserID>E1"
                      "</ExtUserID></Params></RequestCall>");
  EXPECT_EQ(inbound.status, 200) << inbound.body;
  bool resynced = false;
  for (int i = 0; i < 100 && !resynced; ++i) {
    resynced = sim.Control("GET", "/stats")["requests"].value("SaltoDBUserList.Read", 0) > before;
    if (!resynced) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(resynced) << "Space's user-changed call did not bring a sync";

  // Settings that cannot work are refused when saved, each named.
  r = admin_->Put("/api/v1/integrations/space",
                  {{"settings", {{"url", "ftp://space"}, {"probe_interval_s", 0}}}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("settings.url")) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("settings.probe_interval_s")) << Describe(r);

  // Space goes down: disconnected; back: connected again.
  sim.Fault({{"mode", "down"}, {"seconds", 3}});
  j = WaitForStatus("disconnected");
  EXPECT_FALSE(j.value("last_error", "").empty());
  WaitForStatus("connected");

  // Without a way to verify Space: refused when saved; disabled, no_status and the synced
  // records stay.
  r = admin_->Put("/api/v1/integrations/space", {{"settings", {{"pin_sha256", nullptr}}}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_THAT(r.body, HasSubstr("pin_sha256"));
  r = admin_->Put("/api/v1/integrations/space", {{"enabled", false}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  WaitForStatus("no_status");
  EXPECT_EQ(admin_->Get("/api/v1/users?source=ship").json["items"].size(), 2u);
}

// Space reached through a fault proxy: a reset, a peer that hangs (each probe times out
// at request_timeout_ms) and answers cut short each make the integration "disconnected"
// with its reason, the daemon keeps serving, and every time the link heals it is
// "connected" again without anyone touching it.
TEST_F(SpaceIntegrationTest, AFaultyLinkToSpaceIsDisconnectedWithAReasonAndRecovers) {
  SimProcess sim(kData, kSpaceKey);
  faultproxy::FaultProxy link("127.0.0.1", sim.https_port());
  ASSERT_TRUE(link.Start().ok());
  StartDaemon();
  const std::string url = "https://127.0.0.1:" + std::to_string(link.port()) + "/";
  json settings = {{"url", url},
                   {"api_key", kSpaceKey},
                   {"pin_sha256", sim.fingerprint()},
                   {"probe_interval_s", 1},
                   {"request_timeout_ms", 1000},
                   {"sync_interval_s", 3600}};
  ApiReply r =
      admin_->Put("/api/v1/integrations/space", {{"enabled", true}, {"settings", settings}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  WaitForStatus("connected");

  // Each fault with the words its reason must have: what happened, not just "failed" (a
  // reset seen on a kept-alive connection reads as the server closing it).
  const std::pair<const char*, ::testing::Matcher<std::string>> faults[] = {
      {"reset", ::testing::AnyOf(HasSubstr("reset"), HasSubstr("closed the connection"))},
      {"blackhole", HasSubstr("deadline")},
      {"truncate 60", HasSubstr("truncated")}};
  for (const auto& [fault, reason] : faults) {
    SCOPED_TRACE(fault);
    link.SetFault(*faultproxy::ParseFault(fault));
    link.ResetAll();  // the client's kept-alive connection goes too
    const json down = WaitForStatus("disconnected");
    EXPECT_THAT(down.value("last_error", ""), reason) << down.dump();
    std::printf("fault %s: %s\n", fault, down.value("last_error", "").c_str());  // for the log
    ApiReply health = admin_->Get("/healthz");
    EXPECT_EQ(health.status, 200) << "the daemon keeps serving: " << Describe(health);
    link.SetFault({});
    WaitForStatus("connected");
  }
  EXPECT_GT(link.counts().connections, 3u);
}

}  // namespace
}  // namespace facegate::testing
