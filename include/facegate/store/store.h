// Store: Facegate's durable state in one SQLite database (users, face templates, doors,
// devices, access events, the integrations' outbox, settings, ...).
//
// Opened through Store::Open, which creates or upgrades the schema (versioned migrations, one
// transaction each), checks the file (quick_check by default) and the template keys, and
// refuses a damaged database, a database from a newer Facegate, or a key that does not match
// the one the templates were encrypted with.
//
// Durability: every write is one transaction committed with synchronous=FULL in WAL mode, so
// a call that returned OK survives a crash or a power loss. Access events are group-committed:
// concurrent RecordEvent calls share one transaction (and one fsync).
// Face templates are encrypted at rest with AES-256-GCM (see keyring.h); the associated data
// binds each ciphertext to its template id, user id, key id and model version, so a tampered
// or swapped row is reported as Corruption naming the template, never used.
// Erasure uses secure_delete and a WAL checkpoint so erased bytes leave the files.
//
// Thread-safety: all methods are safe to call from any thread. Writes are serialised; the
// calls are blocking (disk I/O): keep them off network I/O threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "facegate/core/clock.h"
#include "facegate/core/status.h"
#include "facegate/store/options.h"
#include "facegate/store/records.h"

namespace facegate::store {

// The schema version this build creates and understands.
int CurrentSchemaVersion();

struct KeyRotationOptions {
  int batch_size = 256;  // templates re-encrypted per transaction
  int max_batches = -1;  // stop after this many batches (-1: until done); the rest resumes later
};

class Store {
 public:
  // Opens the database at options.db_file with the keys from options.key_dir. `clock` must
  // outlive the store.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, const Clock& clock);

  virtual ~Store() = default;

  // --- settings: small named values (key rotation state, site settings, ...)
  virtual Result<std::optional<std::string>> GetSetting(std::string_view key) = 0;
  virtual Status SetSetting(std::string_view key, std::string_view value) = 0;
  virtual Status DeleteSetting(std::string_view key) = 0;

  // --- users
  // Inserts or updates the user with user.external_id; returns its id. id, created_at and
  // updated_at of the argument are ignored.
  virtual Result<int64_t> UpsertUser(const User& user) = 0;
  virtual Result<User> GetUser(int64_t user_id) = 0;
  virtual Result<User> FindUserByExternalId(std::string_view external_id) = 0;
  // Users with id > after_id, by id, at most `limit` (paging by cursor).
  virtual Result<std::vector<User>> ListUsers(int64_t after_id, int limit) = 0;
  // GDPR erasure: deletes the user and every template and kept photo of theirs in one
  // transaction, then
  // checkpoints the WAL so no erased byte remains in the files. Events keep the user's
  // external id until their retention period ends.
  virtual Result<ErasureReport> EraseUser(int64_t user_id) = 0;
  // Deletes every template (and kept photo) of the user (consent withdrawn), same guarantees
  // as EraseUser.
  virtual Result<ErasureReport> EraseTemplatesOfUser(int64_t user_id) = 0;

  // --- face templates
  // Encrypts and stores one template (and its photo, when given) with the current key;
  // returns its id once committed. Deleting a template deletes its photo.
  virtual Result<int64_t> AddTemplate(const NewTemplate& tmpl) = 0;
  // Several in one transaction (imports): all or none.
  virtual Result<std::vector<int64_t>> AddTemplates(std::span<const NewTemplate> templates) = 0;
  virtual Status DeleteTemplate(int64_t template_id) = 0;
  virtual Result<std::vector<TemplateInfo>> ListTemplatesOfUser(int64_t user_id) = 0;
  // Decrypts every template of `model_version` (for the 1:N index at start-up). Any row
  // that fails authentication fails the whole load with Corruption naming the template.
  virtual Result<TemplateMatrix> LoadTemplatesForIndex(std::string_view model_version) = 0;
  // The templates of any other model version: never matched, to be enrolled again.
  virtual Result<std::vector<TemplateInfo>> ListTemplatesForReEnrollment(
      std::string_view current_model_version) = 0;

  // --- template change log: every insert, delete or move of a template row, whoever made it
  // (triggers write it), so the daemon's index follows changes made by facegatectl too.
  // At most `limit` log rows are read per call; `added` is limited to `model_version`.
  virtual Result<TemplateChanges> TemplateChangesSince(int64_t after_change_id,
                                                       std::string_view model_version,
                                                       int limit) = 0;
  // Deletes the log rows up to `change_id` (applied by the only reader, the daemon); returns
  // how many.
  virtual Result<int64_t> PruneTemplateChanges(int64_t up_to_change_id) = 0;
  // One user's templates of `model_version`, decrypted (1:1 verification of a claimed
  // identity). Empty when the user has none.
  virtual Result<TemplateMatrix> LoadTemplatesOfUser(int64_t user_id,
                                                     std::string_view model_version) = 0;
  // SQLite's data_version: changes when another connection (facegatectl) committed, so the
  // daemon knows when to rebuild what it caches (the access snapshot).
  virtual Result<int64_t> DataVersion() = 0;

  // --- template keys
  // Creates a new key file (the next id) in the key directory and makes it the current key.
  // Not available with systemd credentials: there the admin adds the file and restarts.
  virtual Result<uint32_t> AddKey() = 0;
  // Re-encrypts templates under older keys with the current key, in batches (one transaction
  // each), so the store stays usable meanwhile. The progress is kept in settings: a rotation
  // interrupted by a crash or a stop continues where it was at the next call.
  virtual Result<KeyRotationProgress> RotateKey(const KeyRotationOptions& options) = 0;
  virtual Result<KeyRotationProgress> KeyRotationStatus() = 0;
  // Re-reads the key directory: a key another process added (facegatectl store rotate-key
  // beside the daemon) becomes this store's current key, so new templates use it and
  // RotateKey moves the others to it. Returns the current key id. A key file that does not
  // match the database's record of it fails as at Open, and the keys in use stay.
  virtual Result<uint32_t> ReloadKeys() = 0;

  // --- doors and devices (the minimum events need; grows with the terminals issue)
  virtual Result<int64_t> UpsertDoor(const Door& door) = 0;
  virtual Result<std::optional<Door>> FindDoorByExternalId(std::string_view external_id) = 0;
  virtual Result<Door> GetDoor(int64_t door_id) = 0;  // NotFound when absent
  virtual Result<int64_t> AddDevice(const NewDevice& device) = 0;

  // --- access model (groups, schedules, holidays, rights)
  // Creating a record whose external id (or key) exists fails with AlreadyExists; a missing
  // referenced user, group, door or schedule with NotFound; updating or deleting a missing
  // record with NotFound. Deleting a group cascades to its memberships and rights. A
  // schedule still used by rights cannot be deleted (FailedPrecondition): dropping those
  // rights, or making them valid at any time, would change who gets in without anyone
  // deciding it.
  virtual Result<int64_t> CreateAccessGroup(const AccessGroup& group) = 0;
  virtual Status UpdateAccessGroup(const AccessGroup& group) = 0;  // by group.id
  virtual Status DeleteAccessGroup(int64_t group_id) = 0;
  virtual Result<std::vector<AccessGroup>> ListAccessGroups() = 0;  // by id
  virtual Result<std::optional<AccessGroup>> FindAccessGroupByExternalId(
      std::string_view external_id) = 0;

  virtual Status AddGroupMember(int64_t group_id, int64_t user_id) = 0;
  virtual Status RemoveGroupMember(int64_t group_id, int64_t user_id) = 0;
  virtual Result<std::vector<int64_t>> ListGroupMembers(int64_t group_id) = 0;  // user ids
  virtual Result<std::vector<int64_t>> ListGroupsOfUser(int64_t user_id) = 0;   // group ids

  // A schedule is written with all its ranges in one transaction; UpdateSchedule and
  // ReplaceScheduleRanges replace every range, so a reader never sees half a week.
  virtual Result<int64_t> CreateSchedule(const Schedule& schedule) = 0;
  virtual Status UpdateSchedule(const Schedule& schedule) = 0;  // by schedule.id, with ranges
  virtual Status ReplaceScheduleRanges(int64_t schedule_id,
                                       std::span<const ScheduleRange> ranges) = 0;
  virtual Status DeleteSchedule(int64_t schedule_id) = 0;
  virtual Result<std::optional<Schedule>> GetSchedule(int64_t schedule_id) = 0;
  virtual Result<std::vector<Schedule>> ListSchedules() = 0;  // by id, with ranges

  // Holidays are keyed by (calendar, local_date).
  virtual Status CreateHoliday(const Holiday& holiday) = 0;
  virtual Status UpdateHoliday(const Holiday& holiday) = 0;  // day type, name, source
  virtual Status DeleteHoliday(std::string_view calendar, std::string_view local_date) = 0;
  virtual Result<std::vector<Holiday>> ListHolidays() = 0;  // by calendar, date

  // At most one right per (user, door) and per (group, door).
  virtual Result<int64_t> CreateAccessRight(const AccessRight& right) = 0;
  virtual Status UpdateAccessRight(const AccessRight& right) = 0;  // by right.id
  virtual Status DeleteAccessRight(int64_t right_id) = 0;
  virtual Result<std::vector<AccessRight>> ListAccessRights(const AccessRightFilter& filter) = 0;

  // The Salto Space sync: makes the ship-owned doors, schedules, groups, users, memberships
  // and rights exactly `data`, in one transaction (all of it or, on any failure, none).
  // Records of the same external id that were Facegate's own are adopted (become ship-owned);
  // ship-owned records missing from `data` are removed, users per `removed`. Local records
  // are never touched, nor the memberships of ship users in local groups.
  virtual Result<ShipSyncReport> ApplyShipSync(const ShipSyncData& data,
                                               RemovedShipUser removed) = 0;

  // Users, doors, groups, memberships, schedules, holidays and rights, read in ONE read
  // transaction: a consistent state even while another process writes. For building the
  // decision snapshot (access::BuildSnapshot).
  virtual Result<AccessModelData> LoadAccessSnapshotData() = 0;

  // Admin tokens: creation (name unique among active tokens: AlreadyExists) and the count of
  // active ones.
  virtual Result<int64_t> CreateAdminToken(const NewAdminToken& token) = 0;
  virtual Result<int64_t> CountActiveAdminTokens() = 0;
  // The active (not revoked) token with this SHA-256 (32 raw bytes); none when unknown or
  // revoked. InvalidArgument when the hash is not 32 bytes.
  virtual Result<std::optional<AdminToken>> FindActiveAdminToken(std::string_view token_sha256) = 0;
  // Sets last_used_at (the caller limits how often); never moves it back. NotFound.
  virtual Status TouchAdminToken(int64_t token_id, WallTime at) = 0;
  virtual Result<AdminToken> GetAdminToken(int64_t token_id) = 0;  // NotFound
  // By id; revoked ones only when asked.
  virtual Result<std::vector<AdminToken>> ListAdminTokens(bool include_revoked) = 0;
  // NotFound; FailedPrecondition when already revoked.
  virtual Status RevokeAdminToken(int64_t token_id, WallTime at) = 0;

  // --- audit log
  // Returns the entry's id. InvalidArgument: empty actor, action or outcome, or details_json
  // not JSON.
  virtual Result<int64_t> AppendAudit(const AuditEntry& entry) = 0;
  virtual Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) = 0;

  // --- more of the site: listings and deletions the admin API needs
  virtual Result<std::vector<User>> ListUsersFiltered(const UserFilter& filter) = 0;
  virtual Result<int64_t> CountUsers() = 0;
  virtual Result<std::vector<Door>> ListDoors() = 0;  // by id
  // Deletes the door and its rights; devices at it keep no door; events keep their door id
  // cleared. NotFound when absent.
  virtual Status DeleteDoor(int64_t door_id) = 0;
  // The template's metadata (never its values); NotFound when absent.
  virtual Result<TemplateInfo> GetTemplateInfo(int64_t template_id) = 0;
  // The photo kept with a template (NewTemplate::photo), decrypted; NotFound when the
  // template has none (photos are kept only when configured) or does not exist.
  virtual Result<StoredPhoto> LoadTemplatePhoto(int64_t template_id) = 0;
  virtual Result<int64_t> CountPhotos() = 0;
  // Templates with id > after_id, by id, at most `limit` (1..10000), decrypted: an admin's
  // export (paging by cursor). Corruption as LoadTemplatesForIndex.
  virtual Result<std::vector<ExportedTemplate>> ExportTemplates(int64_t after_id, int limit) = 0;
  // A bulk import batch: upserts every user by external id, adds the memberships and the
  // templates, all in ONE transaction (all rows or none). Results in the rows' order.
  // Already a member is fine; a missing access group (NotFound) or a bad user or template
  // (InvalidArgument, as UpsertUser and AddTemplates) fails the whole batch.
  virtual Result<std::vector<ImportedRow>> ImportBatch(std::span<const ImportRow> rows) = 0;

  // --- integrations (settings and status; the row is created on first write). Names must
  // not be empty; settings_json must be a JSON object (InvalidArgument).
  virtual Result<std::optional<Integration>> GetIntegration(std::string_view name) = 0;
  virtual Result<std::vector<Integration>> ListIntegrations() = 0;  // by name
  virtual Status PutIntegrationSettings(std::string_view name, bool enabled,
                                        std::string_view settings_json) = 0;
  // status_changed_at is set when the status changes; last_error/last_error_at when
  // `error` is not empty (a "" error keeps the last one on record).
  virtual Status SetIntegrationStatus(std::string_view name, IntegrationStatus status,
                                      std::string_view error) = 0;

  // --- retention: deletes events older than events_before and audit rows older than
  // audit_before (unset: keep), in batches of `batch` rows per transaction so that writers
  // are not held up (a batch below 1 counts as 1). Outbox messages of purged events stay,
  // without their event id.
  virtual Result<PurgeReport> PurgeExpired(std::optional<WallTime> events_before,
                                           std::optional<WallTime> audit_before,
                                           int batch = 5000) = 0;

  // --- devices, certificates, commissioning codes, commands
  // Missing devices are NotFound. Certificate serials are compared upper-cased.
  virtual Result<Device> GetDevice(int64_t device_id) = 0;
  virtual Result<Device> FindDeviceByName(std::string_view name) = 0;
  // The device a presented certificate belongs to, and whether that certificate is its
  // current one, a replaced one or a revoked one: the caller refuses all but kCurrent (and
  // checks the device's status and the certificate's expiry). NotFound: no device ever had
  // this serial.
  virtual Result<DeviceByCertificate> FindDeviceByCertificateSerial(
      std::string_view serial_hex) = 0;
  // Devices with id > after_id, by id, at most `limit` (paging by cursor).
  virtual Result<std::vector<Device>> ListDevices(int64_t after_id, int limit) = 0;
  virtual Status SetDeviceStatus(int64_t device_id, DeviceStatus status) = 0;
  // None: the device serves no door. NotFound names the missing device or door.
  virtual Status SetDeviceDoor(int64_t device_id, std::optional<int64_t> door_id) = 0;
  // A heartbeat (or any authenticated call): last_seen_at = seen_at, firmware, online. Returns
  // true when the device was offline before (the caller logs it / counts it back online).
  virtual Result<bool> RecordDeviceHeartbeat(int64_t device_id, WallTime seen_at,
                                             std::string_view firmware) = 0;
  // Marks offline every online device not seen since `not_seen_since` (never seen counts as
  // not seen); returns their ids, ascending, for the caller's events and metrics.
  virtual Result<std::vector<int64_t>> MarkDevicesOffline(WallTime not_seen_since) = 0;
  // Deletes the device with its certificates, codes and commands; its events stay (device
  // id cleared). A deleted device's certificates are then unknown serials.
  virtual Status DeleteDevice(int64_t device_id) = 0;

  // Stores a code's hash and expiry (after now) for a device; its earlier unused codes stop
  // working at once (they report as expired). Returns the code's id.
  virtual Result<int64_t> CreateCommissioningCode(const NewCommissioningCode& code) = 0;
  // Atomically: the code must exist, be unused and unexpired at `now`; it is marked used.
  // NotFound "unknown commissioning code"; FailedPrecondition "commissioning code already
  // used" or "commissioning code expired". Guess limiting is the caller's.
  virtual Result<RedeemedCommissioningCode> RedeemCommissioningCode(std::string_view code_hash,
                                                                    WallTime now) = 0;

  // Records a certificate issued to the device and makes it the current one, in ONE
  // transaction: the previous current certificate (re-commissioning, renewal) gets
  // revoked_at set, and the status becomes commissioned unless the device is disabled.
  // Uses serial_hex, device_id and not_after (issued_at is the store's clock). Returns the
  // serial of the current certificate it revoked, if any (none after a decommissioning); a
  // serial recorded before, for any device, is AlreadyExists.
  virtual Result<std::optional<std::string>> RecordDeviceCertificate(
      const DeviceCertificate& certificate) = 0;
  // Decommissioning: revokes every certificate of the device and sets its status to
  // decommissioned, in one transaction. Returns how many certificates were revoked now.
  virtual Result<int> RevokeDeviceCertificates(int64_t device_id) = 0;
  // Every certificate of the device, newest first.
  virtual Result<std::vector<DeviceCertificate>> ListDeviceCertificates(int64_t device_id) = 0;
  // Current (not revoked) certificates with not_after < `before`, soonest first (for
  // metrics, status and renewal warnings); already expired ones included.
  virtual Result<std::vector<DeviceCertificate>> ListCertificatesExpiringBefore(
      WallTime before) = 0;

  // Queues a command for the device's next heartbeat or access answer; returns its id.
  virtual Result<int64_t> QueueDeviceCommand(const NewDeviceCommand& command) = 0;
  // The device's undelivered, unexpired commands (oldest first, at most `limit`), marked
  // delivered at `now` in the same statement, so each is handed out once.
  virtual Result<std::vector<DeviceCommand>> TakePendingDeviceCommands(int64_t device_id,
                                                                       WallTime now, int limit) = 0;
  // The device reports a delivered command done. NotFound: no such command for this device;
  // FailedPrecondition: not delivered yet, or already completed.
  virtual Status CompleteDeviceCommand(int64_t device_id, int64_t command_id,
                                       std::string_view result_json) = 0;
  virtual Result<std::optional<DeviceCommand>> GetDeviceCommand(int64_t command_id) = 0;

  // --- access events and the outbox
  // Writes the event and its outbox messages in one transaction; returns once durable.
  // A (device, request id) seen before writes nothing and returns the earlier event.
  virtual Result<RecordedEvent> RecordEvent(const AccessEvent& event,
                                            std::span<const OutboxMessage> outbox) = 0;
  virtual Result<std::optional<StoredEvent>> GetEvent(int64_t event_id) = 0;
  // The event a device's request id produced, if any (terminal retries are answered from it).
  virtual Result<std::optional<StoredEvent>> FindEventByRequest(int64_t device_id,
                                                                std::string_view request_id) = 0;
  virtual Result<int64_t> CountEvents() = 0;
  // Events matching `filter`, newest first (paging: before_id = the last id of a page).
  // InvalidArgument for a decision other than "grant" or "deny".
  virtual Result<std::vector<StoredEvent>> ListEvents(const EventFilter& filter) = 0;
  // Messages for `destination` whose next try is due at `now`, oldest first.
  virtual Result<std::vector<OutboxEntry>> DueOutbox(std::string_view destination, WallTime now,
                                                     int limit) = 0;
  // Delivered: the message is removed.
  virtual Status AckOutbox(int64_t message_id) = 0;
  // Not delivered: counts the attempt and sets the next try.
  virtual Status RetryOutboxLater(int64_t message_id, WallTime next_try_at,
                                  std::string_view error) = 0;
  virtual Result<int64_t> OutboxBacklog(std::string_view destination) = 0;
  // Keeps at most `keep` messages for `destination`, deleting the oldest beyond; returns how
  // many were deleted (a bounded backlog while an integration is unreachable).
  virtual Result<int64_t> TrimOutbox(std::string_view destination, int64_t keep) = 0;

  // --- maintenance
  // A consistent copy of the database at `destination` (written as destination.partial,
  // synced, checked, then renamed), taken while the store keeps serving. The template keys
  // are not in it: BackupInfo::key_ids says which key files to keep with it.
  virtual Result<BackupInfo> Backup(const std::filesystem::path& destination) = 0;
  // Checkpoints the WAL into the database and truncates it.
  virtual Status Checkpoint() = 0;
  virtual Result<int64_t> CountTemplates() = 0;
};

// Puts a backup in place of the database at `db_file` (the daemon must be stopped): checks
// the backup (integrity, schema version, Facegate's application id), moves the current
// database and its -wal/-shm aside as <db_file>.before-restore-<unix time> (nothing is
// deleted), then installs the copy atomically. The keys the backup needs must be put back
// into the key directory separately (see docs/store.md).
Result<BackupInfo> RestoreBackup(const std::filesystem::path& backup_file,
                                 const std::filesystem::path& db_file);

}  // namespace facegate::store
