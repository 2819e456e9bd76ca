// Helpers shared by the files that implement StoreImpl (store_impl.cc, store_access.cc,
// store_devices.cc, store_admin.cc): read transactions, time columns, enumerations stored as
// text, and the users, template metadata and events rows. Private to src/store.
// Thread-safety: pure functions; a ReadTransaction belongs to the caller holding the store's
// mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "facegate/store/records.h"
#include "store/sqlite.h"

namespace facegate::store::internal {

// A read transaction: BEGIN DEFERRED takes no lock until the first SELECT, which fixes the
// snapshot (WAL) that every later statement of the transaction reads. Ended by End() or, if
// abandoned, rolled back.
class ReadTransaction {
 public:
  static Result<ReadTransaction> Begin(Connection& db) {
    FACEGATE_RETURN_IF_ERROR(db.Exec("BEGIN DEFERRED"));
    return ReadTransaction(&db);
  }
  ReadTransaction(ReadTransaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ReadTransaction& operator=(ReadTransaction&&) = delete;
  ~ReadTransaction() {
    if (db_ != nullptr && db_->in_transaction()) (void)db_->Exec("ROLLBACK");
  }
  Status End() {
    Connection* db = std::exchange(db_, nullptr);
    Status s = db->Exec("COMMIT");
    if (!s.ok() && db->in_transaction()) (void)db->Exec("ROLLBACK");
    return s;
  }

 private:
  explicit ReadTransaction(Connection* db) : db_(db) {}
  Connection* db_;
};

// Times are Unix milliseconds (UTC) in INTEGER columns named *_ms.
inline int64_t ToMs(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline WallTime FromMs(int64_t ms) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(ms)));
}
inline std::optional<int64_t> ToMs(const std::optional<WallTime>& t) {
  if (!t) return std::nullopt;
  return ToMs(*t);
}
inline std::optional<WallTime> FromMs(std::optional<int64_t> ms) {
  if (!ms) return std::nullopt;
  return FromMs(*ms);
}

inline std::optional<std::string> OptionalText(const Stmt& s, int column) {
  if (s.IsNull(column)) return std::nullopt;
  return std::string(s.Text(column));
}

inline RecordSource ParseRecordSource(std::string_view s) {
  return s == "ship" ? RecordSource::kShip : RecordSource::kLocal;
}

// The users columns ReadUser reads, in its order.
inline constexpr std::string_view kUserColumns =
    "user_id, external_id, first_name, last_name, active, banned, valid_from_ms, valid_until_ms, "
    "source, created_at_ms, updated_at_ms";

inline User ReadUser(const Stmt& s) {
  User u;
  u.id = s.Int(0);
  u.external_id = s.Text(1);
  u.first_name = s.Text(2);
  u.last_name = s.Text(3);
  u.active = s.Int(4) != 0;
  u.banned = s.Int(5) != 0;
  u.valid_from = FromMs(s.OptionalInt(6));
  u.valid_until = FromMs(s.OptionalInt(7));
  u.source = ParseRecordSource(s.Text(8));
  u.created_at = FromMs(s.Int(9));
  u.updated_at = FromMs(s.Int(10));
  return u;
}

inline TemplateSource ParseTemplateSource(std::string_view s) {
  if (s == "import") return TemplateSource::kImport;
  if (s == "enrollment") return TemplateSource::kEnrollment;
  return TemplateSource::kAdmin;
}

// The face_templates ("t") and users ("u") columns ReadTemplateInfo reads, in its order.
inline constexpr std::string_view kTemplateInfoColumns =
    "t.template_id, t.user_id, u.external_id, t.source, t.model_version, t.quality_json, "
    "t.created_at_ms, t.key_id, t.dimension, "
    "EXISTS (SELECT 1 FROM face_photos p WHERE p.template_id = t.template_id)";

inline TemplateInfo ReadTemplateInfo(const Stmt& s) {
  TemplateInfo t;
  t.id = s.Int(0);
  t.user_id = s.Int(1);
  t.user_external_id = s.Text(2);
  t.source = ParseTemplateSource(s.Text(3));
  t.model_version = s.Text(4);
  t.quality_json = s.Text(5);
  t.created_at = FromMs(s.Int(6));
  t.key_id = static_cast<uint32_t>(s.Int(7));
  t.dimension = static_cast<int>(s.Int(8));
  t.has_photo = s.Int(9) != 0;
  return t;
}

// "SELECT <the events columns ReadEventRow reads> FROM events ": append the WHERE clause.
inline constexpr std::string_view kEventColumns =
    "SELECT event_id, occurred_at_ms, device_id, door_id, user_id, user_external_id, decision, "
    "reason, distance, latency_ms, request_id, is_repeat, details_json FROM events ";

inline StoredEvent ReadEventRow(const Stmt& s) {
  StoredEvent out;
  out.id = s.Int(0);
  out.event.time = FromMs(s.Int(1));
  out.event.device_id = s.OptionalInt(2);
  out.event.door_id = s.OptionalInt(3);
  out.event.user_id = s.OptionalInt(4);
  out.user_external_id = s.Text(5);
  out.event.decision = s.Text(6) == "grant" ? Decision::kGrant : Decision::kDeny;
  out.event.reason = s.Text(7);
  if (!s.IsNull(8)) out.event.distance = s.Double(8);
  out.event.latency_ms = s.Double(9);
  out.event.request_id = s.Text(10);
  out.event.repeat = s.Int(11) != 0;
  out.event.details_json = s.Text(12);
  return out;
}

}  // namespace facegate::store::internal
