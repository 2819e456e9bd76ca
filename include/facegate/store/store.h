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
  // GDPR erasure: deletes the user and every template of theirs in one transaction, then
  // checkpoints the WAL so no erased byte remains in the files. Events keep the user's
  // external id until their retention period ends.
  virtual Result<ErasureReport> EraseUser(int64_t user_id) = 0;
  // Deletes every template of the user (consent withdrawn), same guarantees as EraseUser.
  virtual Result<ErasureReport> EraseTemplatesOfUser(int64_t user_id) = 0;

  // --- face templates
  // Encrypts and stores one template with the current key; returns its id once committed.
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

  // --- template keys
  // Creates a new key file (the next id) in the key directory and makes it the current key.
  // Not available with systemd credentials: there the admin adds the file and restarts.
  virtual Result<uint32_t> AddKey() = 0;
  // Re-encrypts templates under older keys with the current key, in batches (one transaction
  // each), so the store stays usable meanwhile. The progress is kept in settings: a rotation
  // interrupted by a crash or a stop continues where it was at the next call.
  virtual Result<KeyRotationProgress> RotateKey(const KeyRotationOptions& options) = 0;
  virtual Result<KeyRotationProgress> KeyRotationStatus() = 0;

  // --- doors and devices (the minimum events need; grows with the terminals issue)
  virtual Result<int64_t> UpsertDoor(const Door& door) = 0;
  virtual Result<std::optional<Door>> FindDoorByExternalId(std::string_view external_id) = 0;
  virtual Result<int64_t> AddDevice(const NewDevice& device) = 0;

  // Admin tokens: creation (name unique among active tokens) and the count of active ones.
  virtual Result<int64_t> CreateAdminToken(const NewAdminToken& token) = 0;
  virtual Result<int64_t> CountActiveAdminTokens() = 0;

  // --- access events and the outbox
  // Writes the event and its outbox messages in one transaction; returns once durable.
  // A (device, request id) seen before writes nothing and returns the earlier event.
  virtual Result<RecordedEvent> RecordEvent(const AccessEvent& event,
                                            std::span<const OutboxMessage> outbox) = 0;
  virtual Result<std::optional<StoredEvent>> GetEvent(int64_t event_id) = 0;
  // Messages for `destination` whose next try is due at `now`, oldest first.
  virtual Result<std::vector<OutboxEntry>> DueOutbox(std::string_view destination, WallTime now,
                                                     int limit) = 0;
  // Delivered: the message is removed.
  virtual Status AckOutbox(int64_t message_id) = 0;
  // Not delivered: counts the attempt and sets the next try.
  virtual Status RetryOutboxLater(int64_t message_id, WallTime next_try_at,
                                  std::string_view error) = 0;
  virtual Result<int64_t> OutboxBacklog(std::string_view destination) = 0;

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
