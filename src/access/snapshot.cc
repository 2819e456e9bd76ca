#include "facegate/access/snapshot.h"

#include <algorithm>
#include <string>
#include <utility>

namespace facegate::access {
namespace {

std::string RightName(const Right& r) { return "access right " + std::to_string(r.id); }

int32_t DaysSinceEpoch(std::chrono::year_month_day date) {
  return static_cast<int32_t>(std::chrono::sys_days(date).time_since_epoch().count());
}

Status CheckRange(int64_t schedule_id, int day, TimeRange r) {
  const std::string where = "schedule " + std::to_string(schedule_id) + ", day " +
                            std::to_string(day) + " range " + std::to_string(r.start_minute) + "-" +
                            std::to_string(r.end_minute);
  if (day < kMonday || day > kSpecialDay2) {
    return Status::InvalidArgument(where + ": day must be 1..7 or 8..10");
  }
  if (r.start_minute < 0 || r.start_minute >= kMinutesPerDay || r.end_minute <= r.start_minute ||
      r.end_minute > kMinutesPerDay) {
    return Status::InvalidArgument(where + ": need 0 <= start < end <= 1440");
  }
  return Status::Ok();
}

}  // namespace

AccessSnapshot::Builder& AccessSnapshot::Builder::AddUser(const UserState& user) {
  users_.push_back(user);
  return *this;
}

AccessSnapshot::Builder& AccessSnapshot::Builder::AddDoor(int64_t door_id) {
  doors_.push_back(door_id);
  return *this;
}

AccessSnapshot::Builder& AccessSnapshot::Builder::AddMembership(int64_t user_id, int64_t group_id) {
  memberships_.emplace_back(user_id, group_id);
  return *this;
}

AccessSnapshot::Builder& AccessSnapshot::Builder::AddSchedule(int64_t schedule_id,
                                                              std::string calendar) {
  schedules_.emplace_back(schedule_id, std::move(calendar));
  return *this;
}

AccessSnapshot::Builder& AccessSnapshot::Builder::AddScheduleRange(int64_t schedule_id, int day,
                                                                   TimeRange range) {
  ranges_.push_back({schedule_id, day, range});
  return *this;
}

AccessSnapshot::Builder& AccessSnapshot::Builder::AddHoliday(std::string calendar,
                                                             std::chrono::year_month_day date,
                                                             int day_type) {
  holidays_.push_back({std::move(calendar), date, day_type});
  return *this;
}

AccessSnapshot::Builder& AccessSnapshot::Builder::AddRight(const Right& right) {
  rights_.push_back(right);
  return *this;
}

Result<std::shared_ptr<const AccessSnapshot>> AccessSnapshot::Builder::Build() {
  // make_shared cannot reach the private constructor.
  std::shared_ptr<AccessSnapshot> snap(new AccessSnapshot());

  for (const UserState& u : users_) {
    if (!snap->users_.emplace(u.id, u).second) {
      return Status::InvalidArgument("user " + std::to_string(u.id) + " added twice");
    }
  }
  for (int64_t door : doors_) snap->doors_.insert(door);
  for (const auto& [user, group] : memberships_) {
    if (!snap->users_.contains(user)) {
      return Status::InvalidArgument("membership of unknown user " + std::to_string(user) +
                                     " in group " + std::to_string(group));
    }
    snap->groups_of_user_[user].push_back(group);
  }
  for (auto& [user, groups] : snap->groups_of_user_) {
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  }

  std::unordered_map<std::string, int> calendar_index;
  for (const PendingHoliday& h : holidays_) {
    if (!h.date.ok())
      return Status::InvalidArgument("holiday of calendar '" + h.calendar +
                                     "' has an invalid date");
    if (h.day_type < kHoliday || h.day_type > kSpecialDay2) {
      return Status::InvalidArgument("holiday " + FormatLocalDate(h.date) + " of calendar '" +
                                     h.calendar + "': day type must be 8..10");
    }
    auto [it, added] = calendar_index.emplace(h.calendar, snap->holidays_by_calendar_.size());
    if (added) snap->holidays_by_calendar_.emplace_back();
    if (!snap->holidays_by_calendar_[it->second]
             .emplace(DaysSinceEpoch(h.date), h.day_type)
             .second) {
      return Status::InvalidArgument("calendar '" + h.calendar + "' has two holidays on " +
                                     FormatLocalDate(h.date));
    }
  }
  for (const auto& [id, calendar] : schedules_) {
    CompiledSchedule compiled;
    if (auto it = calendar_index.find(calendar); it != calendar_index.end()) {
      compiled.calendar_index = it->second;
    }
    if (!snap->schedules_.emplace(id, std::move(compiled)).second) {
      return Status::InvalidArgument("schedule " + std::to_string(id) + " added twice");
    }
  }
  for (const PendingRange& r : ranges_) {
    FACEGATE_RETURN_IF_ERROR(CheckRange(r.schedule_id, r.day, r.range));
    auto it = snap->schedules_.find(r.schedule_id);
    if (it == snap->schedules_.end()) {
      return Status::InvalidArgument("range of unknown schedule " + std::to_string(r.schedule_id));
    }
    it->second.ranges_by_day[r.day].push_back(r.range);
  }

  for (const Right& r : rights_) {
    if (r.user_id.has_value() == r.group_id.has_value()) {
      return Status::InvalidArgument(RightName(r) + ": needs exactly one of user and group");
    }
    if (!snap->doors_.contains(r.door_id)) {
      return Status::InvalidArgument(RightName(r) + ": unknown door " + std::to_string(r.door_id));
    }
    if (r.schedule_id && !snap->schedules_.contains(*r.schedule_id)) {
      return Status::InvalidArgument(RightName(r) + ": unknown schedule " +
                                     std::to_string(*r.schedule_id));
    }
    if (r.user_id && !snap->users_.contains(*r.user_id)) {
      return Status::InvalidArgument(RightName(r) + ": unknown user " + std::to_string(*r.user_id));
    }
    auto& rights = r.user_id ? snap->user_rights_ : snap->group_rights_;
    const HolderDoor key{r.user_id ? *r.user_id : *r.group_id, r.door_id};
    if (!rights.emplace(key, r).second) {
      return Status::InvalidArgument(RightName(r) + ": its holder already has a right to door " +
                                     std::to_string(r.door_id));
    }
  }
  return std::shared_ptr<const AccessSnapshot>(std::move(snap));
}

const UserState* AccessSnapshot::FindUser(int64_t user_id) const {
  auto it = users_.find(user_id);
  return it == users_.end() ? nullptr : &it->second;
}

bool AccessSnapshot::HasDoor(int64_t door_id) const { return doors_.contains(door_id); }

std::span<const int64_t> AccessSnapshot::GroupsOfUser(int64_t user_id) const {
  auto it = groups_of_user_.find(user_id);
  if (it == groups_of_user_.end()) return {};
  return it->second;
}

const Right* AccessSnapshot::FindUserRight(int64_t user_id, int64_t door_id) const {
  auto it = user_rights_.find(HolderDoor{user_id, door_id});
  return it == user_rights_.end() ? nullptr : &it->second;
}

const Right* AccessSnapshot::FindGroupRight(int64_t group_id, int64_t door_id) const {
  auto it = group_rights_.find(HolderDoor{group_id, door_id});
  return it == group_rights_.end() ? nullptr : &it->second;
}

bool AccessSnapshot::ScheduleAllows(int64_t schedule_id, const LocalTime& local) const {
  auto it = schedules_.find(schedule_id);
  if (it == schedules_.end()) return false;
  const CompiledSchedule& schedule = it->second;
  int day = local.iso_weekday;
  if (schedule.calendar_index >= 0) {
    const HolidayDays& holidays = holidays_by_calendar_[schedule.calendar_index];
    if (auto h = holidays.find(DaysSinceEpoch(local.date)); h != holidays.end()) day = h->second;
  }
  if (day < kMonday || day > kSpecialDay2) return false;
  for (const TimeRange& r : schedule.ranges_by_day[day]) {
    if (local.minute_of_day >= r.start_minute && local.minute_of_day < r.end_minute) return true;
  }
  return false;
}

}  // namespace facegate::access
