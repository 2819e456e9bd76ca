// The access model of StoreImpl: groups, memberships, schedules and their ranges, holidays,
// rights, and the one-transaction read the decision snapshot is built from.
//
// These are StoreImpl members defined apart from store_impl.cc; they use the same mutex
// (mu_), connection and Transaction/Stmt helpers. Helpers private to this file take the
// Connection explicitly so that store_impl.h needs no private declarations for them.
#include <chrono>
#include <map>
#include <string>
#include <unordered_map>

#include "store/rows.h"
#include "store/sqlite.h"
#include "store/store_impl.h"

namespace facegate::store::internal {
namespace {

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// Runs a SELECT and calls `read(stmt)` for every row.
template <typename ReadRow>
Status ForEachRow(Stmt& stmt, ReadRow read) {
  for (;;) {
    Result<bool> row = stmt.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    read(stmt);
  }
}

// Whether a row with this integer key exists; `table` and `column` are constants of this file.
Result<bool> RowExists(Connection& db, std::string_view table, std::string_view column,
                       int64_t id) {
  Result<Stmt> s =
      db.Prepare("SELECT 1 FROM " + std::string(table) + " WHERE " + std::string(column) + " = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  return *row;
}

Status RequireRow(Connection& db, std::string_view table, std::string_view column, int64_t id,
                  std::string_view what) {
  Result<bool> exists = RowExists(db, table, column, id);
  if (!exists.ok()) return exists.status();
  if (!*exists)
    return Status::NotFound("no " + std::string(what) + " with id " + std::to_string(id));
  return Status::Ok();
}

// ---------------------------------------------------------------- validation

Status ValidateGroup(const AccessGroup& g) {
  if (g.external_id.empty()) return Status::InvalidArgument("access group: external_id is empty");
  return Status::Ok();
}

Status ValidateRanges(std::string_view schedule, std::span<const ScheduleRange> ranges) {
  std::map<std::pair<int, int>, int> seen;  // (day, start) -> end
  for (const ScheduleRange& r : ranges) {
    const std::string where = "schedule " + Quoted(schedule) + ", range day " +
                              std::to_string(r.day) + " " + std::to_string(r.start_minute) + "-" +
                              std::to_string(r.end_minute);
    if (r.day < kFirstWeekday || r.day > kSpecialDay2Type) {
      return Status::InvalidArgument(where +
                                     ": day must be 1..7 (ISO weekday) or 8..10 (holiday types)");
    }
    if (r.start_minute < 0 || r.start_minute >= kMinutesPerDay) {
      return Status::InvalidArgument(where + ": start_minute must be 0..1439");
    }
    if (r.end_minute <= r.start_minute || r.end_minute > kMinutesPerDay) {
      return Status::InvalidArgument(where +
                                     ": end_minute must be after start_minute, at most 1440");
    }
    if (!seen.emplace(std::pair(r.day, r.start_minute), r.end_minute).second) {
      return Status::InvalidArgument(where + ": two ranges start at the same minute of that day");
    }
  }
  return Status::Ok();
}

Status ValidateSchedule(const Schedule& s) {
  if (s.external_id.empty()) return Status::InvalidArgument("schedule: external_id is empty");
  if (s.calendar.empty()) {
    return Status::InvalidArgument("schedule " + Quoted(s.external_id) + ": calendar is empty");
  }
  return ValidateRanges(s.external_id, s.ranges);
}

// YYYY-MM-DD naming a real date (the schema's GLOB accepts 2026-02-31).
bool IsCalendarDate(std::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (date[i] < '0' || date[i] > '9') return false;
  }
  auto number = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (date[i] - '0');
    return v;
  };
  const std::chrono::year_month_day ymd{std::chrono::year(number(0, 4)),
                                        std::chrono::month(static_cast<unsigned>(number(5, 2))),
                                        std::chrono::day(static_cast<unsigned>(number(8, 2)))};
  return ymd.ok();
}

Status ValidateHolidayKey(std::string_view calendar, std::string_view local_date) {
  if (calendar.empty()) return Status::InvalidArgument("holiday: calendar is empty");
  if (!IsCalendarDate(local_date)) {
    return Status::InvalidArgument("holiday: " + Quoted(local_date) +
                                   " is not a date written YYYY-MM-DD");
  }
  return Status::Ok();
}

Status ValidateHoliday(const Holiday& h) {
  FACEGATE_RETURN_IF_ERROR(ValidateHolidayKey(h.calendar, h.local_date));
  if (h.day_type < kHolidayDayType || h.day_type > kSpecialDay2Type) {
    return Status::InvalidArgument("holiday " + h.local_date + ": day_type must be 8 (holiday), " +
                                   "9 or 10 (special days), not " + std::to_string(h.day_type));
  }
  return Status::Ok();
}

Status ValidateRight(const AccessRight& r) {
  if (r.user_id.has_value() == r.group_id.has_value()) {
    return Status::InvalidArgument("access right: set exactly one of user_id and group_id");
  }
  if (r.door_id <= 0) return Status::InvalidArgument("access right: door_id must be set");
  return Status::Ok();
}

std::string DescribeHolder(const AccessRight& r) {
  return r.user_id ? "user " + std::to_string(*r.user_id) : "group " + std::to_string(*r.group_id);
}

// The referenced user or group, the door and the schedule exist (requires a transaction).
Status RequireRightReferences(Connection& db, const AccessRight& r) {
  if (r.user_id) FACEGATE_RETURN_IF_ERROR(RequireRow(db, "users", "user_id", *r.user_id, "user"));
  if (r.group_id) {
    FACEGATE_RETURN_IF_ERROR(
        RequireRow(db, "access_groups", "group_id", *r.group_id, "access group"));
  }
  FACEGATE_RETURN_IF_ERROR(RequireRow(db, "doors", "door_id", r.door_id, "door"));
  if (r.schedule_id) {
    FACEGATE_RETURN_IF_ERROR(
        RequireRow(db, "schedules", "schedule_id", *r.schedule_id, "schedule"));
  }
  return Status::Ok();
}

// Turns a unique-constraint failure on a right into a message naming the right in the way.
Status DuplicateRightError(Connection& db, const AccessRight& r) {
  Result<Stmt> s = db.Prepare(
      "SELECT right_id FROM access_rights WHERE door_id = ?1 AND "
      "((?2 IS NOT NULL AND user_id = ?2) OR (?3 IS NOT NULL AND group_id = ?3))");
  std::string existing;
  if (s.ok()) {
    s->Bind(1, r.door_id).Bind(2, r.user_id).Bind(3, r.group_id);
    Result<bool> row = s->Step();
    if (row.ok() && *row) existing = " (right " + std::to_string(s->Int(0)) + ")";
  }
  return Status::AlreadyExists(DescribeHolder(r) + " already has a right to door " +
                               std::to_string(r.door_id) + existing +
                               "; change that right's schedule instead");
}

// ---------------------------------------------------------------- reading

constexpr std::string_view kGroupColumns = "group_id, external_id, name, source";

AccessGroup ReadGroup(const Stmt& s) {
  AccessGroup g;
  g.id = s.Int(0);
  g.external_id = s.Text(1);
  g.name = s.Text(2);
  g.source = ParseRecordSource(s.Text(3));
  return g;
}

constexpr std::string_view kRightColumns =
    "right_id, user_id, group_id, door_id, schedule_id, source, created_at_ms";

AccessRight ReadRight(const Stmt& s) {
  AccessRight r;
  r.id = s.Int(0);
  r.user_id = s.OptionalInt(1);
  r.group_id = s.OptionalInt(2);
  r.door_id = s.Int(3);
  r.schedule_id = s.OptionalInt(4);
  r.source = ParseRecordSource(s.Text(5));
  r.created_at = FromMs(s.Int(6));
  return r;
}

Holiday ReadHoliday(const Stmt& s) {
  Holiday h;
  h.calendar = s.Text(0);
  h.local_date = s.Text(1);
  h.day_type = static_cast<int>(s.Int(2));
  h.name = s.Text(3);
  h.source = ParseRecordSource(s.Text(4));
  return h;
}

// Schedules with their ranges; only `only_id` when it is set.
Result<std::vector<Schedule>> ReadSchedules(Connection& db, std::optional<int64_t> only_id) {
  Result<Stmt> head = db.Prepare(
      "SELECT schedule_id, external_id, name, calendar, source FROM schedules "
      "WHERE ?1 IS NULL OR schedule_id = ?1 ORDER BY schedule_id");
  if (!head.ok()) return head.status();
  head->Bind(1, only_id);
  std::vector<Schedule> schedules;
  std::unordered_map<int64_t, size_t> index_of;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*head, [&](const Stmt& s) {
    Schedule sc;
    sc.id = s.Int(0);
    sc.external_id = s.Text(1);
    sc.name = s.Text(2);
    sc.calendar = s.Text(3);
    sc.source = ParseRecordSource(s.Text(4));
    index_of.emplace(sc.id, schedules.size());
    schedules.push_back(std::move(sc));
  }));
  Result<Stmt> ranges = db.Prepare(
      "SELECT schedule_id, day, start_minute, end_minute FROM schedule_ranges "
      "WHERE ?1 IS NULL OR schedule_id = ?1 ORDER BY schedule_id, day, start_minute");
  if (!ranges.ok()) return ranges.status();
  ranges->Bind(1, only_id);
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*ranges, [&](const Stmt& s) {
    auto it = index_of.find(s.Int(0));
    if (it == index_of.end()) return;  // cannot happen: ranges cascade with their schedule
    schedules[it->second].ranges.push_back(
        {static_cast<int>(s.Int(1)), static_cast<int>(s.Int(2)), static_cast<int>(s.Int(3))});
  }));
  return schedules;
}

Status WriteScheduleRanges(Connection& db, int64_t schedule_id,
                           std::span<const ScheduleRange> ranges) {
  Result<Stmt> clear = db.Prepare("DELETE FROM schedule_ranges WHERE schedule_id = ?");
  if (!clear.ok()) return clear.status();
  FACEGATE_RETURN_IF_ERROR(clear->Bind(1, schedule_id).Run());
  Result<Stmt> insert = db.Prepare(
      "INSERT INTO schedule_ranges (schedule_id, day, start_minute, end_minute) "
      "VALUES (?, ?, ?, ?)");
  if (!insert.ok()) return insert.status();
  for (const ScheduleRange& r : ranges) {
    FACEGATE_RETURN_IF_ERROR(insert->Bind(1, schedule_id)
                                 .Bind(2, r.day)
                                 .Bind(3, r.start_minute)
                                 .Bind(4, r.end_minute)
                                 .Run());
  }
  return Status::Ok();
}

// Runs `sql` (no parameters) and appends read(row) for every row to `out`.
template <typename T, typename ReadRow>
Status ReadAll(Connection& db, const std::string& sql, std::vector<T>* out, ReadRow read) {
  Result<Stmt> s = db.Prepare(sql);
  if (!s.ok()) return s.status();
  return ForEachRow(*s, [&](const Stmt& row) { out->push_back(read(row)); });
}

Status ReadAccessModel(Connection& db, AccessModelData* data) {
  FACEGATE_RETURN_IF_ERROR(
      ReadAll(db, "SELECT " + std::string(kUserColumns) + " FROM users ORDER BY user_id",
              &data->users, ReadUser));
  FACEGATE_RETURN_IF_ERROR(ReadAll(
      db, "SELECT door_id, external_id, name, settings_json, source FROM doors ORDER BY door_id",
      &data->doors, [](const Stmt& s) {
        Door d;
        d.id = s.Int(0);
        d.external_id = s.Text(1);
        d.name = s.Text(2);
        d.settings_json = s.Text(3);
        d.source = ParseRecordSource(s.Text(4));
        return d;
      }));
  FACEGATE_RETURN_IF_ERROR(
      ReadAll(db, "SELECT " + std::string(kGroupColumns) + " FROM access_groups ORDER BY group_id",
              &data->groups, ReadGroup));
  FACEGATE_RETURN_IF_ERROR(ReadAll(
      db, "SELECT user_id, group_id FROM user_groups ORDER BY user_id, group_id",
      &data->memberships,
      [](const Stmt& s) { return GroupMembership{.user_id = s.Int(0), .group_id = s.Int(1)}; }));
  Result<std::vector<Schedule>> schedules = ReadSchedules(db, std::nullopt);
  if (!schedules.ok()) return schedules.status();
  data->schedules = std::move(schedules).value();
  FACEGATE_RETURN_IF_ERROR(
      ReadAll(db,
              "SELECT calendar, local_date, day_type, name, source FROM holidays "
              "ORDER BY calendar, local_date",
              &data->holidays, ReadHoliday));
  return ReadAll(db,
                 "SELECT " + std::string(kRightColumns) + " FROM access_rights ORDER BY right_id",
                 &data->rights, ReadRight);
}

}  // namespace

// ---------------------------------------------------------------- groups

Result<int64_t> StoreImpl::CreateAccessGroup(const AccessGroup& g) {
  FACEGATE_RETURN_IF_ERROR(ValidateGroup(g));
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO access_groups (external_id, name, source, created_at_ms, updated_at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?4)");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, g.external_id)
                  .Bind(2, g.name)
                  .Bind(3, RecordSourceName(g.source))
                  .Bind(4, NowMs())
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("an access group with external id " + Quoted(g.external_id) +
                                 " exists");
  }
  FACEGATE_RETURN_IF_ERROR(st);
  return db_->LastInsertRowId();
}

Status StoreImpl::UpdateAccessGroup(const AccessGroup& g) {
  FACEGATE_RETURN_IF_ERROR(ValidateGroup(g));
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "UPDATE access_groups SET external_id = ?1, name = ?2, source = ?3, updated_at_ms = ?4 "
      "WHERE group_id = ?5");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, g.external_id)
                  .Bind(2, g.name)
                  .Bind(3, RecordSourceName(g.source))
                  .Bind(4, NowMs())
                  .Bind(5, g.id)
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("another access group has external id " + Quoted(g.external_id));
  }
  FACEGATE_RETURN_IF_ERROR(st);
  if (db_->Changes() == 0)
    return Status::NotFound("no access group with id " + std::to_string(g.id));
  return Status::Ok();
}

Status StoreImpl::DeleteAccessGroup(int64_t group_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("DELETE FROM access_groups WHERE group_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, group_id).Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("no access group with id " + std::to_string(group_id));
  }
  return Status::Ok();
}

Result<std::vector<AccessGroup>> StoreImpl::ListAccessGroups() {
  std::lock_guard lock(mu_);
  std::vector<AccessGroup> groups;
  FACEGATE_RETURN_IF_ERROR(ReadAll(
      *db_, "SELECT " + std::string(kGroupColumns) + " FROM access_groups ORDER BY group_id",
      &groups, ReadGroup));
  return groups;
}

Result<std::optional<AccessGroup>> StoreImpl::FindAccessGroupByExternalId(
    std::string_view external_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("SELECT " + std::string(kGroupColumns) +
                                " FROM access_groups WHERE external_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, external_id);
  Result<bool> row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<AccessGroup>();
  return std::optional<AccessGroup>(ReadGroup(*s));
}

// ---------------------------------------------------------------- memberships

Status StoreImpl::AddGroupMember(int64_t group_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  FACEGATE_RETURN_IF_ERROR(RequireRow(*db_, "access_groups", "group_id", group_id, "access group"));
  FACEGATE_RETURN_IF_ERROR(RequireRow(*db_, "users", "user_id", user_id, "user"));
  Result<Stmt> s = db_->Prepare("INSERT INTO user_groups (user_id, group_id) VALUES (?, ?)");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, user_id).Bind(2, group_id).Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("user " + std::to_string(user_id) +
                                 " is already a member of access group " +
                                 std::to_string(group_id));
  }
  FACEGATE_RETURN_IF_ERROR(st);
  return txn->Commit();
}

Status StoreImpl::RemoveGroupMember(int64_t group_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("DELETE FROM user_groups WHERE user_id = ? AND group_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, user_id).Bind(2, group_id).Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("user " + std::to_string(user_id) +
                            " is not a member of access group " + std::to_string(group_id));
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> StoreImpl::ListGroupMembers(int64_t group_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("SELECT user_id FROM user_groups WHERE group_id = ? ORDER BY user_id");
  if (!s.ok()) return s.status();
  s->Bind(1, group_id);
  std::vector<int64_t> users;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) { users.push_back(row.Int(0)); }));
  return users;
}

Result<std::vector<int64_t>> StoreImpl::ListGroupsOfUser(int64_t user_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s =
      db_->Prepare("SELECT group_id FROM user_groups WHERE user_id = ? ORDER BY group_id");
  if (!s.ok()) return s.status();
  s->Bind(1, user_id);
  std::vector<int64_t> groups;
  FACEGATE_RETURN_IF_ERROR(ForEachRow(*s, [&](const Stmt& row) { groups.push_back(row.Int(0)); }));
  return groups;
}

// ---------------------------------------------------------------- schedules

Result<int64_t> StoreImpl::CreateSchedule(const Schedule& sc) {
  FACEGATE_RETURN_IF_ERROR(ValidateSchedule(sc));
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO schedules (external_id, name, calendar, source, created_at_ms, updated_at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, sc.external_id)
                  .Bind(2, sc.name)
                  .Bind(3, sc.calendar)
                  .Bind(4, RecordSourceName(sc.source))
                  .Bind(5, NowMs())
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("a schedule with external id " + Quoted(sc.external_id) +
                                 " exists");
  }
  FACEGATE_RETURN_IF_ERROR(st);
  const int64_t id = db_->LastInsertRowId();
  FACEGATE_RETURN_IF_ERROR(WriteScheduleRanges(*db_, id, sc.ranges));
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return id;
}

Status StoreImpl::UpdateSchedule(const Schedule& sc) {
  FACEGATE_RETURN_IF_ERROR(ValidateSchedule(sc));
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  Result<Stmt> s = db_->Prepare(
      "UPDATE schedules SET external_id = ?1, name = ?2, calendar = ?3, source = ?4, "
      "updated_at_ms = ?5 WHERE schedule_id = ?6");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, sc.external_id)
                  .Bind(2, sc.name)
                  .Bind(3, sc.calendar)
                  .Bind(4, RecordSourceName(sc.source))
                  .Bind(5, NowMs())
                  .Bind(6, sc.id)
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("another schedule has external id " + Quoted(sc.external_id));
  }
  FACEGATE_RETURN_IF_ERROR(st);
  if (db_->Changes() == 0) return Status::NotFound("no schedule with id " + std::to_string(sc.id));
  FACEGATE_RETURN_IF_ERROR(WriteScheduleRanges(*db_, sc.id, sc.ranges));
  return txn->Commit();
}

Status StoreImpl::ReplaceScheduleRanges(int64_t schedule_id,
                                        std::span<const ScheduleRange> ranges) {
  FACEGATE_RETURN_IF_ERROR(ValidateRanges(std::to_string(schedule_id), ranges));
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  FACEGATE_RETURN_IF_ERROR(RequireRow(*db_, "schedules", "schedule_id", schedule_id, "schedule"));
  Result<Stmt> touch = db_->Prepare("UPDATE schedules SET updated_at_ms = ? WHERE schedule_id = ?");
  if (!touch.ok()) return touch.status();
  FACEGATE_RETURN_IF_ERROR(touch->Bind(1, NowMs()).Bind(2, schedule_id).Run());
  FACEGATE_RETURN_IF_ERROR(WriteScheduleRanges(*db_, schedule_id, ranges));
  return txn->Commit();
}

Status StoreImpl::DeleteSchedule(int64_t schedule_id) {
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  FACEGATE_RETURN_IF_ERROR(RequireRow(*db_, "schedules", "schedule_id", schedule_id, "schedule"));
  // The external id names it in the message: that is what admins know it by.
  Result<Stmt> in_use = db_->Prepare(
      "SELECT count(*), (SELECT external_id FROM schedules WHERE schedule_id = ?1) "
      "FROM access_rights WHERE schedule_id = ?1");
  if (!in_use.ok()) return in_use.status();
  in_use->Bind(1, schedule_id);
  Result<bool> row = in_use->Step();
  if (!row.ok()) return row.status();
  if (const int64_t n = in_use->Int(0); n > 0) {
    return Status::FailedPrecondition(
        "schedule " + std::string(in_use->Text(1)) + " is used by " + std::to_string(n) +
        " access right(s): delete them or give them another schedule first");
  }
  in_use->Reset();
  Result<Stmt> s = db_->Prepare("DELETE FROM schedules WHERE schedule_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, schedule_id).Run());  // ranges cascade
  return txn->Commit();
}

Result<std::optional<Schedule>> StoreImpl::GetSchedule(int64_t schedule_id) {
  std::lock_guard lock(mu_);
  // Two statements: one read transaction so the ranges belong to the header read.
  Result<ReadTransaction> txn = ReadTransaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  Result<std::vector<Schedule>> schedules = ReadSchedules(*db_, schedule_id);
  if (!schedules.ok()) return schedules.status();
  FACEGATE_RETURN_IF_ERROR(txn->End());
  if (schedules->empty()) return std::optional<Schedule>();
  return std::optional<Schedule>(std::move(schedules->front()));
}

Result<std::vector<Schedule>> StoreImpl::ListSchedules() {
  std::lock_guard lock(mu_);
  Result<ReadTransaction> txn = ReadTransaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  Result<std::vector<Schedule>> schedules = ReadSchedules(*db_, std::nullopt);
  if (!schedules.ok()) return schedules.status();
  FACEGATE_RETURN_IF_ERROR(txn->End());
  return schedules;
}

// ---------------------------------------------------------------- holidays

Status StoreImpl::CreateHoliday(const Holiday& h) {
  FACEGATE_RETURN_IF_ERROR(ValidateHoliday(h));
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO holidays (calendar, local_date, day_type, name, source) VALUES (?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, h.calendar)
                  .Bind(2, h.local_date)
                  .Bind(3, h.day_type)
                  .Bind(4, h.name)
                  .Bind(5, RecordSourceName(h.source))
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("calendar " + Quoted(h.calendar) + " already has a holiday on " +
                                 h.local_date);
  }
  return st;
}

Status StoreImpl::UpdateHoliday(const Holiday& h) {
  FACEGATE_RETURN_IF_ERROR(ValidateHoliday(h));
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "UPDATE holidays SET day_type = ?, name = ?, source = ? WHERE calendar = ? AND "
      "local_date = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, h.day_type)
                               .Bind(2, h.name)
                               .Bind(3, RecordSourceName(h.source))
                               .Bind(4, h.calendar)
                               .Bind(5, h.local_date)
                               .Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("calendar " + Quoted(h.calendar) + " has no holiday on " +
                            h.local_date);
  }
  return Status::Ok();
}

Status StoreImpl::DeleteHoliday(std::string_view calendar, std::string_view local_date) {
  FACEGATE_RETURN_IF_ERROR(ValidateHolidayKey(calendar, local_date));
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("DELETE FROM holidays WHERE calendar = ? AND local_date = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, calendar).Bind(2, local_date).Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("calendar " + Quoted(calendar) + " has no holiday on " +
                            std::string(local_date));
  }
  return Status::Ok();
}

Result<std::vector<Holiday>> StoreImpl::ListHolidays() {
  std::lock_guard lock(mu_);
  std::vector<Holiday> holidays;
  FACEGATE_RETURN_IF_ERROR(ReadAll(*db_,
                                   "SELECT calendar, local_date, day_type, name, source FROM "
                                   "holidays ORDER BY calendar, local_date",
                                   &holidays, ReadHoliday));
  return holidays;
}

// ---------------------------------------------------------------- rights

Result<int64_t> StoreImpl::CreateAccessRight(const AccessRight& r) {
  FACEGATE_RETURN_IF_ERROR(ValidateRight(r));
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  FACEGATE_RETURN_IF_ERROR(RequireRightReferences(*db_, r));
  Result<Stmt> s = db_->Prepare(
      "INSERT INTO access_rights (user_id, group_id, door_id, schedule_id, source, "
      "created_at_ms) VALUES (?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, r.user_id)
                  .Bind(2, r.group_id)
                  .Bind(3, r.door_id)
                  .Bind(4, r.schedule_id)
                  .Bind(5, RecordSourceName(r.source))
                  .Bind(6, NowMs())
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) return DuplicateRightError(*db_, r);
  FACEGATE_RETURN_IF_ERROR(st);
  const int64_t id = db_->LastInsertRowId();
  FACEGATE_RETURN_IF_ERROR(txn->Commit());
  return id;
}

Status StoreImpl::UpdateAccessRight(const AccessRight& r) {
  FACEGATE_RETURN_IF_ERROR(ValidateRight(r));
  std::lock_guard lock(mu_);
  Result<Transaction> txn = Transaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  FACEGATE_RETURN_IF_ERROR(RequireRow(*db_, "access_rights", "right_id", r.id, "access right"));
  FACEGATE_RETURN_IF_ERROR(RequireRightReferences(*db_, r));
  Result<Stmt> s = db_->Prepare(
      "UPDATE access_rights SET user_id = ?, group_id = ?, door_id = ?, schedule_id = ?, "
      "source = ? WHERE right_id = ?");
  if (!s.ok()) return s.status();
  Status st = s->Bind(1, r.user_id)
                  .Bind(2, r.group_id)
                  .Bind(3, r.door_id)
                  .Bind(4, r.schedule_id)
                  .Bind(5, RecordSourceName(r.source))
                  .Bind(6, r.id)
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists) return DuplicateRightError(*db_, r);
  FACEGATE_RETURN_IF_ERROR(st);
  return txn->Commit();
}

Status StoreImpl::DeleteAccessRight(int64_t right_id) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare("DELETE FROM access_rights WHERE right_id = ?");
  if (!s.ok()) return s.status();
  FACEGATE_RETURN_IF_ERROR(s->Bind(1, right_id).Run());
  if (db_->Changes() == 0) {
    return Status::NotFound("no access right with id " + std::to_string(right_id));
  }
  return Status::Ok();
}

Result<std::vector<AccessRight>> StoreImpl::ListAccessRights(const AccessRightFilter& filter) {
  std::lock_guard lock(mu_);
  Result<Stmt> s = db_->Prepare(
      "SELECT " + std::string(kRightColumns) +
      " FROM access_rights WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR group_id = ?2) "
      "AND (?3 IS NULL OR door_id = ?3) AND (?4 IS NULL OR schedule_id = ?4) ORDER BY right_id");
  if (!s.ok()) return s.status();
  s->Bind(1, filter.user_id)
      .Bind(2, filter.group_id)
      .Bind(3, filter.door_id)
      .Bind(4, filter.schedule_id);
  std::vector<AccessRight> rights;
  FACEGATE_RETURN_IF_ERROR(
      ForEachRow(*s, [&](const Stmt& row) { rights.push_back(ReadRight(row)); }));
  return rights;
}

// ---------------------------------------------------------------- snapshot data

Result<AccessModelData> StoreImpl::LoadAccessSnapshotData() {
  std::lock_guard lock(mu_);
  // One read transaction: without it each SELECT would see its own state of the database,
  // and a sync committing between two of them (another process, e.g. facegatectl) could give
  // a right whose group was not read, or a schedule without its new ranges.
  Result<ReadTransaction> txn = ReadTransaction::Begin(*db_);
  if (!txn.ok()) return txn.status();
  AccessModelData data;
  Status s = ReadAccessModel(*db_, &data);
  if (!s.ok()) return s.WithContext("loading the access model");
  FACEGATE_RETURN_IF_ERROR(txn->End());
  return data;
}

}  // namespace facegate::store::internal
