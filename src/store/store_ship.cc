// Store::ApplyShipSync: what Salto Space owns, replaced in one transaction (docs/ship.md).
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "store/rows.h"
#include "store/sqlite.h"
#include "store/store_impl.h"

namespace facegate::store::internal {
namespace {

constexpr size_t kSkippedExamples = 20;

struct Skips {
  ShipSyncReport* report;
  void Add(std::string what) {
    ++report->skipped;
    if (report->skipped_examples.size() < kSkippedExamples) {
      report->skipped_examples.push_back(std::move(what));
    }
  }
};

// external_id -> id of the rows of `table` whose source is 'ship'.
Result<std::map<std::string, int64_t>> ShipRows(Connection& db, const std::string& table,
                                                const std::string& id_column) {
  Result<Stmt> s =
      db.Prepare("SELECT external_id, " + id_column + " FROM " + table + " WHERE source = 'ship'");
  if (!s.ok()) return s.status();
  std::map<std::string, int64_t> out;
  for (;;) {
    Result<bool> row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.emplace(std::string(s->Text(0)), s->Int(1));
  }
  return out;
}

// Upserts one ship-owned row by external id (name and source; other columns keep their
// values) and returns its id.
Result<int64_t> UpsertNamed(Connection& db, const std::string& table, const std::string& id_column,
                            const std::string& external_id, const std::string& name,
                            int64_t now_ms) {
  Result<Stmt> s = db.Prepare("INSERT INTO " + table +
                              " (external_id, name, source, created_at_ms, updated_at_ms) "
                              "VALUES (?1, ?2, 'ship', ?3, ?3) ON CONFLICT (external_id) DO "
                              "UPDATE SET name = excluded.name, source = 'ship', "
                              "updated_at_ms = excluded.updated_at_ms RETURNING " +
                              id_column);
  if (!s.ok()) return s.status();
  s->Bind(1, external_id).Bind(2, name).Bind(3, now_ms);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::Internal("upsert into " + table + " returned no id");
  const int64_t id = s->Int(0);
  FACEGATE_RETURN_IF_ERROR(s->Run());
  return id;
}

Status DeleteById(Connection& db, const std::string& table, const std::string& id_column,
                  int64_t id) {
  Result<Stmt> s = db.Prepare("DELETE FROM " + table + " WHERE " + id_column + " = ?");
  if (!s.ok()) return s.status();
  return s->Bind(1, id).Run();
}

}  // namespace

Result<ShipSyncReport> StoreImpl::ApplyShipSync(const ShipSyncData& data, RemovedShipUser removed) {
  ShipSyncReport report;
  Skips skips{&report};
  std::lock_guard lock(mu_);
  const int64_t now = NowMs();
  bool erased = false;
  {
    Result<Transaction> txn = Transaction::Begin(*db_);
    if (!txn.ok()) return txn.status();
    Connection& db = *db_;

    // Every right Space gave is rebuilt below; none survives from the last sync.
    {
      Result<Stmt> s = db.Prepare("DELETE FROM access_rights WHERE source = 'ship'");
      if (!s.ok()) return s.status();
      FACEGATE_RETURN_IF_ERROR(s->Run());
    }

    // Doors.
    auto old_doors = ShipRows(db, "doors", "door_id");
    if (!old_doors.ok()) return old_doors.status();
    std::unordered_map<std::string, int64_t> doors;
    for (const Door& d : data.doors) {
      if (d.external_id.empty()) {
        skips.Add("a door without ExtDoorID");
        continue;
      }
      auto id = UpsertNamed(db, "doors", "door_id", d.external_id, d.name, now);
      if (!id.ok()) return id.status().WithContext("door " + d.external_id);
      doors[d.external_id] = *id;
      old_doors->erase(d.external_id);
    }
    for (const auto& [ext, id] : *old_doors) {
      FACEGATE_RETURN_IF_ERROR(DeleteById(db, "doors", "door_id", id));  // rights cascade
      ++report.doors_removed;
    }
    report.doors = static_cast<int>(doors.size());

    // Schedules (Space's time-zone tables) with their ranges.
    auto old_schedules = ShipRows(db, "schedules", "schedule_id");
    if (!old_schedules.ok()) return old_schedules.status();
    std::unordered_map<std::string, int64_t> schedules;
    for (const Schedule& sc : data.schedules) {
      if (sc.external_id.empty()) {
        skips.Add("a time-zone table without ExtTimezoneTableID");
        continue;
      }
      auto id = UpsertNamed(db, "schedules", "schedule_id", sc.external_id, sc.name, now);
      if (!id.ok()) return id.status().WithContext("schedule " + sc.external_id);
      schedules[sc.external_id] = *id;
      old_schedules->erase(sc.external_id);
      Result<Stmt> clear = db.Prepare("DELETE FROM schedule_ranges WHERE schedule_id = ?");
      if (!clear.ok()) return clear.status();
      FACEGATE_RETURN_IF_ERROR(clear->Bind(1, *id).Run());
      for (const ScheduleRange& r : sc.ranges) {
        if (r.day < 1 || r.day > 10 || r.start_minute < 0 || r.end_minute > kMinutesPerDay ||
            r.start_minute >= r.end_minute) {
          skips.Add("time-zone table " + sc.external_id + ": a range that is not a time of day");
          continue;
        }
        Result<Stmt> add = db.Prepare(
            "INSERT INTO schedule_ranges (schedule_id, day, start_minute, end_minute) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET end_minute = "
            "max(end_minute, excluded.end_minute)");
        if (!add.ok()) return add.status();
        FACEGATE_RETURN_IF_ERROR(
            add->Bind(1, *id).Bind(2, r.day).Bind(3, r.start_minute).Bind(4, r.end_minute).Run());
      }
    }
    for (const auto& [ext, id] : *old_schedules) {
      // A local right within a schedule Space removed goes with it: widening it to "any
      // time" would open a door the schedule kept shut.
      Result<Stmt> rights = db.Prepare("DELETE FROM access_rights WHERE schedule_id = ?");
      if (!rights.ok()) return rights.status();
      FACEGATE_RETURN_IF_ERROR(rights->Bind(1, id).Run());
      FACEGATE_RETURN_IF_ERROR(DeleteById(db, "schedules", "schedule_id", id));
      ++report.schedules_removed;
    }
    report.schedules = static_cast<int>(schedules.size());

    // Groups.
    auto old_groups = ShipRows(db, "access_groups", "group_id");
    if (!old_groups.ok()) return old_groups.status();
    std::unordered_map<std::string, int64_t> groups;
    for (const ShipSyncGroup& g : data.groups) {
      if (g.external_id.empty()) {
        skips.Add("a group without ExtGroupID");
        continue;
      }
      auto id = UpsertNamed(db, "access_groups", "group_id", g.external_id, g.name, now);
      if (!id.ok()) return id.status().WithContext("group " + g.external_id);
      groups[g.external_id] = *id;
      old_groups->erase(g.external_id);
    }
    for (const auto& [ext, id] : *old_groups) {
      FACEGATE_RETURN_IF_ERROR(DeleteById(db, "access_groups", "group_id", id));
      ++report.groups_removed;
    }
    report.groups = static_cast<int>(groups.size());
    {
      // Memberships in Space's groups are Space's; those in local groups stay.
      Result<Stmt> s = db.Prepare(
          "DELETE FROM user_groups WHERE group_id IN "
          "(SELECT group_id FROM access_groups WHERE source = 'ship')");
      if (!s.ok()) return s.status();
      FACEGATE_RETURN_IF_ERROR(s->Run());
    }

    // A right: kept only when the door (and the schedule, if one is named) exist.
    auto add_right = [&](const char* holder_column, int64_t holder, const ShipDoorRight& r,
                         const std::string& whose) -> Status {
      auto door = doors.find(r.door);
      if (door == doors.end()) {
        skips.Add(whose + ": right to unknown door " + r.door);
        return Status::Ok();
      }
      std::optional<int64_t> schedule;
      if (!r.schedule.empty()) {
        auto sc = schedules.find(r.schedule);
        if (sc == schedules.end()) {
          // Unknown schedule: no right at all, never one at any time.
          skips.Add(whose + ": right to door " + r.door + " within unknown time-zone table " +
                    r.schedule);
          return Status::Ok();
        }
        schedule = sc->second;
      }
      Result<Stmt> s = db.Prepare(std::string("INSERT INTO access_rights (") + holder_column +
                                  ", door_id, schedule_id, source, created_at_ms) "
                                  "VALUES (?, ?, ?, 'ship', ?) ON CONFLICT DO NOTHING");
      if (!s.ok()) return s.status();
      FACEGATE_RETURN_IF_ERROR(
          s->Bind(1, holder).Bind(2, door->second).Bind(3, schedule).Bind(4, now).Run());
      report.rights += db.Changes();
      return Status::Ok();
    };
    for (const ShipSyncGroup& g : data.groups) {
      auto it = groups.find(g.external_id);
      if (it == groups.end()) continue;
      for (const auto& r : g.doors) {
        FACEGATE_RETURN_IF_ERROR(add_right("group_id", it->second, r, "group " + g.external_id));
      }
    }

    // Users.
    std::unordered_map<std::string, std::pair<int64_t, std::string>> existing;  // id, source
    {
      Result<Stmt> s = db.Prepare("SELECT external_id, user_id, source FROM users");
      if (!s.ok()) return s.status();
      for (;;) {
        Result<bool> row = s->Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        existing.emplace(std::string(s->Text(0)),
                         std::make_pair(s->Int(1), std::string(s->Text(2))));
      }
    }
    std::set<std::string> in_space;
    for (const ShipSyncUser& su : data.users) {
      if (su.external_id.empty()) {
        skips.Add("a user without ExtUserID");
        continue;
      }
      if (!in_space.insert(su.external_id).second) {
        skips.Add("user " + su.external_id + " listed twice");
        continue;
      }
      if (su.valid_from && su.valid_until && *su.valid_until < *su.valid_from) {
        // Space says the user's access ended before it began: they get none.
        skips.Add("user " + su.external_id + ": expiration before activation");
      }
      auto old = existing.find(su.external_id);
      if (old == existing.end()) {
        ++report.users_added;
      } else if (old->second.second == "ship") {
        ++report.users_updated;
      } else {
        ++report.users_adopted;
      }
      User u;
      u.external_id = su.external_id;
      u.first_name = su.first_name;
      u.last_name = su.last_name;
      u.banned = su.banned;
      u.valid_from = su.valid_from;
      u.valid_until = su.valid_until;
      if (u.valid_from && u.valid_until && *u.valid_until < *u.valid_from) {
        u.valid_until = u.valid_from;
        u.active = false;
      }
      u.source = RecordSource::kShip;
      auto id = UpsertUserLocked(u);
      if (!id.ok()) return id.status();
      for (const std::string& g : su.groups) {
        auto it = groups.find(g);
        if (it == groups.end()) {
          skips.Add("user " + su.external_id + ": member of unknown group " + g);
          continue;
        }
        Result<Stmt> s = db.Prepare(
            "INSERT INTO user_groups (user_id, group_id) VALUES (?, ?) ON CONFLICT DO NOTHING");
        if (!s.ok()) return s.status();
        FACEGATE_RETURN_IF_ERROR(s->Bind(1, *id).Bind(2, it->second).Run());
        report.memberships += db.Changes();
      }
      for (const auto& r : su.doors) {
        FACEGATE_RETURN_IF_ERROR(add_right("user_id", *id, r, "user " + su.external_id));
      }
    }
    for (const auto& [ext, row] : existing) {
      if (row.second != "ship" || in_space.count(ext)) continue;
      ++report.users_removed;
      if (removed == RemovedShipUser::kErase) {
        Result<Stmt> photos = db.Prepare("DELETE FROM face_photos WHERE user_id = ?");
        if (!photos.ok()) return photos.status();
        FACEGATE_RETURN_IF_ERROR(photos->Bind(1, row.first).Run());
        Result<Stmt> templates = db.Prepare("DELETE FROM face_templates WHERE user_id = ?");
        if (!templates.ok()) return templates.status();
        FACEGATE_RETURN_IF_ERROR(templates->Bind(1, row.first).Run());
        report.templates_erased += db.Changes();
        FACEGATE_RETURN_IF_ERROR(DeleteById(db, "users", "user_id", row.first));
        erased = true;
      } else {
        // Kept with their face, without access: inactive, no rights, no memberships.
        Result<Stmt> off =
            db.Prepare("UPDATE users SET active = 0, updated_at_ms = ? WHERE user_id = ?");
        if (!off.ok()) return off.status();
        FACEGATE_RETURN_IF_ERROR(off->Bind(1, now).Bind(2, row.first).Run());
        Result<Stmt> rights = db.Prepare("DELETE FROM access_rights WHERE user_id = ?");
        if (!rights.ok()) return rights.status();
        FACEGATE_RETURN_IF_ERROR(rights->Bind(1, row.first).Run());
        Result<Stmt> member = db.Prepare("DELETE FROM user_groups WHERE user_id = ?");
        if (!member.ok()) return member.status();
        FACEGATE_RETURN_IF_ERROR(member->Bind(1, row.first).Run());
      }
    }
    FACEGATE_RETURN_IF_ERROR(txn->Commit());
  }
  if (erased) report.wal_truncated = CheckpointTruncateLocked();
  return report;
}

}  // namespace facegate::store::internal
