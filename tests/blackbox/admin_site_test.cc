// Black-box: the admin API's site records (docs/admin-api.md): doors, groups and their
// members, schedules, holidays and rights, against the real facegated over real TLS.
// One daemon per TEST, face work disabled (no models loaded).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "blackbox/admin_fixture.h"

namespace facegate::testing {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

class AdminSiteTest : public AdminApiTest {
 protected:
  // A user through the API (operator work, done here with the admin token).
  void MakeUser(const std::string& ext) {
    ApiReply r = admin_->Post(
        "/api/v1/users", {{"external_id", ext}, {"first_name", "F" + ext}, {"last_name", "L"}});
    ASSERT_EQ(r.status, 201) << Describe(r);
  }
  void MakeDoor(const std::string& ext) {
    ApiReply r = admin_->Post("/api/v1/doors", {{"external_id", ext}});
    ASSERT_EQ(r.status, 201) << Describe(r);
  }
  void MakeGroup(const std::string& ext) {
    ApiReply r = admin_->Post("/api/v1/groups", {{"external_id", ext}});
    ASSERT_EQ(r.status, 201) << Describe(r);
  }
  void MakeSchedule(const std::string& ext) {
    ApiReply r = admin_->Post(
        "/api/v1/schedules",
        {{"external_id", ext}, {"ranges", {{{"day", 1}, {"start", "08:00"}, {"end", "18:00"}}}}});
    ASSERT_EQ(r.status, 201) << Describe(r);
  }
  // The external ids of a list answer's items, in order.
  static std::vector<std::string> Ids(const ApiReply& r, const char* key = "external_id") {
    std::vector<std::string> out;
    for (const auto& item : r.json["items"]) out.push_back(item.value(key, ""));
    return out;
  }
  // Follows next_cursor with limit=1 from `path` to the end; the items' external ids.
  std::vector<std::string> PageThrough(const std::string& path) {
    std::vector<std::string> seen;
    std::string cursor;
    for (int i = 0; i < 20; ++i) {
      ApiReply r = admin_->Get(path + "?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(r.status, 200) << Describe(r);
      if (r.status != 200) break;
      EXPECT_LE(r.json["items"].size(), 1u) << Describe(r);
      for (const auto& id : Ids(r)) seen.push_back(id);
      if (r.json["next_cursor"].is_null()) break;
      cursor = r.json["next_cursor"].get<std::string>();
    }
    return seen;
  }
};

// ------------------------------------------------------------------ doors

TEST_F(AdminSiteTest, DoorCreateReadPatchDelete) {
  StartDaemon();
  ApiReply r = admin_->Post(
      "/api/v1/doors",
      {{"external_id", "D1"},
       {"name", "Main entrance"},
       {"settings", {{"security_level", "high"}, {"require_pad", true}, {"pad_min_score", 0.7}}}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_GT(r.json.value("id", 0), 0);
  EXPECT_EQ(r.json["external_id"], "D1");
  EXPECT_EQ(r.json["name"], "Main entrance");
  EXPECT_EQ(r.json["source"], "local");
  EXPECT_EQ(r.json["settings"],
            json({{"security_level", "high"}, {"require_pad", true}, {"pad_min_score", 0.7}}));

  r = admin_->Get("/api/v1/doors/D1");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["name"], "Main entrance");
  EXPECT_EQ(r.json["settings"]["security_level"], "high");

  r = admin_->Get("/api/v1/doors");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(Ids(r), std::vector<std::string>{"D1"});
  EXPECT_TRUE(r.json["next_cursor"].is_null());

  // PATCH changes what is given; a setting set to null goes back to the default.
  r = admin_->Patch(
      "/api/v1/doors/D1",
      {{"name", "Front"}, {"settings", {{"require_pad", nullptr}, {"pad_min_score", nullptr}}}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["name"], "Front");
  EXPECT_EQ(r.json["settings"], json({{"security_level", "high"}}));
  EXPECT_EQ(admin_->Get("/api/v1/doors/D1").json["name"], "Front");

  r = admin_->Delete("/api/v1/doors/D1");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["deleted"], true);
  EXPECT_EQ(admin_->Get("/api/v1/doors/D1").status, 404);
  EXPECT_TRUE(admin_->Get("/api/v1/doors").json["items"].empty());
}

TEST_F(AdminSiteTest, DoorValidationNamesEveryBadField) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/doors", {{"name", 5},
                                              {"colour", "red"},
                                              {"settings",
                                               {{"security_level", "paranoid"},
                                                {"require_pad", "yes"},
                                                {"pad_min_score", 2},
                                                {"fail_open", true}}}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_EQ(r.json["error"], "invalid_request");
  const json& f = r.json["fields"];
  EXPECT_EQ(f["external_id"], "required");
  EXPECT_EQ(f["name"], "expected a string");
  EXPECT_EQ(f["colour"], "unknown field");
  EXPECT_THAT(f.value("settings.security_level", ""), HasSubstr("normal, high or highest"));
  EXPECT_TRUE(f.contains("settings.require_pad")) << Describe(r);
  EXPECT_TRUE(f.contains("settings.pad_min_score")) << Describe(r);
  EXPECT_THAT(f.value("settings.fail_open", ""), HasSubstr("unknown setting"));

  r = admin_->Post("/api/v1/doors", {{"external_id", "D1"}, {"settings", "high"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("settings"));

  MakeDoor("D1");
  r = admin_->Patch("/api/v1/doors/D1", {{"external_id", "D2"}, {"bogus", 1}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_THAT(r.json["fields"].value("external_id", ""), HasSubstr("cannot be changed"));
  EXPECT_EQ(r.json["fields"]["bogus"], "unknown field");
  // What GET answered may be sent back unchanged.
  json door = admin_->Get("/api/v1/doors/D1").json;
  door["name"] = "Echo";
  r = admin_->Patch("/api/v1/doors/D1", door);
  EXPECT_EQ(r.status, 200) << Describe(r);

  r = admin_->Call("POST", "/api/v1/doors", "{not json", "application/json");
  EXPECT_EQ(r.status, 400) << Describe(r);
}

TEST_F(AdminSiteTest, DoorDuplicateIs409AndUnknownIs404) {
  StartDaemon();
  MakeDoor("D1");
  ApiReply r = admin_->Post("/api/v1/doors", {{"external_id", "D1"}});
  ASSERT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "conflict");
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("D1"));

  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/v1/doors/NOPE"},
                                                        {"PATCH", "/api/v1/doors/NOPE"},
                                                        {"DELETE", "/api/v1/doors/NOPE"}}) {
    r = admin_->Call(method, path, method == "PATCH" ? "{}" : "",
                     method == "PATCH" ? "application/json" : "");
    EXPECT_EQ(r.status, 404) << method << " " << path << ": " << Describe(r);
    EXPECT_EQ(r.json["error"], "not_found");
    EXPECT_THAT(r.json.value("message", ""), HasSubstr("'NOPE'"));
  }
  // The external id is percent-decoded.
  MakeDoor("Gate 7");
  EXPECT_EQ(admin_->Get("/api/v1/doors/Gate%207").status, 200);
}

// ------------------------------------------------------------------ roles

TEST_F(AdminSiteTest, EveryEndpointNeedsAToken) {
  StartDaemon();
  AdminClient anonymous(&daemon_, admin_token_);
  anonymous.set_token("");
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"GET", "/api/v1/doors"},
      {"POST", "/api/v1/doors"},
      {"GET", "/api/v1/doors/D1"},
      {"PATCH", "/api/v1/doors/D1"},
      {"DELETE", "/api/v1/doors/D1"},
      {"GET", "/api/v1/groups"},
      {"POST", "/api/v1/groups"},
      {"GET", "/api/v1/groups/G1"},
      {"PATCH", "/api/v1/groups/G1"},
      {"DELETE", "/api/v1/groups/G1"},
      {"GET", "/api/v1/groups/G1/members"},
      {"PUT", "/api/v1/groups/G1/members/U1"},
      {"DELETE", "/api/v1/groups/G1/members/U1"},
      {"GET", "/api/v1/schedules"},
      {"POST", "/api/v1/schedules"},
      {"GET", "/api/v1/schedules/S1"},
      {"PUT", "/api/v1/schedules/S1"},
      {"DELETE", "/api/v1/schedules/S1"},
      {"GET", "/api/v1/holidays"},
      {"POST", "/api/v1/holidays"},
      {"DELETE", "/api/v1/holidays/default/2026-12-25"},
      {"GET", "/api/v1/rights"},
      {"POST", "/api/v1/rights"},
      {"DELETE", "/api/v1/rights/1"},
  };
  for (const auto& [method, path] : endpoints) {
    ApiReply r = anonymous.Call(method, path, method == "GET" || method == "DELETE" ? "" : "{}",
                                "application/json");
    EXPECT_EQ(r.status, 401) << method << " " << path << ": " << Describe(r);
    EXPECT_EQ(r.json.value("error", ""), "unauthorized") << method << " " << path;
  }
}

TEST_F(AdminSiteTest, ViewersReadAndOnlyAdminsWrite) {
  StartDaemon();
  MakeDoor("D1");
  MakeGroup("G1");
  MakeSchedule("S1");
  MakeUser("U1");
  ApiReply right = admin_->Post("/api/v1/rights", {{"user", "U1"}, {"door", "D1"}});
  ASSERT_EQ(right.status, 201) << Describe(right);
  const std::string right_path =
      "/api/v1/rights/" + std::to_string(right.json["id"].get<int64_t>());
  ASSERT_EQ(admin_->Post("/api/v1/holidays", {{"date", "2026-12-25"}}).status, 201);

  AdminClient viewer(&daemon_, MakeToken("watcher", "viewer"));
  AdminClient op(&daemon_, MakeToken("operator-1", "operator"));
  for (const std::string path :
       {"/api/v1/doors", "/api/v1/doors/D1", "/api/v1/groups", "/api/v1/groups/G1",
        "/api/v1/groups/G1/members", "/api/v1/schedules", "/api/v1/schedules/S1",
        "/api/v1/holidays", "/api/v1/rights"}) {
    ApiReply r = viewer.Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << Describe(r);
  }
  const std::vector<std::tuple<std::string, std::string, json>> writes = {
      {"POST", "/api/v1/doors", {{"external_id", "D2"}}},
      {"PATCH", "/api/v1/doors/D1", {{"name", "x"}}},
      {"DELETE", "/api/v1/doors/D1", nullptr},
      {"POST", "/api/v1/groups", {{"external_id", "G2"}}},
      {"PATCH", "/api/v1/groups/G1", {{"name", "x"}}},
      {"DELETE", "/api/v1/groups/G1", nullptr},
      {"PUT", "/api/v1/groups/G1/members/U1", nullptr},
      {"DELETE", "/api/v1/groups/G1/members/U1", nullptr},
      {"POST", "/api/v1/schedules", {{"external_id", "S2"}}},
      {"PUT", "/api/v1/schedules/S1", {{"ranges", json::array()}}},
      {"DELETE", "/api/v1/schedules/S1", nullptr},
      {"POST", "/api/v1/holidays", {{"date", "2026-12-26"}}},
      {"DELETE", "/api/v1/holidays/default/2026-12-25", nullptr},
      {"POST", "/api/v1/rights", {{"group", "G1"}, {"door", "D1"}}},
      {"DELETE", right_path, nullptr},
  };
  for (AdminClient* client : {&viewer, &op}) {
    for (const auto& [method, path, body] : writes) {
      ApiReply r = client->Call(method, path, body.is_null() ? "" : body.dump(),
                                body.is_null() ? "" : "application/json");
      EXPECT_EQ(r.status, 403) << client->token().substr(0, 8) << " " << method << " " << path
                               << ": " << Describe(r);
      EXPECT_THAT(r.json.value("message", ""), HasSubstr("admin role"));
    }
  }
  // Nothing changed.
  EXPECT_EQ(admin_->Get("/api/v1/doors").json["items"].size(), 1u);
  EXPECT_EQ(admin_->Get("/api/v1/rights").json["items"].size(), 1u);
  EXPECT_EQ(admin_->Get("/api/v1/groups/G1").json["members"], 0);
}

// ------------------------------------------------------------------ paging

TEST_F(AdminSiteTest, ListsPageByCursor) {
  StartDaemon();
  for (const char* id : {"D1", "D2", "D3"}) MakeDoor(id);
  for (const char* id : {"G1", "G2", "G3"}) MakeGroup(id);
  for (const char* id : {"S1", "S2", "S3"}) MakeSchedule(id);
  const std::vector<std::string> doors = {"D1", "D2", "D3"};
  EXPECT_EQ(PageThrough("/api/v1/doors"), doors);
  EXPECT_EQ(PageThrough("/api/v1/groups"), (std::vector<std::string>{"G1", "G2", "G3"}));
  EXPECT_EQ(PageThrough("/api/v1/schedules"), (std::vector<std::string>{"S1", "S2", "S3"}));

  ApiReply r = admin_->Get("/api/v1/doors?limit=2");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"D1", "D2"}));
  ASSERT_TRUE(r.json["next_cursor"].is_string()) << Describe(r);
  r = admin_->Get("/api/v1/doors?limit=2&cursor=" + r.json["next_cursor"].get<std::string>());
  EXPECT_EQ(Ids(r), std::vector<std::string>{"D3"});
  EXPECT_TRUE(r.json["next_cursor"].is_null());

  r = admin_->Get("/api/v1/doors?limit=0&cursor=x");
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("limit"));
  EXPECT_TRUE(r.json["fields"].contains("cursor"));

  // Holidays: a limit, no cursor.
  for (const char* date : {"2026-12-24", "2026-12-25", "2026-12-26"}) {
    ASSERT_EQ(admin_->Post("/api/v1/holidays", {{"date", date}}).status, 201);
  }
  r = admin_->Get("/api/v1/holidays?limit=2");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(Ids(r, "date"), (std::vector<std::string>{"2026-12-24", "2026-12-25"}));
  EXPECT_TRUE(r.json["next_cursor"].is_null());
}

// ------------------------------------------------------------------ groups

TEST_F(AdminSiteTest, GroupCreateReadPatchDelete) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/groups", {{"external_id", "staff"}, {"name", "Staff"}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_GT(r.json.value("id", 0), 0);
  EXPECT_EQ(r.json["external_id"], "staff");
  EXPECT_EQ(r.json["name"], "Staff");
  EXPECT_EQ(r.json["source"], "local");

  r = admin_->Post("/api/v1/groups", {{"external_id", "staff"}});
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "conflict");

  r = admin_->Post("/api/v1/groups", {{"external_id", ""}, {"name", json::array()}, {"x", 1}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_EQ(r.json["fields"]["external_id"], "required");
  EXPECT_EQ(r.json["fields"]["name"], "expected a string");
  EXPECT_EQ(r.json["fields"]["x"], "unknown field");

  r = admin_->Patch("/api/v1/groups/staff", {{"name", "All staff"}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["name"], "All staff");
  r = admin_->Get("/api/v1/groups/staff");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["name"], "All staff");
  EXPECT_EQ(r.json["members"], 0);
  r = admin_->Patch("/api/v1/groups/staff", {{"external_id", "other"}});
  EXPECT_EQ(r.status, 400) << Describe(r);

  EXPECT_EQ(admin_->Get("/api/v1/groups/nope").status, 404);
  EXPECT_EQ(admin_->Patch("/api/v1/groups/nope", {{"name", "x"}}).status, 404);
  EXPECT_EQ(admin_->Delete("/api/v1/groups/nope").status, 404);

  r = admin_->Delete("/api/v1/groups/staff");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(admin_->Get("/api/v1/groups/staff").status, 404);
}

TEST_F(AdminSiteTest, GroupMembers) {
  StartDaemon();
  MakeGroup("staff");
  MakeUser("U1");
  MakeUser("U2");
  MakeUser("U3");
  for (const char* u : {"U1", "U2", "U3"}) {
    ApiReply r = admin_->Call("PUT", std::string("/api/v1/groups/staff/members/") + u);
    ASSERT_EQ(r.status, 200) << Describe(r);
    EXPECT_EQ(r.json["added"], true);
  }
  // PUT again: idempotent.
  ApiReply r = admin_->Call("PUT", "/api/v1/groups/staff/members/U1");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["added"], false);

  r = admin_->Get("/api/v1/groups/staff/members");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_EQ(r.json["items"].size(), 3u) << Describe(r);
  EXPECT_EQ(r.json["items"][0],
            json({{"external_id", "U1"}, {"first_name", "FU1"}, {"last_name", "L"}}));
  EXPECT_TRUE(r.json["next_cursor"].is_null());
  EXPECT_EQ(PageThrough("/api/v1/groups/staff/members"),
            (std::vector<std::string>{"U1", "U2", "U3"}));
  EXPECT_EQ(admin_->Get("/api/v1/groups/staff").json["members"], 3);

  r = admin_->Delete("/api/v1/groups/staff/members/U2");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(Ids(admin_->Get("/api/v1/groups/staff/members")),
            (std::vector<std::string>{"U1", "U3"}));
  r = admin_->Delete("/api/v1/groups/staff/members/U2");
  EXPECT_EQ(r.status, 404) << Describe(r);
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("not a member"));

  r = admin_->Call("PUT", "/api/v1/groups/staff/members/NOBODY");
  EXPECT_EQ(r.status, 404) << Describe(r);
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("NOBODY"));
  r = admin_->Call("PUT", "/api/v1/groups/nogroup/members/U1");
  EXPECT_EQ(r.status, 404) << Describe(r);
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("nogroup"));
  EXPECT_EQ(admin_->Get("/api/v1/groups/nogroup/members").status, 404);

  // Deleting the group ends its memberships.
  r = admin_->Delete("/api/v1/groups/staff");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["members_removed"], 2);
  EXPECT_TRUE(admin_->Get("/api/v1/users/U1").json["groups"].empty());
}

// ------------------------------------------------------------------ schedules

TEST_F(AdminSiteTest, ScheduleCreateReadReplaceDelete) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/schedules",
                            {{"external_id", "office"},
                             {"name", "Office hours"},
                             {"ranges",
                              {{{"day", "mon"}, {"start", "08:00"}, {"end", "18:00"}},
                               {{"day", 6}, {"start", "09:00"}, {"end", "12:30"}},
                               {{"day", "holiday"}, {"start", "22:00"}, {"end", "24:00"}},
                               "sun:10:00-11:00"}}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_EQ(r.json["external_id"], "office");
  EXPECT_EQ(r.json["name"], "Office hours");
  EXPECT_EQ(r.json["calendar"], "default");
  EXPECT_EQ(r.json["source"], "local");
  EXPECT_EQ(r.json["ranges"], json::parse(R"([{"day":1,"start":"08:00","end":"18:00"},
                            {"day":6,"start":"09:00","end":"12:30"},
                            {"day":7,"start":"10:00","end":"11:00"},
                            {"day":8,"start":"22:00","end":"24:00"}])"));

  r = admin_->Get("/api/v1/schedules/office");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["ranges"].size(), 4u);

  // PUT replaces every range; a day span gives the range to each day.
  r = admin_->Put("/api/v1/schedules/office",
                  {{"calendar", "plant"},
                   {"ranges", {{{"day", "mon-wed"}, {"start", "07:00"}, {"end", "15:00"}}}}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["name"], "Office hours");
  EXPECT_EQ(r.json["calendar"], "plant");
  ASSERT_EQ(r.json["ranges"].size(), 3u) << Describe(r);
  EXPECT_EQ(r.json["ranges"][2], json({{"day", 3}, {"start", "07:00"}, {"end", "15:00"}}));
  EXPECT_EQ(admin_->Get("/api/v1/schedules/office").json["ranges"].size(), 3u);

  r = admin_->Post("/api/v1/schedules",
                   {{"external_id", "office"},
                    {"ranges", {{{"day", 1}, {"start", "08:00"}, {"end", "09:00"}}}}});
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "conflict");

  EXPECT_EQ(admin_->Get("/api/v1/schedules/nope").status, 404);
  EXPECT_EQ(admin_
                ->Put("/api/v1/schedules/nope",
                      {{"ranges", {{{"day", 1}, {"start", "08:00"}, {"end", "09:00"}}}}})
                .status,
            404);
  EXPECT_EQ(admin_->Delete("/api/v1/schedules/nope").status, 404);

  r = admin_->Delete("/api/v1/schedules/office");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(admin_->Get("/api/v1/schedules/office").status, 404);
}

TEST_F(AdminSiteTest, ScheduleValidationNamesEveryBadRange) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/schedules",
                            {{"calendar", ""},
                             {"extra", true},
                             {"ranges",
                              {{{"day", 11}, {"start", "08:00"}, {"end", "18:00"}},
                               {{"day", "funday"}, {"start", "25:00"}, {"end", "18:00"}},
                               {{"day", 2}, {"start", "18:00"}, {"end", "08:00"}},
                               {{"day", 3}, {"start", "24:00"}, {"end", "24:00"}},
                               {{"day", 4}, {"start", "08:00"}, {"end", "09:00"}, {"note", "x"}},
                               {{"start", "08:00"}},
                               42}}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  const json& f = r.json["fields"];
  EXPECT_EQ(f["external_id"], "required");
  EXPECT_TRUE(f.contains("calendar")) << Describe(r);
  EXPECT_EQ(f["extra"], "unknown field");
  EXPECT_THAT(f.value("ranges[0].day", ""), HasSubstr("1..10"));
  EXPECT_TRUE(f.contains("ranges[1].day")) << Describe(r);
  EXPECT_TRUE(f.contains("ranges[1].start")) << Describe(r);
  EXPECT_THAT(f.value("ranges[2].end", ""), HasSubstr("never crosses midnight"));
  EXPECT_TRUE(f.contains("ranges[3].start")) << Describe(r);
  EXPECT_EQ(f["ranges[4].note"], "unknown field");
  EXPECT_EQ(f["ranges[5].day"], "required");
  EXPECT_EQ(f["ranges[5].end"], "required");
  EXPECT_TRUE(f.contains("ranges[6]")) << Describe(r);

  r = admin_->Post("/api/v1/schedules", {{"external_id", "S1"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("ranges"));
  r = admin_->Post("/api/v1/schedules",
                   {{"external_id", "S1"},
                    {"ranges",
                     {{{"day", 1}, {"start", "08:00"}, {"end", "09:00"}},
                      {{"day", "mon"}, {"start", "08:00"}, {"end", "10:00"}}}}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_THAT(r.json["fields"].value("ranges[1]", ""), HasSubstr("same minute"));

  MakeSchedule("S1");
  r = admin_->Put("/api/v1/schedules/S1", {{"ranges", "mon"}, {"external_id", "S9"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("ranges"));
  EXPECT_TRUE(r.json["fields"].contains("external_id"));
  EXPECT_EQ(admin_->Get("/api/v1/schedules/S1").json["ranges"].size(), 1u);
}

TEST_F(AdminSiteTest, ScheduleInUseCannotBeDeleted) {
  StartDaemon();
  MakeSchedule("S1");
  MakeDoor("D1");
  MakeUser("U1");
  ApiReply right =
      admin_->Post("/api/v1/rights", {{"user", "U1"}, {"door", "D1"}, {"schedule", "S1"}});
  ASSERT_EQ(right.status, 201) << Describe(right);
  ApiReply r = admin_->Delete("/api/v1/schedules/S1");
  ASSERT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "conflict");
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("access right"));
  EXPECT_EQ(admin_->Get("/api/v1/schedules/S1").status, 200);

  ASSERT_EQ(
      admin_->Delete("/api/v1/rights/" + std::to_string(right.json["id"].get<int64_t>())).status,
      200);
  EXPECT_EQ(admin_->Delete("/api/v1/schedules/S1").status, 200);
}

// ------------------------------------------------------------------ holidays

TEST_F(AdminSiteTest, Holidays) {
  StartDaemon();
  ApiReply r = admin_->Post("/api/v1/holidays", {{"date", "2026-12-25"}, {"name", "Christmas"}});
  ASSERT_EQ(r.status, 201) << Describe(r);
  EXPECT_EQ(r.json, json({{"calendar", "default"},
                          {"date", "2026-12-25"},
                          {"day_type", 8},
                          {"name", "Christmas"},
                          {"source", "local"}}));
  r = admin_->Post("/api/v1/holidays",
                   {{"calendar", "plant"}, {"date", "2026-08-01"}, {"day_type", 9}});
  ASSERT_EQ(r.status, 201) << Describe(r);

  r = admin_->Get("/api/v1/holidays");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_EQ(r.json["items"].size(), 2u);
  EXPECT_EQ(r.json["items"][0]["calendar"], "default");
  EXPECT_EQ(r.json["items"][1]["day_type"], 9);
  EXPECT_TRUE(r.json["next_cursor"].is_null());

  r = admin_->Post("/api/v1/holidays", {{"date", "2026-12-25"}});
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "conflict");

  r = admin_->Post("/api/v1/holidays",
                   {{"calendar", ""}, {"date", "2026-02-30"}, {"day_type", 7}, {"when", "x"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_TRUE(r.json["fields"].contains("calendar"));
  EXPECT_THAT(r.json["fields"].value("date", ""), HasSubstr("YYYY-MM-DD"));
  EXPECT_THAT(r.json["fields"].value("day_type", ""), HasSubstr("8"));
  EXPECT_EQ(r.json["fields"]["when"], "unknown field");
  r = admin_->Post("/api/v1/holidays", json::object());
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_EQ(r.json["fields"]["date"], "required");

  r = admin_->Delete("/api/v1/holidays/default/2026-12-25");
  ASSERT_EQ(r.status, 200) << Describe(r);
  r = admin_->Delete("/api/v1/holidays/default/2026-12-25");
  EXPECT_EQ(r.status, 404) << Describe(r);
  EXPECT_THAT(r.json.value("message", ""), HasSubstr("2026-12-25"));
  EXPECT_EQ(admin_->Delete("/api/v1/holidays/nocal/2026-08-01").status, 404);
  EXPECT_EQ(admin_->Get("/api/v1/holidays").json["items"].size(), 1u);
}

// ------------------------------------------------------------------ rights

TEST_F(AdminSiteTest, RightsCreateListFilterDelete) {
  StartDaemon();
  MakeUser("U1");
  MakeGroup("G1");
  MakeDoor("D1");
  MakeDoor("D2");
  MakeSchedule("S1");
  ApiReply a = admin_->Post("/api/v1/rights", {{"user", "U1"}, {"door", "D1"}});
  ASSERT_EQ(a.status, 201) << Describe(a);
  EXPECT_GT(a.json.value("id", 0), 0);
  EXPECT_EQ(a.json["user"], "U1");
  EXPECT_TRUE(a.json["group"].is_null());
  EXPECT_EQ(a.json["door"], "D1");
  EXPECT_TRUE(a.json["schedule"].is_null());
  EXPECT_EQ(a.json["source"], "local");
  EXPECT_TRUE(a.json["created_at"].is_string()) << Describe(a);
  ApiReply b =
      admin_->Post("/api/v1/rights", {{"group", "G1"}, {"door", "D2"}, {"schedule", "S1"}});
  ASSERT_EQ(b.status, 201) << Describe(b);
  EXPECT_TRUE(b.json["user"].is_null());
  EXPECT_EQ(b.json["group"], "G1");
  EXPECT_EQ(b.json["schedule"], "S1");

  ApiReply r = admin_->Get("/api/v1/rights");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["items"].size(), 2u);
  r = admin_->Get("/api/v1/rights?user=U1");
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["door"], "D1");
  r = admin_->Get("/api/v1/rights?door=D2");
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["group"], "G1");
  r = admin_->Get("/api/v1/rights?group=G1&door=D1");
  EXPECT_TRUE(r.json["items"].empty()) << Describe(r);
  for (const char* q : {"user=NOBODY", "group=NOGROUP", "door=NODOOR"}) {
    r = admin_->Get(std::string("/api/v1/rights?") + q);
    EXPECT_EQ(r.status, 404) << q << ": " << Describe(r);
    EXPECT_EQ(r.json["error"], "not_found");
  }
  // Paging by right id.
  r = admin_->Get("/api/v1/rights?limit=1");
  ASSERT_EQ(r.json["items"].size(), 1u);
  ASSERT_TRUE(r.json["next_cursor"].is_string()) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["id"], a.json["id"]);
  r = admin_->Get("/api/v1/rights?limit=1&cursor=" + r.json["next_cursor"].get<std::string>());
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["id"], b.json["id"]);

  // One right per holder and door.
  r = admin_->Post("/api/v1/rights", {{"user", "U1"}, {"door", "D1"}, {"schedule", "S1"}});
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "conflict");

  const std::string path = "/api/v1/rights/" + std::to_string(a.json["id"].get<int64_t>());
  ASSERT_EQ(admin_->Delete(path).status, 200);
  r = admin_->Delete(path);
  EXPECT_EQ(r.status, 404) << Describe(r);
  EXPECT_EQ(admin_->Delete("/api/v1/rights/abc").status, 404);
  EXPECT_EQ(admin_->Get("/api/v1/rights").json["items"].size(), 1u);

  // A door's rights go with it.
  r = admin_->Delete("/api/v1/doors/D2");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.json["rights_deleted"], 1);
  EXPECT_TRUE(admin_->Get("/api/v1/rights").json["items"].empty());
}

TEST_F(AdminSiteTest, RightValidation) {
  StartDaemon();
  MakeUser("U1");
  MakeGroup("G1");
  ApiReply r = admin_->Post("/api/v1/rights", {{"user", "U1"}, {"group", "G1"}, {"level", 3}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_THAT(r.json["fields"].value("user", ""), HasSubstr("exactly one"));
  EXPECT_THAT(r.json["fields"].value("group", ""), HasSubstr("exactly one"));
  EXPECT_EQ(r.json["fields"]["door"], "required");
  EXPECT_EQ(r.json["fields"]["level"], "unknown field");

  r = admin_->Post("/api/v1/rights", {{"door", "D1"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_THAT(r.json["fields"].value("user", ""), HasSubstr("exactly one"));

  // Unknown references are named, all at once.
  r = admin_->Post("/api/v1/rights", {{"user", "NOBODY"}, {"door", "NODOOR"}, {"schedule", "NOS"}});
  ASSERT_EQ(r.status, 400) << Describe(r);
  EXPECT_THAT(r.json["fields"].value("user", ""), HasSubstr("NOBODY"));
  EXPECT_THAT(r.json["fields"].value("door", ""), HasSubstr("NODOOR"));
  EXPECT_THAT(r.json["fields"].value("schedule", ""), HasSubstr("NOS"));
  EXPECT_TRUE(admin_->Get("/api/v1/rights").json["items"].empty());
}

// ------------------------------------------------------------------ audit, sync

TEST_F(AdminSiteTest, WritesAreAudited) {
  StartDaemon();
  MakeDoor("D1");
  ASSERT_EQ(admin_->Patch("/api/v1/doors/D1", {{"name", "Front"}}).status, 200);
  ApiReply r = admin_->Get("/api/v1/audit?action=door.create");
  ASSERT_EQ(r.status, 200) << Describe(r);
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  const json& row = r.json["items"][0];
  EXPECT_EQ(row["actor"], "token:first-admin");
  EXPECT_EQ(row["action"], "door.create");
  EXPECT_EQ(row["target"], "door:D1");
  EXPECT_EQ(row["outcome"], "ok");

  r = admin_->Get("/api/v1/audit?action=door.update");
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["details"]["fields"], json::array({"name"}));

  // A refused write is audited too.
  ASSERT_EQ(admin_->Post("/api/v1/doors", {{"external_id", "D1"}}).status, 409);
  r = admin_->Get("/api/v1/audit?action=door.create");
  ASSERT_EQ(r.json["items"].size(), 2u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["outcome"], "refused");

  MakeUser("U1");
  ApiReply right = admin_->Post("/api/v1/rights", {{"user", "U1"}, {"door", "D1"}});
  ASSERT_EQ(right.status, 201);
  r = admin_->Get("/api/v1/audit?action=right.create");
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["target"],
            "right:" + std::to_string(right.json["id"].get<int64_t>()));
  ASSERT_EQ(admin_->Post("/api/v1/holidays", {{"date", "2026-12-25"}}).status, 201);
  r = admin_->Get("/api/v1/audit?action=holiday.create");
  ASSERT_EQ(r.json["items"].size(), 1u) << Describe(r);
  EXPECT_EQ(r.json["items"][0]["target"], "holiday:default/2026-12-25");
}

TEST_F(AdminSiteTest, SpaceSyncMakesTheSiteReadOnly) {
  StartDaemon();
  MakeDoor("D1");
  MakeGroup("G1");
  // The space integration needs its url, key and pin before it can be enabled (port 1 of
  // loopback: nothing answers the daemon's Space service there).
  ApiReply r =
      admin_->Put("/api/v1/integrations/space", {{"enabled", true},
                                                 {"settings",
                                                  {{"url", "https://127.0.0.1:1/"},
                                                   {"api_key", "k"},
                                                   {"pin_sha256", std::string(64, 'A')}}}});
  ASSERT_EQ(r.status, 200) << Describe(r);

  r = admin_->Post("/api/v1/doors", {{"external_id", "D2"}});
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "read_only");
  r = admin_->Post("/api/v1/groups", {{"external_id", "G2"}});
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(r.json["error"], "read_only");
  EXPECT_EQ(admin_->Patch("/api/v1/doors/D1", {{"name", "x"}}).json["error"], "read_only");
  EXPECT_EQ(admin_->Delete("/api/v1/groups/G1").json["error"], "read_only");
  EXPECT_EQ(admin_->Post("/api/v1/holidays", {{"date", "2026-12-25"}}).json["error"], "read_only");
  // Reading goes on.
  EXPECT_EQ(admin_->Get("/api/v1/doors").json["items"].size(), 1u);

  r = admin_->Put("/api/v1/integrations/space", {{"enabled", false}});
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(admin_->Post("/api/v1/doors", {{"external_id", "D2"}}).status, 201);
}

}  // namespace
}  // namespace facegate::testing
