// The access model in the store: groups, memberships, schedules with their ranges, holidays
// and rights (round trips, constraints, cascades), and the one-transaction snapshot read.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "facegate/store/store.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using testing::MakeOptions;
using testing::MakeUser;
using testing::RawDb;

class AccessModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  int64_t AddUser(const std::string& external_id) {
    auto id = store_->UpsertUser(MakeUser(external_id));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddDoor(const std::string& external_id) {
    Door d;
    d.external_id = external_id;
    auto id = store_->UpsertDoor(d);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddGroup(const std::string& external_id) {
    auto id =
        store_->CreateAccessGroup({.external_id = external_id, .name = "Group " + external_id});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddSchedule(const std::string& external_id, std::vector<ScheduleRange> ranges) {
    Schedule s;
    s.external_id = external_id;
    s.name = "Schedule " + external_id;
    s.ranges = std::move(ranges);
    auto id = store_->CreateSchedule(s);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddRight(AccessRight r) {
    auto id = store_->CreateAccessRight(r);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  static void ExpectError(const Status& s, StatusCode code, std::string_view needle) {
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

TEST_F(AccessModelTest, GroupsRoundTripAndExternalIdsAreUnique) {
  const int64_t staff = AddGroup("staff");
  const int64_t guests = AddGroup("guests");
  auto found = store_->FindAccessGroupByExternalId("staff");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, staff);
  EXPECT_EQ((*found)->name, "Group staff");
  EXPECT_FALSE(store_->FindAccessGroupByExternalId("nobody")->has_value());

  auto again = store_->CreateAccessGroup({.external_id = "staff"});
  ASSERT_FALSE(again.ok());
  ExpectError(again.status(), StatusCode::kAlreadyExists,
              "an access group with external id 'staff' exists");
  ExpectError(store_->UpdateAccessGroup({.id = guests, .external_id = "staff"}),
              StatusCode::kAlreadyExists, "another access group has external id 'staff'");
  ExpectError(store_->CreateAccessGroup({.external_id = ""}).status(), StatusCode::kInvalidArgument,
              "external_id is empty");

  ASSERT_TRUE(store_
                  ->UpdateAccessGroup({.id = guests,
                                       .external_id = "visitors",
                                       .name = "Visitors",
                                       .source = RecordSource::kShip})
                  .ok());
  auto groups = store_->ListAccessGroups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[1].external_id, "visitors");
  EXPECT_EQ((*groups)[1].name, "Visitors");
  EXPECT_EQ((*groups)[1].source, RecordSource::kShip);

  ASSERT_TRUE(store_->DeleteAccessGroup(guests).ok());
  ExpectError(store_->DeleteAccessGroup(guests), StatusCode::kNotFound, "no access group");
  ExpectError(store_->UpdateAccessGroup({.id = guests, .external_id = "x"}), StatusCode::kNotFound,
              "no access group");
}

TEST_F(AccessModelTest, MembershipsRoundTrip) {
  const int64_t ada = AddUser("ada");
  const int64_t bea = AddUser("bea");
  const int64_t staff = AddGroup("staff");
  const int64_t night = AddGroup("night");
  ASSERT_TRUE(store_->AddGroupMember(staff, ada).ok());
  ASSERT_TRUE(store_->AddGroupMember(staff, bea).ok());
  ASSERT_TRUE(store_->AddGroupMember(night, ada).ok());
  ExpectError(store_->AddGroupMember(staff, ada), StatusCode::kAlreadyExists,
              "is already a member of access group");
  ExpectError(store_->AddGroupMember(staff, 999), StatusCode::kNotFound, "no user with id 999");
  ExpectError(store_->AddGroupMember(999, ada), StatusCode::kNotFound,
              "no access group with id 999");

  EXPECT_EQ(*store_->ListGroupMembers(staff), (std::vector<int64_t>{ada, bea}));
  EXPECT_EQ(*store_->ListGroupsOfUser(ada), (std::vector<int64_t>{staff, night}));
  ASSERT_TRUE(store_->RemoveGroupMember(staff, ada).ok());
  ExpectError(store_->RemoveGroupMember(staff, ada), StatusCode::kNotFound, "is not a member");
  EXPECT_EQ(*store_->ListGroupsOfUser(ada), (std::vector<int64_t>{night}));
}

TEST_F(AccessModelTest, SchedulesKeepTheirRangesAndReplaceThemWhole) {
  const int64_t office = AddSchedule("office", {{.day = 2, .start_minute = 480, .end_minute = 1080},
                                                {.day = 1, .start_minute = 780, .end_minute = 1080},
                                                {.day = 1, .start_minute = 480, .end_minute = 720},
                                                {.day = 8, .start_minute = 0, .end_minute = 1440}});
  auto got = store_->GetSchedule(office);
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status().ToString();
  EXPECT_EQ((*got)->external_id, "office");
  EXPECT_EQ((*got)->calendar, "default");
  // Read back by (day, start).
  EXPECT_EQ((*got)->ranges, (std::vector<ScheduleRange>{
                                {1, 480, 720}, {1, 780, 1080}, {2, 480, 1080}, {8, 0, 1440}}));

  const std::vector<ScheduleRange> weekend = {{6, 600, 900}, {7, 600, 900}};
  ASSERT_TRUE(store_->ReplaceScheduleRanges(office, weekend).ok());
  EXPECT_EQ((*store_->GetSchedule(office))->ranges, weekend);

  // An invalid range fails the whole replacement: the previous ranges stay.
  const std::vector<ScheduleRange> bad = {{1, 0, 60}, {1, 600, 600}};
  ExpectError(store_->ReplaceScheduleRanges(office, bad), StatusCode::kInvalidArgument,
              "end_minute must be after start_minute");
  ExpectError(store_->ReplaceScheduleRanges(office, std::vector<ScheduleRange>{{11, 0, 60}}),
              StatusCode::kInvalidArgument, "day must be 1..7");
  ExpectError(
      store_->ReplaceScheduleRanges(office, std::vector<ScheduleRange>{{1, 0, 60}, {1, 0, 90}}),
      StatusCode::kInvalidArgument, "two ranges start at the same minute");
  EXPECT_EQ((*store_->GetSchedule(office))->ranges, weekend);
  ExpectError(store_->ReplaceScheduleRanges(999, weekend), StatusCode::kNotFound,
              "no schedule with id 999");

  Schedule changed = **store_->GetSchedule(office);
  changed.name = "Office (winter)";
  changed.calendar = "site-b";
  changed.ranges = {{3, 0, 1440}};
  ASSERT_TRUE(store_->UpdateSchedule(changed).ok());
  auto listed = store_->ListSchedules();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "Office (winter)");
  EXPECT_EQ((*listed)[0].calendar, "site-b");
  EXPECT_EQ((*listed)[0].ranges, (std::vector<ScheduleRange>{{3, 0, 1440}}));

  Schedule duplicate;
  duplicate.external_id = "office";
  ExpectError(store_->CreateSchedule(duplicate).status(), StatusCode::kAlreadyExists,
              "a schedule with external id 'office' exists");
  EXPECT_FALSE(store_->GetSchedule(999)->has_value());
}

TEST_F(AccessModelTest, ScheduleInUseCannotBeDeleted) {
  const int64_t ada = AddUser("ada");
  const int64_t door = AddDoor("front");
  const int64_t office = AddSchedule("office", {{1, 480, 1080}});
  const int64_t right = AddRight({.user_id = ada, .door_id = door, .schedule_id = office});
  // Deleting it would otherwise either drop the right or, worse, leave it valid at any time.
  ExpectError(store_->DeleteSchedule(office), StatusCode::kFailedPrecondition,
              "schedule office is used by 1 access right(s)");
  ASSERT_TRUE(store_->DeleteAccessRight(right).ok());
  ASSERT_TRUE(store_->DeleteSchedule(office).ok());
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT count(*) FROM schedule_ranges"), "0");
  ExpectError(store_->DeleteSchedule(office), StatusCode::kNotFound, "no schedule");
}

TEST_F(AccessModelTest, HolidaysAreKeyedByCalendarAndDate) {
  ASSERT_TRUE(store_->CreateHoliday({.local_date = "2026-12-25", .name = "Christmas"}).ok());
  ASSERT_TRUE(store_->CreateHoliday({.calendar = "site-b", .local_date = "2026-12-25"}).ok());
  ASSERT_TRUE(
      store_->CreateHoliday({.local_date = "2026-12-24", .day_type = 9, .name = "Eve"}).ok());
  ExpectError(store_->CreateHoliday({.local_date = "2026-12-25"}), StatusCode::kAlreadyExists,
              "calendar 'default' already has a holiday on 2026-12-25");
  ExpectError(store_->CreateHoliday({.local_date = "2026-02-30"}), StatusCode::kInvalidArgument,
              "not a date written YYYY-MM-DD");
  ExpectError(store_->CreateHoliday({.local_date = "2026-12-26", .day_type = 7}),
              StatusCode::kInvalidArgument, "day_type must be 8");

  ASSERT_TRUE(store_->UpdateHoliday({.local_date = "2026-12-24", .day_type = 10}).ok());
  ExpectError(store_->UpdateHoliday({.local_date = "2026-12-31"}), StatusCode::kNotFound,
              "has no holiday on 2026-12-31");
  auto holidays = store_->ListHolidays();
  ASSERT_TRUE(holidays.ok());
  ASSERT_EQ(holidays->size(), 3u);
  EXPECT_EQ((*holidays)[0].local_date, "2026-12-24");
  EXPECT_EQ((*holidays)[0].day_type, 10);
  EXPECT_EQ((*holidays)[1].name, "Christmas");
  EXPECT_EQ((*holidays)[2].calendar, "site-b");

  ASSERT_TRUE(store_->DeleteHoliday("site-b", "2026-12-25").ok());
  ExpectError(store_->DeleteHoliday("site-b", "2026-12-25"), StatusCode::kNotFound,
              "has no holiday");
  EXPECT_EQ(store_->ListHolidays()->size(), 2u);
}

TEST_F(AccessModelTest, RightsRoundTripWithClearConstraintErrors) {
  const int64_t ada = AddUser("ada");
  const int64_t front = AddDoor("front");
  const int64_t lab = AddDoor("lab");
  const int64_t staff = AddGroup("staff");
  const int64_t office = AddSchedule("office", {{1, 480, 1080}});

  const int64_t own = AddRight({.user_id = ada, .door_id = front});
  const int64_t group = AddRight({.group_id = staff, .door_id = front, .schedule_id = office});
  const int64_t lab_right = AddRight({.group_id = staff, .door_id = lab});

  auto dup = store_->CreateAccessRight({.user_id = ada, .door_id = front, .schedule_id = office});
  ASSERT_FALSE(dup.ok());
  ExpectError(dup.status(), StatusCode::kAlreadyExists,
              "user " + std::to_string(ada) + " already has a right to door " +
                  std::to_string(front) + " (right " + std::to_string(own) + ")");
  ExpectError(store_->CreateAccessRight({.group_id = staff, .door_id = lab}).status(),
              StatusCode::kAlreadyExists, "group " + std::to_string(staff) + " already has");
  ExpectError(
      store_->CreateAccessRight({.user_id = ada, .group_id = staff, .door_id = lab}).status(),
      StatusCode::kInvalidArgument, "exactly one of user_id and group_id");
  ExpectError(store_->CreateAccessRight({.user_id = ada, .door_id = 999}).status(),
              StatusCode::kNotFound, "no door with id 999");
  ExpectError(store_->CreateAccessRight({.user_id = 999, .door_id = lab}).status(),
              StatusCode::kNotFound, "no user with id 999");
  ExpectError(
      store_->CreateAccessRight({.user_id = ada, .door_id = lab, .schedule_id = 999}).status(),
      StatusCode::kNotFound, "no schedule with id 999");

  auto all = store_->ListAccessRights({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[1].id, group);
  EXPECT_EQ((*all)[1].group_id, staff);
  EXPECT_FALSE((*all)[1].user_id.has_value());
  EXPECT_EQ((*all)[1].schedule_id, office);
  EXPECT_EQ((*all)[1].created_at,
            std::chrono::time_point_cast<std::chrono::milliseconds>(clock_.Now()));
  EXPECT_EQ(store_->ListAccessRights({.user_id = ada})->size(), 1u);
  EXPECT_EQ(store_->ListAccessRights({.group_id = staff})->size(), 2u);
  EXPECT_EQ(store_->ListAccessRights({.door_id = front})->size(), 2u);
  EXPECT_EQ(store_->ListAccessRights({.group_id = staff, .door_id = lab})->front().id, lab_right);
  EXPECT_EQ(store_->ListAccessRights({.schedule_id = office})->size(), 1u);

  // Give the own right the schedule; moving the lab right onto an occupied pair fails.
  ASSERT_TRUE(
      store_
          ->UpdateAccessRight({.id = own, .user_id = ada, .door_id = front, .schedule_id = office})
          .ok());
  EXPECT_EQ(store_->ListAccessRights({.schedule_id = office})->size(), 2u);
  ExpectError(store_->UpdateAccessRight({.id = lab_right, .group_id = staff, .door_id = front}),
              StatusCode::kAlreadyExists, "already has a right to door");
  ExpectError(store_->UpdateAccessRight({.id = 999, .user_id = ada, .door_id = lab}),
              StatusCode::kNotFound, "no access right with id 999");
  ASSERT_TRUE(store_->DeleteAccessRight(lab_right).ok());
  ExpectError(store_->DeleteAccessRight(lab_right), StatusCode::kNotFound, "no access right");
}

TEST_F(AccessModelTest, DeletingAUserADoorOrAGroupCascades) {
  const int64_t ada = AddUser("ada");
  const int64_t bea = AddUser("bea");
  const int64_t front = AddDoor("front");
  const int64_t lab = AddDoor("lab");
  const int64_t staff = AddGroup("staff");
  const int64_t night = AddGroup("night");
  ASSERT_TRUE(store_->AddGroupMember(staff, ada).ok());
  ASSERT_TRUE(store_->AddGroupMember(night, bea).ok());
  AddRight({.user_id = ada, .door_id = front});
  AddRight({.user_id = ada, .door_id = lab});
  AddRight({.user_id = bea, .door_id = front});
  AddRight({.group_id = staff, .door_id = lab});
  AddRight({.group_id = night, .door_id = front});

  // The user: their memberships and own rights go; the group's right stays.
  ASSERT_TRUE(store_->EraseUser(ada).ok());
  EXPECT_TRUE(store_->ListGroupMembers(staff)->empty());
  EXPECT_TRUE(store_->ListAccessRights({.user_id = ada})->empty());
  EXPECT_EQ(store_->ListAccessRights({.group_id = staff})->size(), 1u);

  // The door (no DeleteDoor yet: the door API grows with the terminals work).
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec("PRAGMA foreign_keys = ON; DELETE FROM doors WHERE door_id = " +
                       std::to_string(lab)),
              "");
  }
  EXPECT_TRUE(store_->ListAccessRights({.door_id = lab})->empty());
  EXPECT_EQ(store_->ListAccessRights({})->size(), 2u);

  // The group: its memberships and rights go; the user stays.
  ASSERT_TRUE(store_->DeleteAccessGroup(night).ok());
  EXPECT_TRUE(store_->ListGroupsOfUser(bea)->empty());
  EXPECT_TRUE(store_->ListAccessRights({.group_id = night})->empty());
  EXPECT_TRUE(store_->GetUser(bea).ok());
  EXPECT_EQ(store_->ListAccessRights({})->size(), 1u);
}

TEST_F(AccessModelTest, SnapshotDataHasEveryTable) {
  const int64_t ada = AddUser("ada");
  const int64_t front = AddDoor("front");
  const int64_t staff = AddGroup("staff");
  const int64_t office = AddSchedule("office", {{1, 480, 1080}, {8, 600, 720}});
  ASSERT_TRUE(store_->AddGroupMember(staff, ada).ok());
  ASSERT_TRUE(store_->CreateHoliday({.local_date = "2026-12-25"}).ok());
  const int64_t right = AddRight({.group_id = staff, .door_id = front, .schedule_id = office});

  auto data = store_->LoadAccessSnapshotData();
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ASSERT_EQ(data->users.size(), 1u);
  EXPECT_EQ(data->users[0].external_id, "ada");
  ASSERT_EQ(data->doors.size(), 1u);
  EXPECT_EQ(data->doors[0].id, front);
  ASSERT_EQ(data->groups.size(), 1u);
  ASSERT_EQ(data->memberships.size(), 1u);
  EXPECT_EQ(data->memberships[0].group_id, staff);
  ASSERT_EQ(data->schedules.size(), 1u);
  EXPECT_EQ(data->schedules[0].ranges.size(), 2u);
  ASSERT_EQ(data->holidays.size(), 1u);
  ASSERT_EQ(data->rights.size(), 1u);
  EXPECT_EQ(data->rights[0].id, right);
  // The read transaction is over: writes go on.
  EXPECT_TRUE(store_->CreateAccessGroup({.external_id = "after"}).ok());
}

// Another process (facegatectl, a sync) commits a group together with its membership and its
// right in one transaction, again and again. Every snapshot read must see each group with
// both or with neither: the read is one transaction, not one per table.
TEST_F(AccessModelTest, SnapshotReadIsOneConsistentState) {
  constexpr int kWrites = 300;
  const int64_t ada = AddUser("ada");
  const int64_t front = AddDoor("front");
  std::atomic<bool> writer_done = false;
  std::atomic<int> committed = 0;
  std::string first_error;
  std::thread writer([&] {
    RawDb raw(options_.db_file);
    sqlite3_busy_timeout(raw.get(), 5000);
    raw.Exec("PRAGMA foreign_keys = ON");
    for (int i = 0; i < kWrites; ++i) {
      const std::string n = std::to_string(i);
      const std::string error = raw.Exec(
          "BEGIN IMMEDIATE;"
          "INSERT INTO access_groups (external_id, created_at_ms, updated_at_ms) VALUES ('g" +
          n +
          "', 0, 0);"
          "INSERT INTO user_groups (user_id, group_id) VALUES (" +
          std::to_string(ada) +
          ", last_insert_rowid());"
          "INSERT INTO access_rights (group_id, door_id, created_at_ms) "
          "VALUES ((SELECT max(group_id) FROM access_groups), " +
          std::to_string(front) +
          ", 0);"
          "COMMIT;");
      if (!error.empty()) {
        if (first_error.empty()) first_error = error;
        raw.Exec("ROLLBACK");
        continue;
      }
      ++committed;
    }
    writer_done = true;
  });
  int reads = 0;
  std::set<size_t> sizes_seen;
  for (bool last = false; !last;) {
    last = writer_done;  // one more read after the writer finished
    auto data = store_->LoadAccessSnapshotData();
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    ++reads;
    std::set<int64_t> groups, members, holders;
    for (const AccessGroup& g : data->groups) groups.insert(g.id);
    for (const GroupMembership& m : data->memberships) members.insert(m.group_id);
    for (const AccessRight& r : data->rights) holders.insert(*r.group_id);
    ASSERT_EQ(groups, members) << "read " << reads;
    ASSERT_EQ(groups, holders) << "read " << reads;
    sizes_seen.insert(groups.size());
  }
  writer.join();
  EXPECT_EQ(committed.load(), kWrites) << first_error;
  // The reads overlapped the writes (states in between were seen), so the check meant something.
  EXPECT_GT(sizes_seen.size(), 2u) << reads << " reads";
  EXPECT_EQ(*sizes_seen.rbegin(), static_cast<size_t>(kWrites));
}

}  // namespace
}  // namespace facegate::store
