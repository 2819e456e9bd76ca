#include "store/schema.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

namespace facegate::store::internal {
namespace {

// Times are Unix milliseconds (UTC) in INTEGER columns named *_ms. Booleans are 0/1 with a
// CHECK. Enumerations that will grow (sources, statuses, reasons) are checked in C++, not with
// CHECK constraints, because SQLite can only change a CHECK by rebuilding the table.

// Version 1: settings, template keys, users and their encrypted face templates.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE schema_version (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at_ms INTEGER NOT NULL
);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- The keys templates are encrypted with; the key bytes live in files outside the database.
CREATE TABLE template_keys (
  key_id INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  added_at_ms INTEGER NOT NULL,
  retired_at_ms INTEGER
);

CREATE TABLE users (
  user_id INTEGER PRIMARY KEY AUTOINCREMENT,
  external_id TEXT NOT NULL UNIQUE,
  first_name TEXT NOT NULL DEFAULT '',
  last_name TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  banned INTEGER NOT NULL DEFAULT 0 CHECK (banned IN (0, 1)),
  valid_from_ms INTEGER,
  valid_until_ms INTEGER,
  source TEXT NOT NULL DEFAULT 'local',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

-- AES-256-GCM; the associated data binds the ciphertext to template_id, user_id, key_id
-- and model_version. template_id is random, chosen before encryption.
CREATE TABLE face_templates (
  template_id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  source TEXT NOT NULL,
  model_version TEXT NOT NULL,
  quality_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(quality_json)),
  created_at_ms INTEGER NOT NULL,
  key_id INTEGER NOT NULL REFERENCES template_keys(key_id),
  dimension INTEGER NOT NULL CHECK (dimension > 0),
  nonce BLOB NOT NULL CHECK (length(nonce) = 12),
  ciphertext BLOB NOT NULL,
  tag BLOB NOT NULL CHECK (length(tag) = 16)
);
CREATE INDEX face_templates_by_user ON face_templates(user_id);
CREATE INDEX face_templates_by_model ON face_templates(model_version);
CREATE INDEX face_templates_by_key ON face_templates(key_id);
)sql";

// Version 2: the access model synchronised from the access-control system (or kept locally).
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE doors (
  door_id INTEGER PRIMARY KEY AUTOINCREMENT,
  external_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  settings_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings_json)),
  source TEXT NOT NULL DEFAULT 'local',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

CREATE TABLE access_groups (
  group_id INTEGER PRIMARY KEY AUTOINCREMENT,
  external_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT 'local',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

CREATE TABLE user_groups (
  user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  group_id INTEGER NOT NULL REFERENCES access_groups(group_id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX user_groups_by_group ON user_groups(group_id);

-- Weekly schedules ("time zones" in Salto's terms), evaluated in the site's local time.
CREATE TABLE schedules (
  schedule_id INTEGER PRIMARY KEY AUTOINCREMENT,
  external_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  calendar TEXT NOT NULL DEFAULT 'default',
  source TEXT NOT NULL DEFAULT 'local',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);

-- day: 1 = Monday .. 7 = Sunday (ISO 8601), 8 = holiday, 9 = special day 1, 10 = special
-- day 2. Minutes from local midnight, start inclusive, end exclusive.
CREATE TABLE schedule_ranges (
  schedule_id INTEGER NOT NULL REFERENCES schedules(schedule_id) ON DELETE CASCADE,
  day INTEGER NOT NULL CHECK (day BETWEEN 1 AND 10),
  start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
  end_minute INTEGER NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
  CHECK (start_minute < end_minute),
  PRIMARY KEY (schedule_id, day, start_minute)
) WITHOUT ROWID;

-- Days on which a schedule's ranges of day 8, 9 or 10 apply instead of the weekday's.
CREATE TABLE holidays (
  calendar TEXT NOT NULL DEFAULT 'default',
  local_date TEXT NOT NULL CHECK (local_date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
  day_type INTEGER NOT NULL DEFAULT 8 CHECK (day_type BETWEEN 8 AND 10),
  name TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT 'local',
  PRIMARY KEY (calendar, local_date)
) WITHOUT ROWID;

-- A right of one user, or of one group, to one door, within a schedule (NULL: at any time).
CREATE TABLE access_rights (
  right_id INTEGER PRIMARY KEY,
  user_id INTEGER REFERENCES users(user_id) ON DELETE CASCADE,
  group_id INTEGER REFERENCES access_groups(group_id) ON DELETE CASCADE,
  door_id INTEGER NOT NULL REFERENCES doors(door_id) ON DELETE CASCADE,
  schedule_id INTEGER REFERENCES schedules(schedule_id),
  source TEXT NOT NULL DEFAULT 'local',
  created_at_ms INTEGER NOT NULL,
  CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX access_rights_user_door ON access_rights(user_id, door_id)
  WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX access_rights_group_door ON access_rights(group_id, door_id)
  WHERE group_id IS NOT NULL;
CREATE INDEX access_rights_by_door ON access_rights(door_id);
CREATE INDEX access_rights_by_schedule ON access_rights(schedule_id);
)sql";

// Version 3: terminals, access events, the outbox, integrations, administration, consent.
constexpr std::string_view kSchemaV3 = R"sql(
-- status: created | commissioned | disabled | decommissioned
CREATE TABLE devices (
  device_id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  door_id INTEGER REFERENCES doors(door_id) ON DELETE SET NULL,
  status TEXT NOT NULL DEFAULT 'created',
  online INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
  last_seen_at_ms INTEGER,
  cert_serial TEXT UNIQUE,
  cert_not_after_ms INTEGER,
  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
  firmware TEXT NOT NULL DEFAULT '',
  settings_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings_json)),
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX devices_by_door ON devices(door_id);

-- Every certificate issued to a device, so a replaced or revoked one is recognised as such.
CREATE TABLE device_certificates (
  serial TEXT PRIMARY KEY,
  device_id INTEGER NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  issued_at_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX device_certificates_by_device ON device_certificates(device_id);

-- One-time commissioning codes, stored as a keyed hash; the code is shown once.
CREATE TABLE commissioning_codes (
  code_id INTEGER PRIMARY KEY,
  device_id INTEGER NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  code_hash BLOB NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  used_at_ms INTEGER
);
CREATE INDEX commissioning_codes_by_device ON commissioning_codes(device_id);

-- Commands handed to a terminal with its next heartbeat or access answer.
CREATE TABLE device_commands (
  command_id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id INTEGER NOT NULL REFERENCES devices(device_id) ON DELETE CASCADE,
  command TEXT NOT NULL,
  payload_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload_json)),
  origin TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER,
  delivered_at_ms INTEGER,
  completed_at_ms INTEGER,
  result_json TEXT
);
CREATE INDEX device_commands_pending ON device_commands(device_id, command_id)
  WHERE delivered_at_ms IS NULL;

-- Every access decision. user_external_id keeps who it was after the user is deleted, until
-- the event's retention ends. (device_id, request_id) makes terminal retries idempotent.
CREATE TABLE events (
  event_id INTEGER PRIMARY KEY AUTOINCREMENT,
  occurred_at_ms INTEGER NOT NULL,
  device_id INTEGER REFERENCES devices(device_id) ON DELETE SET NULL,
  door_id INTEGER REFERENCES doors(door_id) ON DELETE SET NULL,
  user_id INTEGER REFERENCES users(user_id) ON DELETE SET NULL,
  user_external_id TEXT,
  decision TEXT NOT NULL CHECK (decision IN ('grant', 'deny')),
  reason TEXT NOT NULL,
  distance REAL,
  latency_ms REAL NOT NULL DEFAULT 0,
  request_id TEXT,
  is_repeat INTEGER NOT NULL DEFAULT 0 CHECK (is_repeat IN (0, 1)),
  details_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details_json))
);
CREATE UNIQUE INDEX events_by_device_request ON events(device_id, request_id)
  WHERE request_id IS NOT NULL;
CREATE INDEX events_by_time ON events(occurred_at_ms);
CREATE INDEX events_by_door ON events(door_id, occurred_at_ms);
CREATE INDEX events_by_user ON events(user_id, occurred_at_ms);

-- Messages to deliver to integrations (at least once); a delivered message is deleted.
CREATE TABLE outbox (
  message_id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  topic TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL,
  event_id INTEGER REFERENCES events(event_id) ON DELETE SET NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  next_try_at_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox(destination, next_try_at_ms);
CREATE INDEX outbox_by_event ON outbox(event_id);

-- One row per integration ('space', 'connect', 'enrollment', ...).
CREATE TABLE integrations (
  name TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
  settings_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings_json)),
  status TEXT NOT NULL DEFAULT 'no_status'
    CHECK (status IN ('connected', 'unauthorized', 'disconnected', 'no_status')),
  last_error TEXT NOT NULL DEFAULT '',
  last_error_at_ms INTEGER,
  status_changed_at_ms INTEGER,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Admin API bearer tokens, stored as a hash; the token is shown once.
CREATE TABLE admin_tokens (
  token_id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  token_hash BLOB NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  created_at_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  last_used_at_ms INTEGER,
  revoked_at_ms INTEGER
);
CREATE UNIQUE INDEX admin_tokens_active_name ON admin_tokens(name) WHERE revoked_at_ms IS NULL;

-- Who did what, when, from where. actor_token_id has no foreign key: the row outlives it.
CREATE TABLE audit_log (
  audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_token_id INTEGER,
  remote_address TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL DEFAULT 'ok',
  details_json TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details_json))
);
CREATE INDEX audit_log_by_time ON audit_log(at_ms);

-- Self-enrollment (purpose 'enroll') and consent-withdrawal ('withdraw') links.
CREATE TABLE enrollment_invitations (
  invitation_id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  purpose TEXT NOT NULL DEFAULT 'enroll' CHECK (purpose IN ('enroll', 'withdraw')),
  token_hash BLOB NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  expires_at_ms INTEGER NOT NULL,
  used_at_ms INTEGER
);
CREATE INDEX enrollment_invitations_by_user ON enrollment_invitations(user_id);

-- Consent to biometric processing, as given: what was shown (policy URL, hash of the text),
-- when and from where; and its withdrawal.
CREATE TABLE consents (
  consent_id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER REFERENCES users(user_id) ON DELETE SET NULL,
  user_external_id TEXT NOT NULL,
  invitation_id INTEGER REFERENCES enrollment_invitations(invitation_id) ON DELETE SET NULL,
  given_at_ms INTEGER NOT NULL,
  company_name TEXT NOT NULL,
  policy_url TEXT NOT NULL,
  text_sha256 TEXT NOT NULL,
  client_address TEXT NOT NULL DEFAULT '',
  withdrawn_at_ms INTEGER,
  withdrawal_address TEXT
);
CREATE INDEX consents_by_user ON consents(user_id);
CREATE INDEX consents_by_invitation ON consents(invitation_id);
)sql";

// Version 4: a log of template additions and removals, written by triggers so that every
// writer (the daemon, facegatectl on the same host, a restore) is seen. The daemon's 1:N index
// follows it; it holds ids only (no template values) and is pruned once applied.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE template_changes (
  change_id INTEGER PRIMARY KEY AUTOINCREMENT,
  template_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  model_version TEXT NOT NULL,
  op TEXT NOT NULL CHECK (op IN ('add', 'remove')),
  changed_at_ms INTEGER NOT NULL
);

CREATE TRIGGER face_templates_log_insert AFTER INSERT ON face_templates BEGIN
  INSERT INTO template_changes (template_id, user_id, model_version, op, changed_at_ms)
  VALUES (NEW.template_id, NEW.user_id, NEW.model_version, 'add',
          CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

-- Also fired by the ON DELETE CASCADE of a user's erasure.
CREATE TRIGGER face_templates_log_delete AFTER DELETE ON face_templates BEGIN
  INSERT INTO template_changes (template_id, user_id, model_version, op, changed_at_ms)
  VALUES (OLD.template_id, OLD.user_id, OLD.model_version, 'remove',
          CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

-- Key rotation rewrites only the ciphertext; a change of owner or model moves the row.
CREATE TRIGGER face_templates_log_move AFTER UPDATE OF template_id, user_id, model_version
ON face_templates BEGIN
  INSERT INTO template_changes (template_id, user_id, model_version, op, changed_at_ms)
  VALUES (OLD.template_id, OLD.user_id, OLD.model_version, 'remove',
          CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
  INSERT INTO template_changes (template_id, user_id, model_version, op, changed_at_ms)
  VALUES (NEW.template_id, NEW.user_id, NEW.model_version, 'add',
          CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
)sql";

// Version 5: indexes for the admin API's event filters by device and by reason. A single
// column index keeps its rows in event_id order per key, so "newest first" pages walk it
// without sorting (by door and by user, the version 3 indexes serve).
constexpr std::string_view kSchemaV5 = R"sql(
CREATE INDEX events_by_device ON events(device_id);
CREATE INDEX events_by_reason ON events(reason);
)sql";

int64_t NowMs(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

}  // namespace

// Version 6: enrollment photos, kept only when the site configures it (admin.keep_photos).
// AES-256-GCM like the templates (under their own associated-data label, with the media
// type); a photo goes with its template (and its user), in the same transaction.
constexpr std::string_view kSchemaV6 = R"sql(
CREATE TABLE face_photos (
  template_id INTEGER PRIMARY KEY REFERENCES face_templates(template_id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  media_type TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  key_id INTEGER NOT NULL REFERENCES template_keys(key_id),
  nonce BLOB NOT NULL CHECK (length(nonce) = 12),
  ciphertext BLOB NOT NULL,
  tag BLOB NOT NULL CHECK (length(tag) = 16)
);
CREATE INDEX face_photos_by_user ON face_photos(user_id);
CREATE INDEX face_photos_by_key ON face_photos(key_id);
)sql";

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "settings, template keys, users, face templates", kSchemaV1},
      {2, "doors, groups, schedules, holidays, access rights", kSchemaV2},
      {3, "devices, events, outbox, integrations, admin tokens, audit, consent", kSchemaV3},
      {4, "template change log for the in-memory index", kSchemaV4},
      {5, "event indexes by device and by reason", kSchemaV5},
      {6, "kept enrollment photos (encrypted)", kSchemaV6},
  };
  return kMigrations;
}

int LatestSchemaVersion() { return Migrations().back().version; }

Result<int> ReadSchemaVersion(Connection& db) {
  Result<int64_t> app_id = db.QueryInt("PRAGMA application_id");
  if (!app_id.ok()) return app_id.status();
  if (*app_id != 0 && *app_id != kApplicationId) {
    return Status::Corruption("not a Facegate database (SQLite application_id " +
                              std::to_string(*app_id) + ")");
  }
  Result<int64_t> has_version_table = db.QueryInt(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'");
  if (!has_version_table.ok()) return has_version_table.status();
  if (*has_version_table == 0) {
    Result<int64_t> tables = db.QueryInt("SELECT count(*) FROM sqlite_schema");
    if (!tables.ok()) return tables.status();
    if (*tables != 0) {
      return Status::Corruption("not a Facegate database (it has tables but no schema_version)");
    }
    return 0;
  }
  Result<int64_t> version = db.QueryInt("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!version.ok()) return version.status();
  return static_cast<int>(*version);
}

Status Migrate(Connection& db, const Clock& clock, std::string_view db_name) {
  Result<int> current = ReadSchemaVersion(db);
  if (!current.ok()) return current.status();
  const int latest = LatestSchemaVersion();
  if (*current > latest) {
    return Status::FailedPrecondition(
        std::string(db_name) + " has schema version " + std::to_string(*current) +
        ", newer than this facegated understands (" + std::to_string(latest) +
        "): it was written by a newer Facegate. Run that version, or restore a backup taken "
        "before the upgrade (docs/store.md)");
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= *current) continue;
    Result<Transaction> txn = Transaction::Begin(db);
    if (!txn.ok()) return txn.status();
    // Another process may have migrated meanwhile: re-read inside the write transaction.
    Result<int> again = ReadSchemaVersion(db);
    if (!again.ok()) return again.status();
    if (*again >= m.version) continue;
    Status s = db.Exec(m.sql);
    if (!s.ok()) {
      return s.WithContext("schema migration " + std::to_string(m.version) + " (" +
                           std::string(m.description) + ")");
    }
    Result<Stmt> insert = db.Prepare(
        "INSERT INTO schema_version (version, description, applied_at_ms) VALUES (?, ?, ?)");
    if (!insert.ok()) return insert.status();
    FACEGATE_RETURN_IF_ERROR(
        insert->Bind(1, m.version).Bind(2, m.description).Bind(3, NowMs(clock)).Run());
    FACEGATE_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(m.version)));
    FACEGATE_RETURN_IF_ERROR(db.Exec("PRAGMA application_id = " + std::to_string(kApplicationId)));
    FACEGATE_RETURN_IF_ERROR(txn->Commit());
    spdlog::info("{}: schema migrated to version {} ({})", db_name, m.version, m.description);
  }
  return Status::Ok();
}

}  // namespace facegate::store::internal
