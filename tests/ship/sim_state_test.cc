// The SHIP simulator's request handling (tools/ship-sim/sim_state.h), without sockets: paging,
// Exceptions, door openings and the audit trail, generated users, faults, the data file, and
// the real ship::Client reading it all back (so the simulator and the client agree).
#include "ship-sim/sim_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "facegate/ship/client.h"
#include "facegate/ship/message.h"
#include "facegate/ship/transport.h"
#include "ship-sim/sim_server.h"
#include "testing/fake_clock.h"
#include "testing/temp_dir.h"

namespace facegate::shipsim {
namespace {

using ship::Element;
using ship::RequestCall;
using ship::RequestResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kData = R"({
  "users": [
    {"ext_user_id": "E3", "first_name": "Cy", "last_name": "C"},
    {"ext_user_id": "E1", "first_name": "Ada", "last_name": "L",
     "activation": "2026-01-01T00:00:00", "expiration": "2027-01-01T00:00:00",
     "banned": false, "doors": [{"door": "D1", "timezone": "TZ1"}], "groups": ["G1"]},
    {"ext_user_id": "E2", "first_name": "Bo", "last_name": "B", "activation": null,
     "expiration": null, "banned": true},
    {"ext_user_id": "E5"},
    {"ext_user_id": "E4"}
  ],
  "doors": [{"ext_door_id": "D1", "name": "Lobby"}, {"ext_door_id": "D2", "name": "Lab"}],
  "groups": [{"ext_group_id": "G1", "name": "Staff",
              "doors": [{"door": "D1", "timezone": ""}, {"door": "D2", "timezone": "TZ1"}]}],
  "timezones": [{"ext_timezone_table_id": "TZ1", "name": "Office",
                 "intervals": [{"start": "08:00", "end": "18:00", "days": [1, 2, 3, 4, 5]},
                               {"start": "10:00", "end": "24:00", "days": [6, 8]}]}],
  "door_errors": {"D2": 7, "D9": 100}
})";

SimData Data() {
  auto data = ParseSimData(kData, "test.json");
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return data.ok() ? std::move(data).value() : SimData{};
}

// One request through the simulator, its answer decoded.
RequestResponse Ask(SimState& sim, const RequestCall& call, std::string_view transport = "https") {
  const std::string answer = sim.Answer(sim.ReadRequest(ship::Encode(call)), transport);
  auto decoded = ship::DecodeRequestResponse(answer);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString() << "\n" << answer;
  return decoded.ok() ? std::move(decoded).value() : RequestResponse{};
}

RequestCall ListRead(std::string name, std::vector<std::pair<std::string, std::string>> params) {
  RequestCall call{std::move(name), Element("Params")};
  for (auto& [k, v] : params) call.params.Add(k, v);
  return call;
}

std::vector<std::string> Ids(const RequestResponse& r, std::string_view list, std::string_view item,
                             std::string_view key) {
  std::vector<std::string> ids;
  const Element* l = r.params.Find(list);
  if (!l) return ids;
  for (const Element* e : l->FindAll(item)) ids.emplace_back(e->TextOf(key));
  return ids;
}

class SimStateTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  SimState sim_{Data(), clock_};
};

// ---------------------------------------------------------------- paging

TEST_F(SimStateTest, UserPagesStartStrictlyAfterTheIdAndEndWithEof) {
  auto page = Ask(sim_, ListRead("SaltoDBUserList.Read", {{"MaxCount", "2"}}));
  EXPECT_THAT(Ids(page, "SaltoDBUserList", "SaltoDBUser", "ExtUserID"), ElementsAre("E1", "E2"));
  EXPECT_EQ(page.params.TextOf("EOF"), "0");

  page = Ask(
      sim_, ListRead("SaltoDBUserList.Read", {{"MaxCount", "2"}, {"StartingFromExtUserID", "E2"}}));
  EXPECT_THAT(Ids(page, "SaltoDBUserList", "SaltoDBUser", "ExtUserID"), ElementsAre("E3", "E4"));
  EXPECT_EQ(page.params.TextOf("EOF"), "0");

  page = Ask(
      sim_, ListRead("SaltoDBUserList.Read", {{"MaxCount", "2"}, {"StartingFromExtUserID", "E4"}}));
  EXPECT_THAT(Ids(page, "SaltoDBUserList", "SaltoDBUser", "ExtUserID"), ElementsAre("E5"));
  EXPECT_EQ(page.params.TextOf("EOF"), "1");

  // An id that is not there: the page starts at the next one.
  page = Ask(sim_, ListRead("SaltoDBUserList.Read", {{"StartingFromExtUserID", "E2a"}}));
  EXPECT_THAT(Ids(page, "SaltoDBUserList", "SaltoDBUser", "ExtUserID"),
              ElementsAre("E3", "E4", "E5"));
  EXPECT_EQ(page.params.TextOf("EOF"), "1");

  page = Ask(sim_, ListRead("SaltoDBUserList.Read", {{"StartingFromExtUserID", "E5"}}));
  EXPECT_TRUE(Ids(page, "SaltoDBUserList", "SaltoDBUser", "ExtUserID").empty());
  EXPECT_EQ(page.params.TextOf("EOF"), "1");
}

TEST_F(SimStateTest, UsersAreWrittenAsTheClientParsesThem) {
  auto page = Ask(sim_, ListRead("SaltoDBUserList.Read", {{"MaxCount", "1"}}));
  const Element* list = page.params.Find("SaltoDBUserList");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->FindAll("SaltoDBUser").size(), 1u);
  auto user = ship::ParseUser(*list->FindAll("SaltoDBUser")[0]);
  ASSERT_TRUE(user.ok()) << user.status().ToString();
  EXPECT_EQ(user->ext_user_id, "E1");
  EXPECT_EQ(user->first_name, "Ada");
  ASSERT_TRUE(user->activation.has_value());
  EXPECT_EQ(ship::FormatDateTime(*user->activation), "2026-01-01T00:00:00");
  ASSERT_TRUE(user->expiration.has_value());
  EXPECT_EQ(ship::FormatDateTime(*user->expiration), "2027-01-01T00:00:00");
  ASSERT_EQ(user->doors.size(), 1u);
  EXPECT_EQ(user->doors[0].ext_door_id, "D1");
  EXPECT_EQ(user->doors[0].ext_timezone_table_id, "TZ1");
  EXPECT_THAT(user->groups, ElementsAre("G1"));
}

TEST_F(SimStateTest, MaxCountDefaultsTo100AndIsClampedTo1Through1000) {
  sim_.GenerateUsers({.count = 1500, .prefix = "U"});  // + the 5 E users, after them
  auto ids = [&](std::string max_count) {
    std::vector<std::pair<std::string, std::string>> p;
    if (!max_count.empty()) p.push_back({"MaxCount", max_count});
    return Ids(Ask(sim_, ListRead("SaltoDBUserList.Read", p)), "SaltoDBUserList", "SaltoDBUser",
               "ExtUserID");
  };
  EXPECT_EQ(ids("").size(), 100u);
  EXPECT_EQ(ids("0").size(), 1u);
  EXPECT_EQ(ids("-5").size(), 1u);
  EXPECT_EQ(ids("5000").size(), 1000u);
}

TEST_F(SimStateTest, DoorsGroupsAndTimezoneTablesArePagedToo) {
  auto doors = Ask(sim_, ListRead("SaltoDBDoorList.Read", {{"StartingFromExtDoorID", "D1"}}));
  EXPECT_THAT(Ids(doors, "SaltoDBDoorList", "SaltoDBDoor", "ExtDoorID"), ElementsAre("D2"));
  EXPECT_EQ(doors.params.Find("SaltoDBDoorList")->Find("SaltoDBDoor")->TextOf("Name"), "Lab");
  EXPECT_EQ(doors.params.TextOf("EOF"), "1");

  auto groups = Ask(sim_, ListRead("SaltoDBGroupList.Read", {}));
  const Element* group = groups.params.Find("SaltoDBGroupList")->Find("SaltoDBGroup");
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(group->TextOf("Name"), "Staff");
  const Element* perms = group->Find("SaltoDB.AccessPermissionList.Group_Door");
  ASSERT_NE(perms, nullptr);
  auto list = perms->FindAll("SaltoDB.AccessPermission.Group_Door");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]->TextOf("ExtDoorID"), "D2");
  EXPECT_EQ(list[1]->TextOf("ExtTimezoneTableID"), "TZ1");

  auto tables = Ask(
      sim_, ListRead("SaltoDBTimezoneTableList.Read", {{"StartingFromExtTimezoneTableID", "TZ0"}}));
  const Element* t = tables.params.Find("SaltoDBTimezoneTableList")->Find("SaltoDBTimezoneTable");
  ASSERT_NE(t, nullptr);
  auto table = ship::ParseTimezoneTable(*t);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_EQ(table->intervals.size(), 2u);
  EXPECT_EQ(table->intervals[0].start_minute, 8 * 60);
  EXPECT_EQ(table->intervals[0].end_minute, 18 * 60);
  EXPECT_THAT(table->intervals[0].days, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(table->intervals[1].end_minute, 1440);
  EXPECT_THAT(table->intervals[1].days, ElementsAre(6, 8));
}

// ---------------------------------------------------------------- Exceptions

TEST_F(SimStateTest, GetInfoSaysShip123AndTheLocalTime) {
  auto info = Ask(sim_, ListRead("GetInfo", {}));
  EXPECT_FALSE(info.exception.has_value());
  EXPECT_EQ(info.params.TextOf("ProtocolID"), "SHIP");
  EXPECT_EQ(info.params.TextOf("ProtocolVersion"), "1.23");
  EXPECT_EQ(info.params.TextOf("DateTime"), LocalDateTimeText(clock_.Now()));
  EXPECT_TRUE(ship::ParseDateTime(info.params.TextOf("DateTime")).has_value());
}

TEST_F(SimStateTest, UnknownRequestIsException502) {
  auto r = Ask(sim_, ListRead("SaltoDBUser.Delete", {}));
  EXPECT_EQ(r.name, "SaltoDBUser.Delete");
  ASSERT_TRUE(r.exception.has_value());
  EXPECT_EQ(r.exception->code, 502);
  EXPECT_EQ(r.exception->message, "Unknown request");
}

TEST_F(SimStateTest, XmlThatCannotBeReadIsException501) {
  auto answer = [&](std::string_view xml) {
    auto r = ship::DecodeRequestResponse(sim_.Answer(sim_.ReadRequest(xml), "https"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RequestResponse{};
  };
  auto r = answer("<RequestCall><RequestName>GetInfo</RequestName><Params>");
  EXPECT_EQ(r.name, "GetInfo");  // still told from the broken XML
  ASSERT_TRUE(r.exception.has_value());
  EXPECT_EQ(r.exception->code, 501);

  r = answer("not xml at all");
  EXPECT_EQ(r.name, "Unknown");
  ASSERT_TRUE(r.exception.has_value());
  EXPECT_EQ(r.exception->code, 501);
}

TEST_F(SimStateTest, BadParametersAreException12) {
  for (const RequestCall& call :
       {ListRead("SaltoDBUserList.Read", {{"MaxCount", "many"}}),
        ListRead("SaltoDBAuditTrail.Read", {{"StartingFromEventID", "x"}}),
        ListRead("OnlineDoor.Open", {}), ListRead("OnlineDoor.Open", {{"ExtDoorIDList", ""}})}) {
    auto r = Ask(sim_, call);
    ASSERT_TRUE(r.exception.has_value()) << call.name;
    EXPECT_EQ(r.exception->code, 12) << call.name;
  }
  EXPECT_TRUE(sim_.openings().empty());
}

// ---------------------------------------------------------------- door openings

RequestCall OpenCall(const std::vector<std::string>& doors) {
  RequestCall call{"OnlineDoor.Open", Element("Params")};
  Element& list = call.params.Add("ExtDoorIDList");
  for (const auto& d : doors) list.Add("ExtDoorID", d);
  return call;
}

TEST_F(SimStateTest, OnlineDoorOpenAnswersPerDoorAndRecordsEveryDoorAsked) {
  auto r = Ask(sim_, OpenCall({"D1", "D2", "DX", "D9"}), "stp");
  ASSERT_FALSE(r.exception.has_value());
  const Element* list = r.params.Find("ExtDoorIDList");
  ASSERT_NE(list, nullptr);
  auto doors = list->FindAll("ExtDoor");
  ASSERT_EQ(doors.size(), 4u);
  std::vector<std::pair<std::string, std::string>> answers;
  for (const Element* d : doors)
    answers.emplace_back(d->TextOf("ExtDoorID"), d->TextOf("ErrorCode"));
  EXPECT_THAT(answers, ElementsAre(std::pair<std::string, std::string>{"D1", "0"},
                                   std::pair<std::string, std::string>{"D2", "7"},
                                   std::pair<std::string, std::string>{"DX", "100"},
                                   std::pair<std::string, std::string>{"D9", "100"}));

  const auto openings = sim_.openings();
  ASSERT_EQ(openings.size(), 4u);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
          .count();
  for (const Opening& o : openings) {
    EXPECT_EQ(o.at_ms, now_ms);
    EXPECT_EQ(o.transport, "stp");
  }
  EXPECT_EQ(openings[0].door, "D1");
  EXPECT_EQ(openings[0].error_code, 0);
  EXPECT_EQ(openings[0].event_id, 1);
  EXPECT_EQ(openings[1].error_code, 7);
  EXPECT_EQ(openings[1].event_id, 0);  // did not open: not in the audit trail

  auto json = sim_.OpeningsJson();
  ASSERT_EQ(json["openings"].size(), 4u);
  EXPECT_EQ(json["openings"][0]["door"], "D1");
  EXPECT_EQ(json["openings"][0]["transport"], "stp");
  EXPECT_EQ(json["openings"][0]["at_ms"], now_ms);
  sim_.ClearOpenings();
  EXPECT_TRUE(sim_.openings().empty());
}

TEST_F(SimStateTest, AuditTrailListsTheDoorsOpenedFromTheEventAsked) {
  Ask(sim_, OpenCall({"D1"}));
  Ask(sim_, OpenCall({"DX"}));  // error: no event
  clock_.Advance(std::chrono::seconds(5));
  Ask(sim_, OpenCall({"D1"}));
  Ask(sim_, OpenCall({"D1"}));

  auto trail = [&](std::string from, std::string max) {
    return Ask(sim_, ListRead("SaltoDBAuditTrail.Read",
                              {{"MaxCount", max}, {"StartingFromEventID", from}}));
  };
  auto r = trail("1", "2");
  EXPECT_THAT(Ids(r, "SaltoDBAuditTrail", "SaltoDBAuditTrailEvent", "EventID"),
              ElementsAre("1", "2"));
  EXPECT_EQ(r.params.TextOf("EOF"), "0");
  const Element* first = r.params.Find("SaltoDBAuditTrail")->Find("SaltoDBAuditTrailEvent");
  EXPECT_EQ(first->TextOf("OperationID"), "17");
  EXPECT_EQ(first->TextOf("ExtDoorID"), "D1");
  EXPECT_TRUE(ship::ParseDateTime(first->TextOf("EventDateTime")).has_value());

  r = trail("2", "100");  // inclusive
  EXPECT_THAT(Ids(r, "SaltoDBAuditTrail", "SaltoDBAuditTrailEvent", "EventID"),
              ElementsAre("2", "3"));
  EXPECT_EQ(r.params.TextOf("EOF"), "1");
}

// ---------------------------------------------------------------- generated users

TEST_F(SimStateTest, GeneratedUsersAreZeroPaddedSoTheyPageInOrder) {
  UserGenerateSpec spec{
      .count = 10000, .prefix = "U", .first = 1, .doors = {{"D1", ""}}, .groups = {"G1"}};
  sim_.GenerateUsers(spec);
  EXPECT_EQ(sim_.user_count(), 10005u);

  std::vector<std::string> all;
  std::string after = "E9";  // past the E users
  for (int pages = 0; pages < 20; ++pages) {
    auto r = Ask(sim_, ListRead("SaltoDBUserList.Read",
                                {{"MaxCount", "1000"}, {"StartingFromExtUserID", after}}));
    auto ids = Ids(r, "SaltoDBUserList", "SaltoDBUser", "ExtUserID");
    all.insert(all.end(), ids.begin(), ids.end());
    if (r.params.TextOf("EOF") == "1") break;
    after = ids.back();
  }
  ASSERT_EQ(all.size(), 10000u);
  EXPECT_EQ(all.front(), "U00001");
  EXPECT_EQ(all[9998], "U09999");
  EXPECT_EQ(all.back(), "U10000");
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));

  auto page = Ask(sim_, ListRead("SaltoDBUserList.Read",
                                 {{"MaxCount", "1"}, {"StartingFromExtUserID", "U00041"}}));
  auto user = ship::ParseUser(*page.params.Find("SaltoDBUserList")->Find("SaltoDBUser"));
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->ext_user_id, "U00042");
  ASSERT_EQ(user->doors.size(), 1u);
  EXPECT_EQ(user->doors[0].ext_door_id, "D1");
  EXPECT_THAT(user->groups, ElementsAre("G1"));
}

TEST(SimGenerateTest, WiderNumbersWidenEveryId) {
  SimState sim(SimData{});
  sim.GenerateUsers({.count = 3, .prefix = "P", .first = 99999});
  auto r = Ask(sim, ListRead("SaltoDBUserList.Read", {}));
  EXPECT_THAT(Ids(r, "SaltoDBUserList", "SaltoDBUser", "ExtUserID"),
              ElementsAre("P099999", "P100000", "P100001"));
}

TEST(SimGenerateTest, SpecFromJson) {
  auto spec = UserGenerateSpecFromJson(nlohmann::json::parse(
      R"({"count":10,"prefix":"X","doors":[{"door":"D1","timezone":""}],"groups":["G1"]})"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->count, 10);
  EXPECT_EQ(spec->prefix, "X");
  EXPECT_EQ(spec->first, 1);
  EXPECT_EQ(spec->doors.size(), 1u);

  auto bad = UserGenerateSpecFromJson(nlohmann::json::parse(R"({"count":0})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("generate.count"));
  bad = UserGenerateSpecFromJson(nlohmann::json::parse(R"({"prefix":"U"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("generate.count: missing"));
}

TEST_F(SimStateTest, PutAndDeleteUser) {
  auto user =
      UserFromJson(nlohmann::json::parse(R"({"ext_user_id":"E2","first_name":"New"})"), "user");
  ASSERT_TRUE(user.ok());
  sim_.PutUser(*user);
  auto r = Ask(
      sim_, ListRead("SaltoDBUserList.Read", {{"MaxCount", "1"}, {"StartingFromExtUserID", "E1"}}));
  EXPECT_EQ(r.params.Find("SaltoDBUserList")->Find("SaltoDBUser")->TextOf("FirstName"), "New");
  EXPECT_TRUE(sim_.DeleteUser("E2"));
  EXPECT_FALSE(sim_.DeleteUser("E2"));
  EXPECT_EQ(sim_.user_count(), 4u);
}

// ---------------------------------------------------------------- faults

TEST_F(SimStateTest, ExceptionFaultAnswersTheCodeWithoutActing) {
  Fault f;
  f.mode = FaultMode::kException;
  f.code = 7;
  f.only = "OnlineDoor.Open";
  sim_.SetFault(f);

  Served s = sim_.Serve(ship::Encode(OpenCall({"D1"})), "https");
  EXPECT_EQ(s.action, Served::Action::kAnswer);
  auto r = ship::DecodeRequestResponse(s.body);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->exception.has_value());
  EXPECT_EQ(r->exception->code, 7);
  EXPECT_TRUE(sim_.openings().empty());

  // `only`: other requests are answered as ever.
  s = sim_.Serve(ship::Encode(ListRead("GetInfo", {})), "https");
  r = ship::DecodeRequestResponse(s.body);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->exception.has_value());
  EXPECT_EQ(s.result, "ok");
}

TEST_F(SimStateTest, HangAndDropActBeforeWithholdingTheAnswer) {
  sim_.SetFault({.mode = FaultMode::kHang});
  Served s = sim_.Serve(ship::Encode(OpenCall({"D1"})), "https");
  EXPECT_EQ(s.action, Served::Action::kHang);
  EXPECT_EQ(sim_.openings().size(), 1u);  // the door opened; the answer never comes

  sim_.SetFault({.mode = FaultMode::kDrop});
  s = sim_.Serve(ship::Encode(OpenCall({"D1"})), "https");
  EXPECT_EQ(s.action, Served::Action::kDrop);
  EXPECT_EQ(sim_.openings().size(), 2u);

  sim_.SetFault({.mode = FaultMode::kUnauthorized});
  s = sim_.Serve(ship::Encode(OpenCall({"D1"})), "https");
  EXPECT_EQ(s.action, Served::Action::kUnauthorized);
  EXPECT_EQ(sim_.openings().size(), 2u);  // refused: nothing done
}

TEST_F(SimStateTest, AnswersSpoiledByFaults) {
  const std::string call = ship::Encode(ListRead("GetInfo", {}));
  sim_.SetFault({.mode = FaultMode::kMalformed});
  EXPECT_FALSE(ship::DecodeRequestResponse(sim_.Serve(call, "https").body).ok());

  sim_.SetFault({.mode = FaultMode::kWrongContentType});
  Served s = sim_.Serve(call, "https");
  EXPECT_TRUE(s.html);
  EXPECT_THAT(s.body, HasSubstr("<html>"));

  sim_.SetFault({.mode = FaultMode::kOversized, .bytes = 100000});
  s = sim_.Serve(call, "https");
  EXPECT_EQ(s.body.size(), 100000u);
  EXPECT_TRUE(ship::DecodeRequestResponse(s.body).ok());

  sim_.SetFault({.mode = FaultMode::kSlow, .delay = std::chrono::milliseconds(1500)});
  s = sim_.Serve(call, "https");
  EXPECT_EQ(s.delay, std::chrono::milliseconds(1500));
  EXPECT_TRUE(ship::DecodeRequestResponse(s.body).ok());

  sim_.SetFault({});
  s = sim_.Serve(call, "https");
  EXPECT_EQ(s.result, "ok");
  EXPECT_EQ(sim_.StatsJson()["requests"]["GetInfo"], 5);
}

TEST(SimFaultTest, FromJson) {
  auto f = FaultFromJson(
      nlohmann::json::parse(R"({"mode":"exception","code":12,"only":"OnlineDoor.Open"})"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->mode, FaultMode::kException);
  EXPECT_EQ(f->code, 12);
  EXPECT_TRUE(f->AppliesTo("OnlineDoor.Open"));
  EXPECT_FALSE(f->AppliesTo("GetInfo"));
  EXPECT_EQ(f->ToJson()["mode"], "exception");

  auto bad = FaultFromJson(nlohmann::json::parse(R"({"mode":"explode"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("unknown fault mode 'explode'"));
  bad = FaultFromJson(nlohmann::json::parse(R"({"mode":"slow","delay":5})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("unknown field 'delay'"));
}

// ---------------------------------------------------------------- the data file

Status DataError(const std::string& text) {
  auto data = ParseSimData(text, "bad.json");
  return data.ok() ? Status::Ok() : data.status();
}

TEST(SimDataTest, BadFilesNameTheFileAndTheField) {
  struct Case {
    std::string json, expected;
  };
  const Case cases[] = {
      {"{", "bad.json: not valid JSON"},
      {"[]", "bad.json: expected an object"},
      {R"({"user":[]})", "bad.json: unknown field 'user'"},
      {R"({"users":{}})", "bad.json: users: expected an array"},
      {R"({"users":[{"first_name":"A"}]})", "bad.json: users[0].ext_user_id: missing"},
      {R"({"users":[{"ext_user_id":"E1"},{"ext_user_id":"E1"}]})",
       "bad.json: users[1]: id 'E1' appears twice"},
      {R"({"users":[{"ext_user_id":"E1","activation":"2026-13-01T00:00:00"}]})",
       "bad.json: users[0].activation: expected yyyy-MM-ddTHH:mm:ss or null"},
      {R"({"users":[{"ext_user_id":"E1","banned":"no"}]})",
       "bad.json: users[0].banned: expected true or false"},
      {R"({"users":[{"ext_user_id":"E1","doors":[{"timezone":"T"}]}]})",
       "bad.json: users[0].doors[0].door: missing"},
      {R"({"users":[{"ext_user_id":"E1","groups":[""]}]})",
       "bad.json: users[0].groups[0]: expected a non-empty string"},
      {R"({"doors":[{"ext_door_id":"D1","nmae":"x"}]})",
       "bad.json: doors[0]: unknown field 'nmae'"},
      {R"({"timezones":[{"ext_timezone_table_id":"T","intervals":[{"start":"18:00","end":"08:00"}]}]})",
       "bad.json: timezones[0].intervals[0]: start 18:00 is not before end 08:00"},
      {R"({"timezones":[{"ext_timezone_table_id":"T","intervals":[{"start":"8","end":"09:00"}]}]})",
       "bad.json: timezones[0].intervals[0].start: expected HH:mm"},
      {R"({"timezones":[{"ext_timezone_table_id":"T","intervals":[{"start":"08:00","end":"09:00","days":[11]}]}]})",
       "bad.json: timezones[0].intervals[0].days: expected days 1-7"},
      {R"({"door_errors":{"D1":"100"}})", "bad.json: door_errors.D1: expected an integer"},
  };
  for (const Case& c : cases) {
    Status s = DataError(c.json);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(s.message(), HasSubstr(c.expected)) << c.json;
  }
}

TEST(SimDataTest, LoadsAFileAndNamesAMissingOne) {
  testing::TempDir dir;
  { std::ofstream(dir / "data.json") << kData; }
  auto data = LoadSimData(dir / "data.json");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  EXPECT_EQ(data->users.size(), 5u);
  EXPECT_EQ(data->door_errors.at("D2"), 7);

  auto missing = LoadSimData(dir / "nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.json"));
}

// ---------------------------------------------------------------- STP frames

TEST(StpFrameTest, ReadsFramesAndRefusesGarbage) {
  auto f = ParseStpFrame("STP/00/5/<ab/>STP/00/", 100);
  EXPECT_EQ(f.state, StpFrame::State::kComplete);
  EXPECT_EQ(f.version, "00");
  EXPECT_EQ(f.body_at, 9u);
  EXPECT_EQ(f.length, 5u);
  EXPECT_EQ(ParseStpFrame("STP/01/12/<a", 100).state, StpFrame::State::kIncomplete);
  EXPECT_EQ(ParseStpFrame("STP/0", 100).state, StpFrame::State::kIncomplete);
  EXPECT_EQ(ParseStpFrame("STP/00/12", 100).state, StpFrame::State::kIncomplete);
  EXPECT_EQ(ParseStpFrame("GET / HTTP/1.1", 100).state, StpFrame::State::kBad);
  EXPECT_EQ(ParseStpFrame("STP/0x/1/a", 100).state, StpFrame::State::kBad);
  EXPECT_EQ(ParseStpFrame("STP/00/1a/", 100).state, StpFrame::State::kBad);
  EXPECT_EQ(ParseStpFrame("STP/00//", 100).state, StpFrame::State::kBad);
  EXPECT_EQ(ParseStpFrame("STP/00/101/", 100).state, StpFrame::State::kBad);
  EXPECT_EQ(ParseStpFrame("STP/00/00000000000", 100).state, StpFrame::State::kBad);
}

// ---------------------------------------------------------------- with the real client

// The client's requests straight into the simulator: the two must agree on every element.
class DirectTransport final : public ship::Transport {
 public:
  explicit DirectTransport(SimState& sim) : sim_(sim) {}
  Result<std::string> Exchange(std::string_view xml,
                               std::chrono::steady_clock::time_point) override {
    return sim_.Answer(sim_.ReadRequest(xml), "https");
  }
  std::string Describe() const override { return "direct://sim"; }

 private:
  SimState& sim_;
};

TEST_F(SimStateTest, TheShipClientReadsEverythingBack) {
  sim_.GenerateUsers({.count = 1234, .prefix = "U"});
  ship::ClientOptions options;
  options.page_size = 100;
  ship::Client client(std::make_unique<DirectTransport>(sim_), options);

  auto info = client.GetInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->protocol_version, "1.23");

  size_t users = 0, pages = 0;
  Status read = client.ReadUsers([&](std::vector<ship::SpaceUser> page) {
    users += page.size();
    ++pages;
    return Status::Ok();
  });
  ASSERT_TRUE(read.ok()) << read.ToString();
  EXPECT_EQ(users, 1239u);
  EXPECT_EQ(pages, 13u);

  auto doors = client.ReadDoors();
  ASSERT_TRUE(doors.ok()) << doors.status().ToString();
  EXPECT_EQ(doors->size(), 2u);
  auto groups = client.ReadGroups();
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].doors.size(), 2u);
  auto tables = client.ReadTimezoneTables();
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  ASSERT_EQ(tables->size(), 1u);

  auto opened = client.OpenDoors({"D1", "D2", "DX"},
                                 std::chrono::steady_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->size(), 3u);
  EXPECT_EQ((*opened)[0].error_code, 0);
  EXPECT_EQ((*opened)[1].error_code, 7);
  EXPECT_EQ((*opened)[2].error_code, 100);

  auto trail = client.ReadAuditTrail(1, 10);
  ASSERT_TRUE(trail.ok()) << trail.status().ToString();
  ASSERT_EQ(trail->entries.size(), 1u);
  EXPECT_EQ(trail->entries[0].operation, 17);
  EXPECT_EQ(trail->entries[0].ext_door_id, "D1");
  EXPECT_TRUE(trail->eof);
}

}  // namespace
}  // namespace facegate::shipsim
