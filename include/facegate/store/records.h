// Value types the Store reads and writes. Times are wall-clock instants (Clock::Now());
// the database keeps them as Unix milliseconds (UTC).
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/clock.h"

namespace facegate::store {

using WallTime = Clock::WallTime;

// Who owns a record: Facegate itself (admin, import) or the access-control system's sync.
// Records owned by a sync are read-only in the admin API.
enum class RecordSource { kLocal, kShip };
std::string_view RecordSourceName(RecordSource source);

struct User {
  int64_t id = 0;           // internal id: assigned by the store, never reused
  std::string external_id;  // the access-control system's ExtUserID, or an admin-chosen id
  std::string first_name;
  std::string last_name;
  bool active = true;
  bool banned = false;
  std::optional<WallTime> valid_from;   // none: valid since ever
  std::optional<WallTime> valid_until;  // none: valid for ever
  RecordSource source = RecordSource::kLocal;
  WallTime created_at{};  // set by the store
  WallTime updated_at{};  // set by the store
};

// How a face template came to be.
enum class TemplateSource {
  kImport,      // bulk import (facegatectl import)
  kEnrollment,  // self-enrollment by the person, after consent
  kAdmin,       // enrolled by an operator (admin API, local command)
};
std::string_view TemplateSourceName(TemplateSource source);

struct NewTemplate {
  int64_t user_id = 0;
  TemplateSource source = TemplateSource::kAdmin;
  std::string model_version;        // the embedding model that produced it, e.g. "dlib-resnet-v1"
  std::span<const float> values;    // the embedding; the caller keeps it alive during the call
  std::string quality_json = "{}";  // the quality gate's values, a JSON object
  // The photo it was enrolled from, stored encrypted with the template when not empty (only
  // when the site keeps photos: admin.keep_photos). The caller keeps it alive during the call.
  std::span<const uint8_t> photo;
  std::string photo_media_type = "image/jpeg";
};

// A template's metadata; reading it never decrypts anything.
struct TemplateInfo {
  int64_t id = 0;  // random 63-bit id, chosen by the store before encryption
  int64_t user_id = 0;
  std::string user_external_id;
  TemplateSource source = TemplateSource::kAdmin;
  std::string model_version;
  std::string quality_json;
  WallTime created_at{};
  uint32_t key_id = 0;
  int dimension = 0;
  bool has_photo = false;  // its enrollment photo is kept (encrypted)
};

// A kept enrollment photo, decrypted.
struct StoredPhoto {
  int64_t template_id = 0;
  int64_t user_id = 0;
  std::string media_type;
  WallTime created_at{};
  std::vector<uint8_t> bytes;
};

// One template with its values, decrypted (an admin's export of templates).
struct ExportedTemplate {
  TemplateInfo info;
  std::vector<float> values;
};

// Every template of one model version, decrypted, in one row-major matrix: what the 1:N
// index is built from at start-up.
struct TemplateMatrix {
  std::string model_version;
  int dimension = 0;
  std::vector<int64_t> template_ids;
  std::vector<int64_t> user_ids;  // user_ids[i] owns template_ids[i]
  std::vector<float> values;      // template i is values[i * dimension, (i + 1) * dimension)
  // The template change log position this matrix reflects: follow it with
  // Store::TemplateChangesSince(last_change_id, ...).
  int64_t last_change_id = 0;

  size_t size() const { return template_ids.size(); }
  std::span<const float> row(size_t i) const {
    return {values.data() + i * static_cast<size_t>(dimension), static_cast<size_t>(dimension)};
  }
};

// Template additions and removals after a position of the change log, for keeping the 1:N
// index in step with the database whoever wrote it.
struct TemplateChanges {
  int64_t last_change_id = 0;             // the position to ask from next time
  std::vector<int64_t> removed;           // ids of templates removed (any model), oldest first
  std::vector<int64_t> removed_user_ids;  // removed_user_ids[i] owned removed[i]
  // Templates of the requested model added in the range and still present, decrypted.
  // Apply the removals first: a template moved to another user appears in both.
  TemplateMatrix added;
  bool more = false;  // the range was cut at the limit: ask again
};

struct ErasureReport {
  int templates_deleted = 0;
  int photos_deleted = 0;
  bool user_deleted = false;
  // The WAL was checkpointed and truncated, so no erased bytes remain in the -wal file.
  // False when another connection's reader kept the checkpoint from finishing; the bytes
  // then go at the next checkpoint (secure_delete has zeroed them in the database pages).
  bool wal_truncated = false;
};

struct Door {
  int64_t id = 0;
  std::string external_id;  // the access-control system's ExtDoorID
  std::string name;
  std::string settings_json = "{}";  // per-door policy (fail-open, PAD threshold, ...)
  RecordSource source = RecordSource::kLocal;
};

// An admin API bearer token. Only its SHA-256 is stored; the token is shown once.
struct NewAdminToken {
  std::string name;
  std::string role;          // admin, operator, viewer
  std::string token_sha256;  // 32 raw bytes
  std::string created_by;    // e.g. "facegated --init"
};

// An admin API bearer token as stored (never the token itself).
enum class AdminRole { kViewer, kOperator, kAdmin };  // each includes the ones before it
std::string_view AdminRoleName(AdminRole role);       // "viewer", "operator", "admin"
std::optional<AdminRole> ParseAdminRole(std::string_view name);

struct AdminToken {
  int64_t id = 0;
  std::string name;
  AdminRole role = AdminRole::kViewer;
  std::string created_by;
  WallTime created_at{};
  std::optional<WallTime> last_used_at;
  std::optional<WallTime> revoked_at;
};

// One row of the audit log: who did what, when, from where. `actor` is "token:<name>" for
// the admin API, "facegatectl" / "facegated" for local actions.
struct AuditEntry {
  int64_t id = 0;  // set by the store
  WallTime at{};   // unset (the epoch): the store's clock at AppendAudit
  std::string actor;
  std::optional<int64_t> actor_token_id;
  std::string remote_address;
  std::string action;          // "user.create", "face.enroll", "token.revoke", ...
  std::string target;          // what it was done to, e.g. "user:E1001"
  std::string outcome = "ok";  // "ok", "denied", "failed"
  std::string details_json = "{}";
};

// Newest first. before_id is the paging cursor: rows with id < before_id (0: from the newest).
struct AuditFilter {
  std::optional<WallTime> from;   // at >= from
  std::optional<WallTime> until;  // at < until
  std::string actor;              // exact, "" any
  std::string action;             // exact or a prefix ending in '.', e.g. "user."; "" any
  int64_t before_id = 0;
  int limit = 100;  // clamped to 1..1000
};

// Access events, newest first; before_id is the paging cursor as for AuditFilter, after_id
// keeps only the events newer than one already seen (a live view asking for what is new).
struct EventFilter {
  std::optional<WallTime> from;   // time >= from
  std::optional<WallTime> until;  // time < until
  std::optional<int64_t> door_id;
  std::optional<int64_t> user_id;
  std::optional<int64_t> device_id;
  std::optional<std::string> decision;  // "grant" or "deny"
  std::string reason;                   // exact, "" any
  int64_t before_id = 0;
  int64_t after_id = 0;
  int limit = 100;  // clamped to 1..1000
};

// Users by id (ascending) after the cursor after_id, optionally only those whose external
// id, first or last name contains `query` (case-insensitive for ASCII letters; % and _ are
// matched literally), or of one source.
struct UserFilter {
  int64_t after_id = 0;
  int limit = 100;  // clamped to 1..1000
  std::string query;
  std::optional<RecordSource> source;
};

// An integration (access-control system, cloud link, enrollment service): its settings and
// the status shown to the admin.
enum class IntegrationStatus { kConnected, kUnauthorized, kDisconnected, kNoStatus };
std::string_view IntegrationStatusName(IntegrationStatus s);  // "connected", ..., "no_status"
std::optional<IntegrationStatus> ParseIntegrationStatus(std::string_view name);

// Settings whose names contain "key", "password" or "secret" are secrets: the store keeps
// their (string) values sealed with the current template key (AES-256-GCM) and gives them
// back in clear; the admin API never answers them back.
bool IsSecretSettingKey(std::string_view name);

struct Integration {
  std::string name;  // "space", "connect", "enrollment"
  bool enabled = false;
  std::string settings_json = "{}";  // secrets in clear (sealed only in the database)
  IntegrationStatus status = IntegrationStatus::kNoStatus;
  std::string last_error;
  std::optional<WallTime> last_error_at;
  std::optional<WallTime> status_changed_at;  // none: never changed from no_status
  WallTime updated_at{};                      // settings last written (or the row created)
};

// Rows deleted by a retention purge.
struct PurgeReport {
  int64_t events = 0;
  int64_t audit_rows = 0;
};

// One person of a bulk import: the user (matched by external id) with the groups to add
// them to and the templates to add, written with the rest of its batch in one transaction.
struct ImportRow {
  User user;
  std::vector<int64_t> group_ids;
  std::vector<NewTemplate> templates;  // user_id is filled in by the store
};

struct ImportedRow {
  int64_t user_id = 0;
  bool user_created = false;  // false: it existed and was updated
  std::vector<int64_t> template_ids;
};

struct NewDevice {
  std::string name;
  std::optional<int64_t> door_id;
};

enum class Decision { kGrant, kDeny };
std::string_view DecisionName(Decision decision);

// One access decision, as recorded.
struct AccessEvent {
  WallTime time{};
  std::optional<int64_t> device_id;
  std::optional<int64_t> door_id;
  std::optional<int64_t> user_id;  // none: unknown face (or no face)
  Decision decision = Decision::kDeny;
  std::string reason;  // granted, unknown_face, no_access_to_door, ...
  std::optional<double> distance;
  double latency_ms = 0;
  std::string request_id;           // the terminal's request id; "" when it sent none
  bool repeat = false;              // a repeat within the window that reused the previous decision
  std::string details_json = "{}";  // stage timings, PAD result, door-opening outcome, ...
};

struct StoredEvent {
  int64_t id = 0;
  AccessEvent event;
  std::string user_external_id;  // as it was when the event was written
};

// A message for an integration, written in the same transaction as its event.
struct OutboxMessage {
  std::string destination;  // "connect", "ship", ...
  std::string topic;        // destination-specific routing, may be empty
  std::string payload;      // the publisher adds the event id (carried in the row) itself
};

struct OutboxEntry {
  int64_t id = 0;
  OutboxMessage message;
  std::optional<int64_t> event_id;
  int attempts = 0;
  WallTime created_at{};
  WallTime next_try_at{};
  std::string last_error;
};

struct RecordedEvent {
  int64_t event_id = 0;
  // The device had already sent this request id: nothing was written, event_id is the
  // earlier event's (answer the terminal with that decision).
  bool duplicate = false;
};

struct KeyRotationProgress {
  uint32_t target_key_id = 0;
  int64_t reencrypted = 0;  // templates and kept photos re-encrypted by this rotation so far
  int64_t remaining = 0;    // templates and kept photos still under another key
  bool done = false;
};

struct BackupInfo {
  std::string file;
  int64_t bytes = 0;
  int schema_version = 0;
  int64_t users = 0;
  int64_t templates = 0;
  std::vector<uint32_t> key_ids;  // keys the backup's templates need: keep them with it
};

// --- access model
// Groups, schedules, holidays and rights: what src/access decides with. Ids are assigned by
// the store and never reused; external ids are the access-control system's (or admin-chosen).

struct AccessGroup {
  int64_t id = 0;
  std::string external_id;
  std::string name;
  RecordSource source = RecordSource::kLocal;
};

struct GroupMembership {
  int64_t user_id = 0;
  int64_t group_id = 0;
};

// Day numbers of schedule ranges and holiday day types.
inline constexpr int kFirstWeekday = 1;  // ISO 8601: 1 = Monday .. 7 = Sunday
inline constexpr int kLastWeekday = 7;
inline constexpr int kHolidayDayType = 8;
inline constexpr int kSpecialDay1Type = 9;
inline constexpr int kSpecialDay2Type = 10;
inline constexpr int kMinutesPerDay = 1440;

// Minutes from local midnight: start inclusive, end exclusive (end 1440 = until midnight).
struct ScheduleRange {
  int day = kFirstWeekday;  // 1..7 ISO weekday, 8 holiday, 9 and 10 special days
  int start_minute = 0;     // 0..1439
  int end_minute = 0;       // start_minute + 1 .. 1440

  friend bool operator==(const ScheduleRange&, const ScheduleRange&) = default;
};

// A weekly schedule ("time zone" in Salto's terms), evaluated in the site's local time.
struct Schedule {
  int64_t id = 0;
  std::string external_id;
  std::string name;
  std::string calendar = "default";  // the holiday calendar whose dates replace weekdays
  RecordSource source = RecordSource::kLocal;
  std::vector<ScheduleRange> ranges;  // by (day, start_minute) when read back
};

// A date of a holiday calendar on which schedules of that calendar use the ranges of
// `day_type` instead of those of the weekday.
struct Holiday {
  std::string calendar = "default";
  std::string local_date;  // YYYY-MM-DD, in the site's local calendar
  int day_type = kHolidayDayType;
  std::string name;
  RecordSource source = RecordSource::kLocal;
};

// A right of exactly one user or one group to one door, within a schedule (none: at any time).
struct AccessRight {
  int64_t id = 0;
  std::optional<int64_t> user_id;
  std::optional<int64_t> group_id;
  int64_t door_id = 0;
  std::optional<int64_t> schedule_id;
  RecordSource source = RecordSource::kLocal;
  WallTime created_at{};  // set by the store
};

// Which rights ListAccessRights returns: every field set must match (none set: all rights).
struct AccessRightFilter {
  std::optional<int64_t> user_id;  // direct rights of this user (not those through groups)
  std::optional<int64_t> group_id;
  std::optional<int64_t> door_id;
  std::optional<int64_t> schedule_id;
};

// Everything a decision snapshot is built from, read in one transaction (one consistent
// state of the database). Users carry their names because User does; the snapshot keeps
// only what decisions need.
struct AccessModelData {
  std::vector<User> users;
  std::vector<Door> doors;
  std::vector<AccessGroup> groups;
  std::vector<GroupMembership> memberships;
  std::vector<Schedule> schedules;  // with their ranges
  std::vector<Holiday> holidays;
  std::vector<AccessRight> rights;
};

// --- the Salto Space sync
// Everything Salto Space owns, as one sync read it: ApplyShipSync makes the store's
// ship-owned records exactly this, in one transaction. References are external ids.

struct ShipDoorRight {
  std::string door;      // ExtDoorID
  std::string schedule;  // ExtTimezoneTableID; "": at any time
};

struct ShipSyncUser {
  std::string external_id;
  std::string first_name;
  std::string last_name;
  bool banned = false;
  std::optional<WallTime> valid_from;
  std::optional<WallTime> valid_until;
  std::vector<std::string> groups;
  std::vector<ShipDoorRight> doors;
};

struct ShipSyncGroup {
  std::string external_id;
  std::string name;
  std::vector<ShipDoorRight> doors;
};

struct ShipSyncData {
  std::vector<Door> doors;          // external_id and name are used
  std::vector<Schedule> schedules;  // external_id, name, ranges
  std::vector<ShipSyncGroup> groups;
  std::vector<ShipSyncUser> users;
};

// What happens to a user that is no longer in Salto Space. Either way they lose every right
// at once.
enum class RemovedShipUser {
  kErase,  // the user, their templates and kept photos are erased (as GDPR erasure does)
  kKeep,   // kept, deactivated, with their templates (if Space brings them back, their face works)
};

struct ShipSyncReport {
  int users_added = 0, users_updated = 0, users_removed = 0, users_adopted = 0;
  int templates_erased = 0;  // of removed users (kErase)
  int doors = 0, doors_removed = 0;
  int groups = 0, groups_removed = 0;
  int schedules = 0, schedules_removed = 0;
  int rights = 0, memberships = 0;
  // References to doors, groups or schedules the data does not hold: skipped, counted, and
  // the first few described.
  int skipped = 0;
  std::vector<std::string> skipped_examples;
  bool wal_truncated = true;  // after an erasure (see ErasureReport)
};

// --- devices
// Door terminals, the certificates issued to them, their one-time commissioning codes and
// the commands waiting for them.

// created: added by an admin, no certificate yet; commissioned: holds a current certificate;
// disabled: refused (403) until an admin enables it again; decommissioned: certificates
// revoked, needs a new commissioning code.
enum class DeviceStatus { kCreated, kCommissioned, kDisabled, kDecommissioned };
std::string_view DeviceStatusName(DeviceStatus status);  // "created", "commissioned", ...
std::optional<DeviceStatus> ParseDeviceStatus(std::string_view name);

struct Device {
  int64_t id = 0;
  std::string name;
  std::optional<int64_t> door_id;
  DeviceStatus status = DeviceStatus::kCreated;
  bool online = false;
  std::optional<WallTime> last_seen_at;
  std::string firmware;
  // The latest certificate recorded for the device (none before commissioning) and whether
  // it has been revoked (decommissioning).
  std::optional<std::string> cert_serial;
  std::optional<WallTime> cert_not_after;
  bool cert_revoked = false;
  std::string settings_json = "{}";
  WallTime created_at{};
  WallTime updated_at{};
};

// A certificate issued to a device. Serials are upper-case hex (net::CertificateInfo's form).
struct DeviceCertificate {
  std::string serial_hex;
  int64_t device_id = 0;
  std::string device_name;  // filled when read back
  WallTime issued_at{};
  WallTime not_after{};
  std::optional<WallTime> revoked_at;  // replaced by a newer one, or revoked
};

// How the certificate a TLS client presented relates to its device.
enum class DeviceCertificateState {
  kCurrent,   // the device's current certificate, not revoked
  kReplaced,  // an earlier certificate of the device; a newer one replaced it
  kRevoked,   // the device's latest certificate, revoked (decommissioned)
};

struct DeviceByCertificate {
  Device device;
  DeviceCertificate certificate;
  DeviceCertificateState state = DeviceCertificateState::kCurrent;
};

// A commissioning code, as the store receives it: only its keyed hash (see commissioning.h).
struct NewCommissioningCode {
  int64_t device_id = 0;
  std::string code_hash;  // 32 raw bytes: HMAC-SHA256 under the server's secret
  WallTime expires_at{};
};

struct RedeemedCommissioningCode {
  int64_t code_id = 0;
  Device device;  // as it is (the caller checks its status)
};

// The commands a terminal understands: reboot, recommission, decommission, config, open,
// update, identify, sync_time.
bool IsKnownDeviceCommand(std::string_view command);
inline constexpr const char* kKnownDeviceCommands =
    "reboot, recommission, decommission, config, open, update, identify, sync_time";

struct NewDeviceCommand {
  int64_t device_id = 0;
  std::string command;                 // "reboot", "recommission", "decommission", "config", ...
  std::string payload_json = "{}";     // a JSON value
  std::string origin;                  // who asked: "admin:<token name>", "connect", ...
  std::optional<WallTime> expires_at;  // not handed out from then on; none: never expires
};

struct DeviceCommand {
  int64_t id = 0;
  int64_t device_id = 0;
  std::string command;
  std::string payload_json;
  std::string origin;
  WallTime created_at{};
  std::optional<WallTime> expires_at;
  std::optional<WallTime> delivered_at;
  std::optional<WallTime> completed_at;
  std::optional<std::string> result_json;
};

}  // namespace facegate::store
