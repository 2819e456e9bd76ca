// Snapshots from the store's access model: BuildSnapshot over plain records, and the whole
// path from a real store (LoadAccessSnapshotData in one transaction) to a decision.
#include <gtest/gtest.h>

#include <chrono>

#include "facegate/access/decision.h"
#include "facegate/access/snapshot_from_store.h"
#include "store/store_testing.h"

namespace facegate::access {
namespace {

namespace chr = std::chrono;

const chr::year_month_day kSnapshotMonday{chr::year(2026), chr::December, chr::day(21)};
const chr::year_month_day kSnapshotHoliday{chr::year(2026), chr::December, chr::day(25)};

TEST(BuildSnapshot, CopiesTheModel) {
  store::AccessModelData data;
  store::User u;
  u.id = 1;
  u.external_id = "U1";
  u.first_name = "Ada";
  data.users.push_back(u);
  store::Door d;
  d.id = 7;
  d.external_id = "D7";
  data.doors.push_back(d);
  data.groups.push_back({.id = 3, .external_id = "G3"});
  data.memberships.push_back({.user_id = 1, .group_id = 3});
  store::Schedule s;
  s.id = 2;
  s.external_id = "S2";
  s.ranges = {{.day = 1, .start_minute = 480, .end_minute = 1080},
              {.day = 8, .start_minute = 600, .end_minute = 660}};
  data.schedules.push_back(s);
  data.holidays.push_back({.calendar = "default", .local_date = "2026-12-25", .day_type = 8});
  data.rights.push_back({.id = 9, .group_id = 3, .door_id = 7, .schedule_id = 2});

  auto snapshot = BuildSnapshot(data);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ((*snapshot)->user_count(), 1u);
  EXPECT_EQ((*snapshot)->right_count(), 1u);
  EXPECT_TRUE((*snapshot)->ScheduleAllows(2, MakeLocalTime(kSnapshotMonday, 480)));
  EXPECT_FALSE((*snapshot)->ScheduleAllows(2, MakeLocalTime(kSnapshotHoliday, 540)));
  EXPECT_TRUE((*snapshot)->ScheduleAllows(2, MakeLocalTime(kSnapshotHoliday, 600)));

  data.holidays[0].local_date = "2026-02-30";
  auto bad = BuildSnapshot(data);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("2026-02-30"), std::string::npos);
}

TEST(LoadSnapshot, FromARealStoreToADecision) {
  facegate::testing::TempDir dir;
  facegate::testing::FakeClock clock;
  auto opened = store::Store::Open(store::testing::MakeOptions(dir.path()), clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store::Store& st = **opened;

  store::User alice = store::testing::MakeUser("alice");
  alice.valid_until = clock.Now() + chr::hours(24);
  auto alice_id = st.UpsertUser(alice);
  auto bob_id = st.UpsertUser(store::testing::MakeUser("bob"));
  store::Door door;
  door.external_id = "front";
  auto door_id = st.UpsertDoor(door);
  auto group_id = st.CreateAccessGroup({.external_id = "staff"});
  store::Schedule office;
  office.external_id = "office";
  office.ranges = {{.day = 1, .start_minute = 480, .end_minute = 1080}};
  auto schedule_id = st.CreateSchedule(office);
  ASSERT_TRUE(alice_id.ok() && bob_id.ok() && door_id.ok() && group_id.ok() && schedule_id.ok());
  ASSERT_TRUE(st.AddGroupMember(*group_id, *alice_id).ok());
  auto right_id = st.CreateAccessRight(
      {.group_id = *group_id, .door_id = *door_id, .schedule_id = *schedule_id});
  ASSERT_TRUE(right_id.ok()) << right_id.status().ToString();

  auto snapshot = LoadSnapshot(st);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  auto decide = [&](int64_t user, int minute, WallTime now) {
    return Decide(**snapshot, {.user_id = user,
                               .door_id = *door_id,
                               .now = now,
                               .local = MakeLocalTime(kSnapshotMonday, minute)});
  };
  AccessDecision granted = decide(*alice_id, 600, clock.Now());
  EXPECT_TRUE(granted.granted);
  ASSERT_TRUE(granted.granted_by.has_value());
  EXPECT_EQ(granted.granted_by->right_id, *right_id);
  EXPECT_EQ(granted.granted_by->group_id, *group_id);
  EXPECT_EQ(decide(*alice_id, 1080, clock.Now()).reason, Reason::kOutsideSchedule);
  EXPECT_EQ(decide(*alice_id, 600, clock.Now() + chr::hours(24)).reason, Reason::kUserExpired);
  EXPECT_EQ(decide(*bob_id, 600, clock.Now()).reason, Reason::kNoAccessToDoor);
}

}  // namespace
}  // namespace facegate::access
