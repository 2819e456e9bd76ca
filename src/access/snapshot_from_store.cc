#include "facegate/access/snapshot_from_store.h"

#include <string>

namespace facegate::access {

Result<std::shared_ptr<const AccessSnapshot>> BuildSnapshot(const store::AccessModelData& data) {
  AccessSnapshot::Builder builder;
  for (const store::User& u : data.users) {
    builder.AddUser({.id = u.id,
                     .active = u.active,
                     .banned = u.banned,
                     .valid_from = u.valid_from,
                     .valid_until = u.valid_until});
  }
  for (const store::Door& d : data.doors) builder.AddDoor(d.id);
  for (const store::GroupMembership& m : data.memberships) {
    builder.AddMembership(m.user_id, m.group_id);
  }
  for (const store::Schedule& s : data.schedules) {
    builder.AddSchedule(s.id, s.calendar);
    for (const store::ScheduleRange& r : s.ranges) {
      builder.AddScheduleRange(s.id, r.day,
                               {.start_minute = r.start_minute, .end_minute = r.end_minute});
    }
  }
  for (const store::Holiday& h : data.holidays) {
    std::optional<std::chrono::year_month_day> date = ParseLocalDate(h.local_date);
    if (!date) {
      return Status::InvalidArgument("holiday of calendar '" + h.calendar + "': '" + h.local_date +
                                     "' is not a date written YYYY-MM-DD");
    }
    builder.AddHoliday(h.calendar, *date, h.day_type);
  }
  for (const store::AccessRight& r : data.rights) {
    builder.AddRight({.id = r.id,
                      .user_id = r.user_id,
                      .group_id = r.group_id,
                      .door_id = r.door_id,
                      .schedule_id = r.schedule_id});
  }
  Result<std::shared_ptr<const AccessSnapshot>> snapshot = builder.Build();
  if (!snapshot.ok()) return snapshot.status().WithContext("building the access snapshot");
  return snapshot;
}

Result<std::shared_ptr<const AccessSnapshot>> LoadSnapshot(store::Store& store) {
  Result<store::AccessModelData> data = store.LoadAccessSnapshotData();
  if (!data.ok()) return data.status();
  return BuildSnapshot(*data);
}

}  // namespace facegate::access
