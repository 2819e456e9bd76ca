// Decisions, one table row per case: every reason, the order of the checks, range boundaries,
// group rights, several rights, holidays and the validity instants.
#include "facegate/access/decision.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace facegate::access {
namespace {

using std::chrono::December;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::year;

constexpr int64_t kMainDoor = 10;
constexpr int64_t kLabDoor = 11;
constexpr int64_t kNobodysDoor = 12;

constexpr int64_t kAlice = 1;  // own right to the main door, no schedule
constexpr int64_t kBob = 2;    // banned and inactive
constexpr int64_t kCarol = 3;  // inactive
constexpr int64_t kDave = 4;   // valid [T0 + 1 h, T0 + 2 h)
constexpr int64_t kErin = 5;   // main door through the office group only
constexpr int64_t kFrank = 6;  // lab group: lab door only
constexpr int64_t kGrace = 7;  // own night right + office group
constexpr int64_t kHeidi = 8;  // own right, all of Monday [0, 1440)
constexpr int64_t kIvan = 9;   // schedule on the "other" holiday calendar

constexpr int64_t kOfficeGroup = 100;
constexpr int64_t kLabGroup = 101;

constexpr int64_t kOfficeHours = 1;    // Mon-Fri [08:00, 18:00); holiday (8) [10:00, 12:00)
constexpr int64_t kNight = 2;          // Mon [22:00, 24:00), Tue [00:00, 01:00)
constexpr int64_t kAllMonday = 3;      // Mon [0, 1440)
constexpr int64_t kOtherCalendar = 4;  // Mon-Fri all day, calendar "other"

constexpr int64_t kAliceRight = 1000;
constexpr int64_t kBobRight = 1001;
constexpr int64_t kCarolRight = 1002;
constexpr int64_t kDaveRight = 1003;
constexpr int64_t kOfficeRight = 1004;
constexpr int64_t kLabRight = 1005;
constexpr int64_t kGraceNightRight = 1006;
constexpr int64_t kHeidiRight = 1007;
constexpr int64_t kIvanRight = 1008;

const WallTime kT0 = WallTime(std::chrono::seconds(1'798'000'000));

// 2026-12-21 is a Monday; 2026-12-25 (Friday) is a holiday of the default calendar,
// 2026-12-24 (Thursday) a special day 1 of the "other" calendar.
constexpr std::chrono::year_month_day kMonday21{year(2026), December, std::chrono::day(21)};
constexpr std::chrono::year_month_day kTuesday22{year(2026), December, std::chrono::day(22)};
constexpr std::chrono::year_month_day kThursday24{year(2026), December, std::chrono::day(24)};
constexpr std::chrono::year_month_day kFriday25{year(2026), December, std::chrono::day(25)};
constexpr std::chrono::year_month_day kSaturday26{year(2026), December, std::chrono::day(26)};

std::shared_ptr<const AccessSnapshot> SiteSnapshot() {
  AccessSnapshot::Builder b;
  b.AddDoor(kMainDoor).AddDoor(kLabDoor).AddDoor(kNobodysDoor);
  b.AddUser({.id = kAlice});
  b.AddUser({.id = kBob, .active = false, .banned = true});
  b.AddUser({.id = kCarol, .active = false});
  b.AddUser({.id = kDave, .valid_from = kT0 + hours(1), .valid_until = kT0 + hours(2)});
  for (int64_t id : {kErin, kFrank, kGrace, kHeidi, kIvan}) b.AddUser({.id = id});
  b.AddMembership(kErin, kOfficeGroup)
      .AddMembership(kFrank, kLabGroup)
      .AddMembership(kGrace, kOfficeGroup);

  b.AddSchedule(kOfficeHours);
  for (int day = kMonday; day <= 5; ++day) b.AddScheduleRange(kOfficeHours, day, {480, 1080});
  b.AddScheduleRange(kOfficeHours, kHoliday, {600, 720});
  b.AddSchedule(kNight)
      .AddScheduleRange(kNight, 1, {1320, 1440})
      .AddScheduleRange(kNight, 2, {0, 60});
  b.AddSchedule(kAllMonday).AddScheduleRange(kAllMonday, 1, {0, 1440});
  b.AddSchedule(kOtherCalendar, "other");
  for (int day = kMonday; day <= 5; ++day) b.AddScheduleRange(kOtherCalendar, day, {0, 1440});
  b.AddHoliday("default", kFriday25, kHoliday).AddHoliday("other", kThursday24, kSpecialDay1);

  b.AddRight({.id = kAliceRight, .user_id = kAlice, .door_id = kMainDoor});
  b.AddRight({.id = kBobRight, .user_id = kBob, .door_id = kMainDoor});
  b.AddRight({.id = kCarolRight, .user_id = kCarol, .door_id = kMainDoor});
  b.AddRight({.id = kDaveRight, .user_id = kDave, .door_id = kMainDoor});
  b.AddRight({.id = kOfficeRight,
              .group_id = kOfficeGroup,
              .door_id = kMainDoor,
              .schedule_id = kOfficeHours});
  b.AddRight({.id = kLabRight, .group_id = kLabGroup, .door_id = kLabDoor});
  b.AddRight(
      {.id = kGraceNightRight, .user_id = kGrace, .door_id = kMainDoor, .schedule_id = kNight});
  b.AddRight(
      {.id = kHeidiRight, .user_id = kHeidi, .door_id = kMainDoor, .schedule_id = kAllMonday});
  b.AddRight(
      {.id = kIvanRight, .user_id = kIvan, .door_id = kMainDoor, .schedule_id = kOtherCalendar});
  auto snapshot = b.Build();
  EXPECT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  return snapshot.ok() ? *snapshot : nullptr;
}

struct Case {
  std::string name;
  std::optional<int64_t> user;
  int64_t door = kMainDoor;
  std::chrono::year_month_day date = kMonday21;
  int minute = 600;
  WallTime now = kT0 + hours(1) + std::chrono::minutes(30);  // inside Dave's validity
  Reason reason = Reason::kGranted;
  std::optional<int64_t> right = std::nullopt;  // the granting right, when granted
};

// ctest lists a parameterised test with its parameter: show the row's name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> Cases() {
  return {
      // Every reason.
      {.name = "granted_own_right_without_schedule", .user = kAlice, .right = kAliceRight},
      {.name = "door_unknown", .user = kAlice, .door = 99, .reason = Reason::kDoorUnknown},
      {.name = "door_checked_before_user", .user = 999, .door = 99, .reason = Reason::kDoorUnknown},
      {.name = "user_unknown_id", .user = 999, .reason = Reason::kUserUnknown},
      {.name = "user_unknown_none", .user = std::nullopt, .reason = Reason::kUserUnknown},
      {.name = "banned_before_inactive", .user = kBob, .reason = Reason::kUserBanned},
      {.name = "user_inactive", .user = kCarol, .reason = Reason::kUserInactive},
      {.name = "no_access_to_door_own",
       .user = kAlice,
       .door = kNobodysDoor,
       .reason = Reason::kNoAccessToDoor},
      {.name = "no_access_to_door_group", .user = kFrank, .reason = Reason::kNoAccessToDoor},
      {.name = "outside_schedule",
       .user = kErin,
       .date = kSaturday26,
       .reason = Reason::kOutsideSchedule},

      // Validity exactly at the boundary instants: [valid_from, valid_until).
      {.name = "validity_1ms_before_from",
       .user = kDave,
       .now = kT0 + hours(1) - milliseconds(1),
       .reason = Reason::kUserNotYetValid},
      {.name = "validity_at_from", .user = kDave, .now = kT0 + hours(1), .right = kDaveRight},
      {.name = "validity_1ms_before_until",
       .user = kDave,
       .now = kT0 + hours(2) - milliseconds(1),
       .right = kDaveRight},
      {.name = "validity_at_until",
       .user = kDave,
       .now = kT0 + hours(2),
       .reason = Reason::kUserExpired},

      // Group-only right, and range boundaries: start inclusive, end exclusive.
      {.name = "group_only_right", .user = kFrank, .door = kLabDoor, .right = kLabRight},
      {.name = "range_1_before_start",
       .user = kErin,
       .minute = 479,
       .reason = Reason::kOutsideSchedule},
      {.name = "range_at_start", .user = kErin, .minute = 480, .right = kOfficeRight},
      {.name = "range_1_before_end", .user = kErin, .minute = 1079, .right = kOfficeRight},
      {.name = "range_at_end", .user = kErin, .minute = 1080, .reason = Reason::kOutsideSchedule},

      // Midnight and 1440.
      {.name = "end_1440_covers_last_minute", .user = kHeidi, .minute = 1439, .right = kHeidiRight},
      {.name = "start_0_covers_midnight", .user = kHeidi, .minute = 0, .right = kHeidiRight},
      {.name = "next_day_midnight_is_another_day",
       .user = kHeidi,
       .date = kTuesday22,
       .minute = 0,
       .reason = Reason::kOutsideSchedule},

      // Several rights: the own night right and the office group's; any that admits wins.
      {.name = "several_own_admits_late",
       .user = kGrace,
       .minute = 1439,
       .right = kGraceNightRight},
      {.name = "several_own_admits_after_midnight",
       .user = kGrace,
       .date = kTuesday22,
       .minute = 0,
       .right = kGraceNightRight},
      {.name = "several_group_admits_by_day",
       .user = kGrace,
       .date = kTuesday22,
       .minute = 540,
       .right = kOfficeRight},
      {.name = "several_none_admits",
       .user = kGrace,
       .date = kTuesday22,
       .minute = 60,
       .reason = Reason::kOutsideSchedule},

      // Holidays: the day type's ranges replace the weekday's, for that calendar only.
      {.name = "holiday_replaces_weekday_range",
       .user = kErin,
       .date = kFriday25,
       .minute = 540,
       .reason = Reason::kOutsideSchedule},
      {.name = "holiday_range_start",
       .user = kErin,
       .date = kFriday25,
       .minute = 600,
       .right = kOfficeRight},
      {.name = "holiday_range_end",
       .user = kErin,
       .date = kFriday25,
       .minute = 720,
       .reason = Reason::kOutsideSchedule},
      {.name = "holiday_of_another_calendar_ignored",
       .user = kIvan,
       .date = kFriday25,
       .minute = 540,
       .right = kIvanRight},
      {.name = "special_day_without_ranges_admits_nothing",
       .user = kIvan,
       .date = kThursday24,
       .minute = 540,
       .reason = Reason::kOutsideSchedule},
  };
}

class DecisionTest : public ::testing::TestWithParam<Case> {};

TEST_P(DecisionTest, Decides) {
  static const std::shared_ptr<const AccessSnapshot> snapshot = SiteSnapshot();
  ASSERT_NE(snapshot, nullptr);
  const Case& c = GetParam();
  const AccessDecision d = Decide(*snapshot, {.user_id = c.user,
                                              .door_id = c.door,
                                              .now = c.now,
                                              .local = MakeLocalTime(c.date, c.minute)});
  EXPECT_EQ(d.reason_name(), ReasonName(c.reason));
  EXPECT_EQ(d.granted, c.reason == Reason::kGranted);
  if (c.reason == Reason::kGranted) {
    ASSERT_TRUE(d.granted_by.has_value());
    EXPECT_EQ(d.granted_by->right_id, c.right);
  } else {
    // A denial says why and nothing else (no right, group or schedule of the person).
    EXPECT_FALSE(d.granted_by.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Table, DecisionTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           return param.param.name;
                         });

TEST(DecisionReasons, EveryReasonIsCoveredAndSpelledAsDocumented) {
  const std::set<std::string> documented = {
      "granted",      "user_unknown",      "user_inactive",    "user_banned", "user_not_yet_valid",
      "user_expired", "no_access_to_door", "outside_schedule", "door_unknown"};
  std::set<std::string> covered;
  for (const Case& c : Cases()) covered.insert(std::string(ReasonName(c.reason)));
  EXPECT_EQ(covered, documented);
  std::set<std::string> all;
  for (Reason r : {Reason::kGranted, Reason::kDoorUnknown, Reason::kUserUnknown,
                   Reason::kUserBanned, Reason::kUserInactive, Reason::kUserNotYetValid,
                   Reason::kUserExpired, Reason::kNoAccessToDoor, Reason::kOutsideSchedule}) {
    all.insert(std::string(ReasonName(r)));
  }
  EXPECT_EQ(all, documented);
}

TEST(DecisionDetails, GroupGrantNamesTheGroupAndSchedule) {
  auto snapshot = SiteSnapshot();
  ASSERT_NE(snapshot, nullptr);
  const AccessDecision d = Decide(
      *snapshot,
      {.user_id = kErin, .door_id = kMainDoor, .now = kT0, .local = MakeLocalTime(kMonday21, 600)});
  ASSERT_TRUE(d.granted);
  EXPECT_EQ(d.granted_by->group_id, kOfficeGroup);
  EXPECT_EQ(d.granted_by->schedule_id, kOfficeHours);

  const AccessDecision own = Decide(*snapshot, {.user_id = kAlice,
                                                .door_id = kMainDoor,
                                                .now = kT0,
                                                .local = MakeLocalTime(kMonday21, 600)});
  ASSERT_TRUE(own.granted);
  EXPECT_FALSE(own.granted_by->group_id.has_value());
  EXPECT_FALSE(own.granted_by->schedule_id.has_value());
}

// The decision reads the local clock reading only: two instants an hour apart that read the
// same local time (summer and winter offset, or the repeated hour of a DST change) decide
// alike, and no instant conversion happens inside Decide.
TEST(DecisionDetails, OnlyTheLocalClockReadingMatters) {
  auto snapshot = SiteSnapshot();
  ASSERT_NE(snapshot, nullptr);
  const WallTime utc_0700 = WallTime(std::chrono::sys_days(kMonday21)) + hours(7);
  const LocalTime at_plus_1 = LocalTimeAtOffset(utc_0700, std::chrono::minutes(60));  // 08:00
  const LocalTime at_plus_2 = LocalTimeAtOffset(utc_0700 - hours(1), std::chrono::minutes(120));
  ASSERT_EQ(at_plus_1, at_plus_2);
  EXPECT_EQ(at_plus_1.minute_of_day, 480);
  for (const LocalTime& local : {at_plus_1, at_plus_2}) {
    EXPECT_TRUE(
        Decide(*snapshot, {.user_id = kErin, .door_id = kMainDoor, .now = kT0, .local = local})
            .granted);
  }
}

TEST(SnapshotBuilder, RejectsInconsistentModels) {
  auto expect_invalid = [](AccessSnapshot::Builder b, std::string_view needle) {
    auto s = b.Build();
    ASSERT_FALSE(s.ok()) << needle;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(needle), std::string::npos) << s.status().message();
  };
  AccessSnapshot::Builder base;
  base.AddDoor(1).AddUser({.id = 1}).AddSchedule(1);
  {
    auto b = base;
    b.AddRight({.id = 5, .user_id = 1, .door_id = 2});
    expect_invalid(b, "unknown door 2");
  }
  {
    auto b = base;
    b.AddRight({.id = 5, .user_id = 2, .door_id = 1});
    expect_invalid(b, "unknown user 2");
  }
  {
    auto b = base;
    b.AddRight({.id = 5, .user_id = 1, .group_id = 3, .door_id = 1});
    expect_invalid(b, "exactly one of user and group");
  }
  {
    auto b = base;
    b.AddRight({.id = 5, .user_id = 1, .door_id = 1, .schedule_id = 9});
    expect_invalid(b, "unknown schedule 9");
  }
  {
    auto b = base;
    b.AddRight({.id = 5, .user_id = 1, .door_id = 1})
        .AddRight({.id = 6, .user_id = 1, .door_id = 1});
    expect_invalid(b, "already has a right");
  }
  {
    auto b = base;
    b.AddScheduleRange(1, 1, {600, 600});
    expect_invalid(b, "start < end");
  }
  {
    auto b = base;
    b.AddScheduleRange(1, 11, {0, 60});
    expect_invalid(b, "day must be");
  }
  {
    auto b = base;
    b.AddScheduleRange(1, 1, {0, 1441});
    expect_invalid(b, "start < end <= 1440");
  }
  {
    auto b = base;
    b.AddHoliday("default", kMonday21, 7);
    expect_invalid(b, "day type must be 8..10");
  }
  {
    auto b = base;
    b.AddMembership(2, 100);
    expect_invalid(b, "unknown user 2");
  }
}

}  // namespace
}  // namespace facegate::access
