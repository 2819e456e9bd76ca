#include "facegate/ship/sync.h"

#include <ctime>

namespace facegate::ship {

Clock::WallTime FromSpaceLocalTime(const LocalDateTime& t) {
  std::tm tm{};
  tm.tm_year = t.year - 1900;
  tm.tm_mon = t.month - 1;
  tm.tm_mday = t.day;
  tm.tm_hour = t.hour;
  tm.tm_min = t.minute;
  tm.tm_sec = t.second;
  tm.tm_isdst = -1;  // the host's rules decide (a time in a repeated hour takes the first)
  const std::time_t seconds = std::mktime(&tm);
  return std::chrono::system_clock::from_time_t(seconds);
}

store::ShipSyncData ToSyncData(const std::vector<SpaceDoor>& doors,
                               const std::vector<SpaceTimezoneTable>& timezone_tables,
                               const std::vector<SpaceGroup>& groups,
                               const std::vector<SpaceUser>& users) {
  auto rights = [](const std::vector<SpaceUser::DoorPermission>& in) {
    std::vector<store::ShipDoorRight> out;
    out.reserve(in.size());
    for (const auto& p : in) out.push_back({p.ext_door_id, p.ext_timezone_table_id});
    return out;
  };
  store::ShipSyncData d;
  d.doors.reserve(doors.size());
  for (const auto& door : doors) {
    store::Door s;
    s.external_id = door.ext_door_id;
    s.name = door.name;
    s.source = store::RecordSource::kShip;
    d.doors.push_back(std::move(s));
  }
  for (const auto& t : timezone_tables) {
    store::Schedule s;
    s.external_id = t.ext_timezone_table_id;
    s.name = t.name;
    s.source = store::RecordSource::kShip;
    for (const auto& iv : t.intervals) {
      for (int day : iv.days) s.ranges.push_back({day, iv.start_minute, iv.end_minute});
    }
    d.schedules.push_back(std::move(s));
  }
  for (const auto& g : groups) d.groups.push_back({g.ext_group_id, g.name, rights(g.doors)});
  d.users.reserve(users.size());
  for (const auto& u : users) {
    store::ShipSyncUser s;
    s.external_id = u.ext_user_id;
    s.first_name = u.first_name;
    s.last_name = u.last_name;
    s.banned = u.banned;
    if (u.activation) s.valid_from = FromSpaceLocalTime(*u.activation);
    if (u.expiration) s.valid_until = FromSpaceLocalTime(*u.expiration);
    s.groups = u.groups;
    s.doors = rights(u.doors);
    d.users.push_back(std::move(s));
  }
  return d;
}

Result<SyncResult> RunFullSync(Client& client, store::Store& store, store::RemovedShipUser removed,
                               const Clock& clock) {
  SyncResult result;
  const auto started = clock.Monotonic();
  // Everything is read before anything is written: a failure part-way changes nothing.
  auto doors = client.ReadDoors();
  if (!doors.ok()) return doors.status().WithContext("sync: reading the doors");
  auto tables = client.ReadTimezoneTables();
  if (!tables.ok()) return tables.status().WithContext("sync: reading the time-zone tables");
  auto groups = client.ReadGroups();
  if (!groups.ok()) return groups.status().WithContext("sync: reading the groups");
  std::vector<SpaceUser> users;
  Status read = client.ReadUsers([&](std::vector<SpaceUser> page) {
    for (auto& u : page) users.push_back(std::move(u));
    return Status::Ok();
  });
  if (!read.ok()) return read.WithContext("sync: reading the users");
  result.doors_read = static_cast<int>(doors->size());
  result.timezone_tables_read = static_cast<int>(tables->size());
  result.groups_read = static_cast<int>(groups->size());
  result.users_read = static_cast<int>(users.size());
  const auto read_done = clock.Monotonic();
  result.read_time = std::chrono::duration_cast<std::chrono::milliseconds>(read_done - started);

  auto report = store.ApplyShipSync(ToSyncData(*doors, *tables, *groups, users), removed);
  if (!report.ok()) return report.status().WithContext("sync: writing to the store");
  result.report = std::move(report).value();
  result.apply_time =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - read_done);
  return result;
}

}  // namespace facegate::ship
