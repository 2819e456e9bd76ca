// AccessSnapshot: an immutable copy of the access model (users' states, group memberships,
// doors, rights, schedules and holidays) laid out for the lookups a decision makes.
//
// It is built once from the store (see snapshot_from_store.h) or by hand with
// AccessSnapshot::Builder, checked as a whole (every right names a known door, holder and
// schedule; every range and holiday is well formed), and then shared as
// std::shared_ptr<const AccessSnapshot>. A change to the model is a new snapshot swapped in
// by its owner; decisions in flight keep the one they started with.
//
// Lookups are hash maps keyed by id, so a decision costs a few probes whatever the site's
// size: the user, the (user, door) right, then one (group, door) probe per group of the user.
//
// Thread-safety: a built snapshot is immutable; any number of threads may read it at once
// without locking. A Builder is used by one thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "facegate/access/local_time.h"
#include "facegate/core/clock.h"
#include "facegate/core/status.h"

namespace facegate::access {

using WallTime = Clock::WallTime;

// Day numbers of schedule ranges: ISO weekdays, then the holiday day types.
inline constexpr int kMonday = 1;
inline constexpr int kSunday = 7;
inline constexpr int kHoliday = 8;
inline constexpr int kSpecialDay1 = 9;
inline constexpr int kSpecialDay2 = 10;

// What a decision needs of a user (no names: the snapshot holds nothing personal beyond ids).
struct UserState {
  int64_t id = 0;
  bool active = true;
  bool banned = false;
  std::optional<WallTime> valid_from;   // valid from this instant on (inclusive); none: always
  std::optional<WallTime> valid_until;  // expired from this instant on (exclusive); none: never
};

// Minutes from local midnight, [start_minute, end_minute); end 1440 runs to midnight.
struct TimeRange {
  int start_minute = 0;
  int end_minute = 0;
};

// A right of exactly one user or one group to a door; no schedule means at any time.
struct Right {
  int64_t id = 0;
  std::optional<int64_t> user_id;
  std::optional<int64_t> group_id;
  int64_t door_id = 0;
  std::optional<int64_t> schedule_id;
};

class AccessSnapshot {
 public:
  class Builder {
   public:
    Builder& AddUser(const UserState& user);
    Builder& AddDoor(int64_t door_id);
    Builder& AddMembership(int64_t user_id, int64_t group_id);
    // `calendar` names the holiday calendar whose dates replace weekdays for this schedule.
    Builder& AddSchedule(int64_t schedule_id, std::string calendar = "default");
    // `day`: 1..7 (ISO weekday) or 8..10 (holiday day types).
    Builder& AddScheduleRange(int64_t schedule_id, int day, TimeRange range);
    // On `date`, schedules of `calendar` use their ranges of `day_type` (8..10).
    Builder& AddHoliday(std::string calendar, std::chrono::year_month_day date, int day_type);
    Builder& AddRight(const Right& right);

    // Checks everything added and builds the snapshot; InvalidArgument names the first
    // problem (unknown door, user or schedule of a right, a duplicate, a malformed range...).
    Result<std::shared_ptr<const AccessSnapshot>> Build();

   private:
    struct PendingRange {
      int64_t schedule_id;
      int day;
      TimeRange range;
    };
    struct PendingHoliday {
      std::string calendar;
      std::chrono::year_month_day date;
      int day_type;
    };
    std::vector<UserState> users_;
    std::vector<int64_t> doors_;
    std::vector<std::pair<int64_t, int64_t>> memberships_;  // (user, group)
    std::vector<std::pair<int64_t, std::string>> schedules_;
    std::vector<PendingRange> ranges_;
    std::vector<PendingHoliday> holidays_;
    std::vector<Right> rights_;
  };

  const UserState* FindUser(int64_t user_id) const;
  bool HasDoor(int64_t door_id) const;
  // The user's groups, ascending.
  std::span<const int64_t> GroupsOfUser(int64_t user_id) const;
  const Right* FindUserRight(int64_t user_id, int64_t door_id) const;
  const Right* FindGroupRight(int64_t group_id, int64_t door_id) const;
  // Whether the schedule admits `local` (holidays of its calendar applied). An unknown
  // schedule admits nothing (cannot happen for a right of a built snapshot).
  bool ScheduleAllows(int64_t schedule_id, const LocalTime& local) const;

  size_t user_count() const { return users_.size(); }
  size_t door_count() const { return doors_.size(); }
  size_t right_count() const { return user_rights_.size() + group_rights_.size(); }

 private:
  AccessSnapshot() = default;

  struct HolderDoor {
    int64_t holder = 0;
    int64_t door = 0;
    friend bool operator==(const HolderDoor&, const HolderDoor&) = default;
  };
  struct HolderDoorHash {
    size_t operator()(const HolderDoor& k) const {
      // The door id times an odd 64-bit constant (Fibonacci hashing) spreads its bits over
      // the word, so pairs of small ids that differ in either id rarely collide.
      return std::hash<uint64_t>()(static_cast<uint64_t>(k.holder) ^
                                   (static_cast<uint64_t>(k.door) * 0x9e3779b97f4a7c15ULL));
    }
  };
  struct CompiledSchedule {
    std::array<std::vector<TimeRange>, kSpecialDay2 + 1> ranges_by_day;  // [1..10]
    int calendar_index = -1;  // into holidays_by_calendar_; -1: its calendar has no holidays
  };
  // Days since 1970-01-01 (local calendar) -> day type.
  using HolidayDays = std::unordered_map<int32_t, int>;

  std::unordered_map<int64_t, UserState> users_;
  std::unordered_set<int64_t> doors_;
  std::unordered_map<int64_t, std::vector<int64_t>> groups_of_user_;
  std::unordered_map<HolderDoor, Right, HolderDoorHash> user_rights_;
  std::unordered_map<HolderDoor, Right, HolderDoorHash> group_rights_;
  std::unordered_map<int64_t, CompiledSchedule> schedules_;
  std::vector<HolidayDays> holidays_by_calendar_;
};

}  // namespace facegate::access
