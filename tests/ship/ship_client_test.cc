// The SHIP transport and client against the simulator (tools/ship-sim) run as a separate
// process, over real TLS and STP on loopback: verification by CA and by pin (and the
// messages that make pinning easy), the key, every fault the simulator plays, an opening
// never sent twice, reconnection after Space was down, and a full sync of 10,000 users into
// a real store through paging, with Space's edits showing up at the next sync.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "facegate/core/files.h"
#include "facegate/net/pki.h"
#include "facegate/ship/client.h"
#include "facegate/ship/sync.h"
#include "facegate/ship/transport.h"
#include "facegate/store/keyring.h"
#include "facegate/store/store.h"
#include "testing/fake_clock.h"
#include "testing/process.h"
#include "testing/ship_sim_process.h"
#include "testing/temp_dir.h"
#include "testing/tls_client.h"

namespace facegate::ship {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "ship-test-key-0123456789";

constexpr const char* kData = R"({
  "doors": [{"ext_door_id": "D1", "name": "Lobby"}, {"ext_door_id": "D2", "name": "Lab"},
            {"ext_door_id": "D9", "name": "Offline"}],
  "door_errors": {"D9": 100},
  "groups": [{"ext_group_id": "G1", "name": "Staff", "doors": [{"door": "D1", "timezone": "TZ1"}]}],
  "timezones": [{"ext_timezone_table_id": "TZ1", "name": "Office",
                 "intervals": [{"start": "08:00", "end": "18:00", "days": [1, 2, 3, 4, 5]}]}],
  "users": [{"ext_user_id": "E1", "first_name": "M\u00fcller", "last_name": "Ada",
             "activation": "2026-01-01T00:00:00", "doors": [{"door": "D2"}], "groups": ["G1"]}]
})";

// The simulator with this file's data and key.
class Sim : public facegate::testing::SimProcess {
 public:
  explicit Sim(const std::vector<std::string>& extra = {}) : SimProcess(kData, kKey, extra) {}

  TransportOptions Https() const {
    TransportOptions o;
    o.host = "127.0.0.1";
    o.port = https_port();
    o.api_key = kKey;
    o.ca_file = ca_file();
    return o;
  }
};

std::unique_ptr<Client> MakeClient(TransportOptions o, int attempts = 1) {
  auto t = MakeTransport(std::move(o));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return nullptr;
  ClientOptions c;
  c.read_attempts = attempts;
  c.request_timeout = std::chrono::milliseconds(3000);
  c.retry_pause = std::chrono::milliseconds(100);
  return std::make_unique<Client>(std::move(t).value(), c);
}

TEST(ShipTransportTest, OptionsAreCheckedAndVerificationIsNeverSkipped) {
  TransportOptions o;
  o.host = "127.0.0.1";
  o.api_key = kKey;
  auto t = MakeTransport(o);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("set pin_sha256"));
  o.pin_sha256 = "12:34";
  t = MakeTransport(o);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("32 bytes"));
  o.pin_sha256.clear();
  o.api_key.clear();
  o.ca_file = "/nonexistent";
  EXPECT_THAT(MakeTransport(o).status().message(), HasSubstr("api_key"));
  EXPECT_TRUE(NormalizeFingerprint(std::string(32, 'a') + std::string(32, 'B')).ok());
}

class ShipClientTest : public ::testing::Test {
 protected:
  Sim sim_;
};

TEST_F(ShipClientTest, GetInfoWithTheCaOrThePinAndMessagesThatMakePinningEasy) {
  auto client = MakeClient(sim_.Https());
  ASSERT_TRUE(client);
  auto info = client->GetInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->protocol_id, "SHIP");
  EXPECT_TRUE(info->date_time.has_value());

  TransportOptions pinned = sim_.Https();
  pinned.ca_file.clear();
  pinned.pin_sha256 = sim_.fingerprint();
  ASSERT_TRUE(MakeClient(pinned)->GetInfo().ok());

  // Another certificate pinned: refused, naming the one the server showed.
  pinned.pin_sha256 = std::string(64, 'A');
  info = MakeClient(pinned)->GetInfo();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(info.status().message(), HasSubstr("fingerprint is " + sim_.fingerprint()));

  // A CA that did not sign the server's certificate: refused, with the pin to use instead.
  facegate::testing::TempDir other;
  facegate::testing::FakeClock clock;
  auto ca = net::LocalCa::OpenOrCreate(other.path(), clock, std::chrono::hours(24 * 365));
  ASSERT_TRUE(ca.ok());
  TransportOptions wrong_ca = sim_.Https();
  wrong_ca.ca_file = other / "ca.crt";
  info = MakeClient(wrong_ca)->GetInfo();
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.status().message(), HasSubstr("not trusted"));
  EXPECT_THAT(info.status().message(), HasSubstr("pin_sha256 " + sim_.fingerprint()));
}

TEST_F(ShipClientTest, AWrongKeyIsUnauthorized) {
  TransportOptions o = sim_.Https();
  o.api_key = "wrong";
  auto info = MakeClient(o, 3)->GetInfo();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(info.status().message(), HasSubstr("refused the SHIP API key (HTTP 401)"));
  // Not retried: a wrong key stays wrong.
  EXPECT_EQ(sim_.Control("GET", "/stats")["unauthorized"], 1);
}

TEST_F(ShipClientTest, OpeningsAnswerPerDoorAndAreNeverSentTwice) {
  auto client = MakeClient(sim_.Https(), 3);
  auto opened = client->OpenDoors({"D1", "NOPE", "D9"}, Clock::now() + std::chrono::seconds(2));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->size(), 3u);
  EXPECT_EQ((*opened)[0].error_code, 0);
  EXPECT_EQ((*opened)[1].error_code, error_code::kDoorNotFound);
  EXPECT_EQ((*opened)[1].message, "door not found");
  EXPECT_EQ((*opened)[2].error_code, error_code::kDoorNotFound);
  EXPECT_EQ(sim_.Openings(), 3u);
  sim_.Control("DELETE", "/openings");

  // Space takes the request but answers too late: the deadline passes, and the opening is
  // not sent again although reads would be retried three times.
  sim_.Fault({{"mode", "hang"}, {"only", "OnlineDoor.Open"}});
  opened = client->OpenDoors({"D1"}, Clock::now() + std::chrono::milliseconds(500));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kDeadlineExceeded);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(sim_.Openings(), 1u) << "a timed-out opening was sent again";

  // The connection cut after the request: unavailable, not retried either.
  sim_.Fault({{"mode", "drop"}, {"only", "OnlineDoor.Open"}});
  opened = client->OpenDoors({"D1"}, Clock::now() + std::chrono::seconds(2));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(sim_.Openings(), 2u);
  // Meanwhile reads still work (the fault is for openings only).
  EXPECT_TRUE(client->GetInfo().ok());
}

TEST_F(ShipClientTest, BrokenAnswersGetSpecificErrors) {
  TransportOptions o = sim_.Https();
  o.max_response_bytes = 1 << 20;
  auto client = MakeClient(o);
  struct Case {
    json fault;
    StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {{{"mode", "malformed"}}, StatusCode::kInvalidArgument, "bad XML"},
      {{{"mode", "wrong_content_type"}}, StatusCode::kInvalidArgument, "Content-Type 'text/html'"},
      {{{"mode", "oversized"}, {"bytes", 2 << 20}},
       StatusCode::kInvalidArgument,
       "answered more than 1048576 bytes"},
      {{{"mode", "exception"}, {"code", 502}},
       StatusCode::kInvalidArgument,
       "unknown request (code 502)"},
      {{{"mode", "exception"}, {"code", 200}}, StatusCode::kNotFound, "user not found"},
      {{{"mode", "drop"}}, StatusCode::kUnavailable, "closed the connection"},
  };
  for (const auto& c : cases) {
    sim_.Fault(c.fault);
    auto info = client->GetInfo();
    ASSERT_FALSE(info.ok()) << c.fault.dump();
    EXPECT_EQ(info.status().code(), c.code) << c.fault.dump() << ": " << info.status().ToString();
    EXPECT_THAT(info.status().message(), HasSubstr(c.message)) << c.fault.dump();
  }
  sim_.Fault({{"mode", "none"}});
  EXPECT_TRUE(client->GetInfo().ok());
}

TEST_F(ShipClientTest, SpaceDownThenBackReconnects) {
  auto client = MakeClient(sim_.Https());
  ASSERT_TRUE(client->GetInfo().ok());  // a pooled connection now exists
  sim_.Fault({{"mode", "down"}, {"seconds", 2}});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto info = client->GetInfo();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnavailable) << info.status().ToString();
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    back = client->GetInfo().ok();
  }
  EXPECT_TRUE(back) << "Space came back but the client did not reconnect";
}

TEST_F(ShipClientTest, StpOverTls) {
  TransportOptions o = sim_.Https();
  o.kind = TransportOptions::Kind::kStp;
  o.port = sim_.stp_port();
  auto client = MakeClient(o);
  for (int i = 0; i < 3; ++i) {  // several messages on one connection
    auto info = client->GetInfo();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
  }
  auto doors = client->ReadDoors();
  ASSERT_TRUE(doors.ok()) << doors.status().ToString();
  EXPECT_EQ(doors->size(), 3u);
  sim_.Fault({{"mode", "malformed"}});
  EXPECT_EQ(client->GetInfo().status().code(), StatusCode::kInvalidArgument);
}

TEST(ShipStpPlainTest, PlainTcpWhenConfiguredSo) {
  Sim sim({"--stp-plain"});
  TransportOptions o;
  o.kind = TransportOptions::Kind::kStp;
  o.stp_tls = false;
  o.host = "127.0.0.1";
  o.port = sim.stp_port();
  auto client = MakeClient(o);
  auto info = client->GetInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(client->Describe().rfind("stp://127.0.0.1:", 0), 0u);
}

TEST_F(ShipClientTest, FullSyncOfTenThousandUsersAndSpaceEditsAtTheNextSync) {
  sim_.Control("POST", "/users/generate",
               {{"count", 10000},
                {"prefix", "U"},
                {"doors", {{{"door", "D2"}, {"timezone", "TZ1"}}}},
                {"groups", {"G1"}}});
  facegate::testing::TempDir dir;
  store::StoreOptions so;
  so.db_file = dir / "facegate.db";
  so.key_dir = dir / "keys";
  ASSERT_TRUE(store::Keyring::EnsureFirstKey(so.key_dir).ok());
  facegate::testing::FakeClock clock;
  auto store = store::Store::Open(so, clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  ClientOptions co;
  co.page_size = 500;
  auto transport = MakeTransport(sim_.Https());
  ASSERT_TRUE(transport.ok());
  Client client(std::move(transport).value(), co);
  auto r = RunFullSync(client, **store, store::RemovedShipUser::kErase, SystemClock::Instance());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users_read, 10001);
  EXPECT_EQ(r->report.users_added, 10001);
  EXPECT_EQ(r->report.rights, 10001 + 1);  // each user's D2, E1's D2, G1's D1
  EXPECT_EQ(r->report.skipped, 0) << r->report.skipped_examples[0];
  auto stats = sim_.Control("GET", "/stats");
  EXPECT_GE(stats["requests"]["SaltoDBUserList.Read"].get<int>(), 20);  // paged, 500 a page
  auto ada = (*store)->FindUserByExternalId("E1");
  ASSERT_TRUE(ada.ok());
  EXPECT_EQ(ada->first_name, "M\xC3\xBCller");
  EXPECT_EQ(ada->source, store::RecordSource::kShip);
  ASSERT_TRUE(ada->valid_from.has_value());

  // Edits in Space: a user banned, one removed; the next sync has them.
  sim_.Control("PUT", "/users/U00001",
               {{"first_name", "Ban"}, {"banned", true}, {"doors", json::array()}});
  sim_.Control("DELETE", "/users/U00002");
  r = RunFullSync(client, **store, store::RemovedShipUser::kErase, SystemClock::Instance());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->report.users_removed, 1);
  EXPECT_TRUE((*store)->FindUserByExternalId("U00001")->banned);
  EXPECT_EQ((*store)->FindUserByExternalId("U00002").status().code(), StatusCode::kNotFound);

  // Space fails half-way through the users: nothing changes in the store.
  sim_.Control("DELETE", "/users/U00003");
  sim_.Fault({{"mode", "exception"}, {"code", 500}, {"only", "SaltoDBUserList.Read"}});
  r = RunFullSync(client, **store, store::RemovedShipUser::kErase, SystemClock::Instance());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("reading the users"));
  EXPECT_TRUE((*store)->FindUserByExternalId("U00003").ok()) << "a failed sync removed a user";
}

}  // namespace
}  // namespace facegate::ship
