// StoreImpl: the SQLite implementation of facegate::store::Store. Private to src/store.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "facegate/store/keyring.h"
#include "facegate/store/store.h"
#include "store/sqlite.h"
#include "store/template_cipher.h"

namespace facegate::store::internal {

class StoreImpl final : public Store {
 public:
  StoreImpl(const StoreOptions& options, const Clock& clock, std::unique_ptr<Connection> db,
            Keyring keyring);
  ~StoreImpl() override;

  // Pragmas, start-up check, migrations, key verification. Called once by Store::Open.
  Status Initialize();

  Result<std::optional<std::string>> GetSetting(std::string_view key) override;
  Status SetSetting(std::string_view key, std::string_view value) override;
  Status DeleteSetting(std::string_view key) override;

  Result<int64_t> UpsertUser(const User& user) override;
  Result<User> GetUser(int64_t user_id) override;
  Result<User> FindUserByExternalId(std::string_view external_id) override;
  Result<std::vector<User>> ListUsers(int64_t after_id, int limit) override;
  Result<ErasureReport> EraseUser(int64_t user_id) override;
  Result<ErasureReport> EraseTemplatesOfUser(int64_t user_id) override;

  Result<int64_t> AddTemplate(const NewTemplate& tmpl) override;
  Result<std::vector<int64_t>> AddTemplates(std::span<const NewTemplate> templates) override;
  Status DeleteTemplate(int64_t template_id) override;
  Result<std::vector<TemplateInfo>> ListTemplatesOfUser(int64_t user_id) override;
  Result<TemplateMatrix> LoadTemplatesForIndex(std::string_view model_version) override;
  Result<std::vector<TemplateInfo>> ListTemplatesForReEnrollment(
      std::string_view current_model_version) override;

  Result<TemplateChanges> TemplateChangesSince(int64_t after_change_id,
                                               std::string_view model_version, int limit) override;
  Result<int64_t> PruneTemplateChanges(int64_t up_to_change_id) override;
  Result<TemplateMatrix> LoadTemplatesOfUser(int64_t user_id,
                                             std::string_view model_version) override;
  Result<int64_t> DataVersion() override;

  Result<uint32_t> AddKey() override;
  Result<KeyRotationProgress> RotateKey(const KeyRotationOptions& options) override;
  Result<KeyRotationProgress> KeyRotationStatus() override;
  Result<uint32_t> ReloadKeys() override;

  Result<int64_t> UpsertDoor(const Door& door) override;
  Result<std::optional<Door>> FindDoorByExternalId(std::string_view external_id) override;
  Result<Door> GetDoor(int64_t door_id) override;
  Result<int64_t> AddDevice(const NewDevice& device) override;

  // Access model: defined in store_access.cc.
  Result<int64_t> CreateAccessGroup(const AccessGroup& group) override;
  Status UpdateAccessGroup(const AccessGroup& group) override;
  Status DeleteAccessGroup(int64_t group_id) override;
  Result<std::vector<AccessGroup>> ListAccessGroups() override;
  Result<std::optional<AccessGroup>> FindAccessGroupByExternalId(
      std::string_view external_id) override;
  Status AddGroupMember(int64_t group_id, int64_t user_id) override;
  Status RemoveGroupMember(int64_t group_id, int64_t user_id) override;
  Result<std::vector<int64_t>> ListGroupMembers(int64_t group_id) override;
  Result<std::vector<int64_t>> ListGroupsOfUser(int64_t user_id) override;
  Result<int64_t> CreateSchedule(const Schedule& schedule) override;
  Status UpdateSchedule(const Schedule& schedule) override;
  Status ReplaceScheduleRanges(int64_t schedule_id, std::span<const ScheduleRange> ranges) override;
  Status DeleteSchedule(int64_t schedule_id) override;
  Result<std::optional<Schedule>> GetSchedule(int64_t schedule_id) override;
  Result<std::vector<Schedule>> ListSchedules() override;
  Status CreateHoliday(const Holiday& holiday) override;
  Status UpdateHoliday(const Holiday& holiday) override;
  Status DeleteHoliday(std::string_view calendar, std::string_view local_date) override;
  Result<std::vector<Holiday>> ListHolidays() override;
  Result<int64_t> CreateAccessRight(const AccessRight& right) override;
  Status UpdateAccessRight(const AccessRight& right) override;
  Status DeleteAccessRight(int64_t right_id) override;
  Result<std::vector<AccessRight>> ListAccessRights(const AccessRightFilter& filter) override;
  Result<ShipSyncReport> ApplyShipSync(const ShipSyncData& data, RemovedShipUser removed) override;
  Result<AccessModelData> LoadAccessSnapshotData() override;

  // Devices, certificates, commissioning codes, commands: defined in store_devices.cc.
  Result<Device> GetDevice(int64_t device_id) override;
  Result<Device> FindDeviceByName(std::string_view name) override;
  Result<DeviceByCertificate> FindDeviceByCertificateSerial(std::string_view serial_hex) override;
  Result<std::vector<Device>> ListDevices(int64_t after_id, int limit) override;
  Status SetDeviceStatus(int64_t device_id, DeviceStatus status) override;
  Status SetDeviceDoor(int64_t device_id, std::optional<int64_t> door_id) override;
  Result<bool> RecordDeviceHeartbeat(int64_t device_id, WallTime seen_at,
                                     std::string_view firmware) override;
  Result<std::vector<int64_t>> MarkDevicesOffline(WallTime not_seen_since) override;
  Status DeleteDevice(int64_t device_id) override;
  Result<int64_t> CreateCommissioningCode(const NewCommissioningCode& code) override;
  Result<RedeemedCommissioningCode> RedeemCommissioningCode(std::string_view code_hash,
                                                            WallTime now) override;
  Result<std::optional<std::string>> RecordDeviceCertificate(
      const DeviceCertificate& certificate) override;
  Result<int> RevokeDeviceCertificates(int64_t device_id) override;
  Result<std::vector<DeviceCertificate>> ListDeviceCertificates(int64_t device_id) override;
  Result<std::vector<DeviceCertificate>> ListCertificatesExpiringBefore(WallTime before) override;
  Result<int64_t> QueueDeviceCommand(const NewDeviceCommand& command) override;
  Result<std::vector<DeviceCommand>> TakePendingDeviceCommands(int64_t device_id, WallTime now,
                                                               int limit) override;
  Status CompleteDeviceCommand(int64_t device_id, int64_t command_id,
                               std::string_view result_json) override;
  Result<std::optional<DeviceCommand>> GetDeviceCommand(int64_t command_id) override;

  Result<int64_t> CreateAdminToken(const NewAdminToken& token) override;
  Result<int64_t> CountActiveAdminTokens() override;

  // Administration: the rest of the admin tokens, the audit log, the admin API's listings
  // and deletions, bulk import batches, integrations, retention and the event listing:
  // defined in store_admin.cc.
  Result<std::optional<AdminToken>> FindActiveAdminToken(std::string_view token_sha256) override;
  Status TouchAdminToken(int64_t token_id, WallTime at) override;
  Result<AdminToken> GetAdminToken(int64_t token_id) override;
  Result<std::vector<AdminToken>> ListAdminTokens(bool include_revoked) override;
  Status RevokeAdminToken(int64_t token_id, WallTime at) override;
  Result<int64_t> AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) override;
  Result<std::vector<User>> ListUsersFiltered(const UserFilter& filter) override;
  Result<int64_t> CountUsers() override;
  Result<std::vector<Door>> ListDoors() override;
  Status DeleteDoor(int64_t door_id) override;
  Result<TemplateInfo> GetTemplateInfo(int64_t template_id) override;
  Result<StoredPhoto> LoadTemplatePhoto(int64_t template_id) override;
  Result<int64_t> CountPhotos() override;
  Result<std::vector<ExportedTemplate>> ExportTemplates(int64_t after_id, int limit) override;
  Result<std::vector<ImportedRow>> ImportBatch(std::span<const ImportRow> rows) override;
  Result<std::optional<Integration>> GetIntegration(std::string_view name) override;
  Result<std::vector<Integration>> ListIntegrations() override;
  Status PutIntegrationSettings(std::string_view name, bool enabled,
                                std::string_view settings_json) override;
  Status SetIntegrationStatus(std::string_view name, IntegrationStatus status,
                              std::string_view error) override;
  Result<PurgeReport> PurgeExpired(std::optional<WallTime> events_before,
                                   std::optional<WallTime> audit_before, int batch) override;
  Result<std::vector<StoredEvent>> ListEvents(const EventFilter& filter) override;

  Result<RecordedEvent> RecordEvent(const AccessEvent& event,
                                    std::span<const OutboxMessage> outbox) override;
  Result<std::optional<StoredEvent>> GetEvent(int64_t event_id) override;
  Result<std::optional<StoredEvent>> FindEventByRequest(int64_t device_id,
                                                        std::string_view request_id) override;
  Result<int64_t> CountEvents() override;
  Result<std::vector<OutboxEntry>> DueOutbox(std::string_view destination, WallTime now,
                                             int limit) override;
  Status AckOutbox(int64_t message_id) override;
  Status RetryOutboxLater(int64_t message_id, WallTime next_try_at,
                          std::string_view error) override;
  Result<int64_t> OutboxBacklog(std::string_view destination) override;
  Result<int64_t> TrimOutbox(std::string_view destination, int64_t keep) override;

  Result<BackupInfo> Backup(const std::filesystem::path& destination) override;
  Status Checkpoint() override;
  Result<int64_t> CountTemplates() override;

 private:
  // One RecordEvent call waiting in the group-commit queue.
  struct EventWriter {
    const AccessEvent* event = nullptr;
    std::span<const OutboxMessage> outbox;
    Result<RecordedEvent> result = Status::Internal("event not written");
    bool done = false;
    std::condition_variable cv;
  };

  int64_t NowMs() const;
  Status ConfigureConnection();
  Status CheckIntegrity();
  Status VerifyKeys();  // requires mu_
  Status SetSettingLocked(std::string_view key, std::string_view value);
  Status DeleteSettingLocked(std::string_view key);
  // UpsertUser's validation and statement, inside the caller's transaction (ImportBatch).
  Result<int64_t> UpsertUserLocked(const User& user);
  Result<std::optional<std::string>> GetSettingLocked(std::string_view key);
  Result<int64_t> InsertTemplateLocked(const NewTemplate& tmpl);
  Status InsertPhotoLocked(int64_t template_id, const NewTemplate& tmpl);
  // One batch of kept photos under keys older than `target`, re-encrypted; returns how many.
  Result<int64_t> ReencryptPhotosLocked(const TemplateKey& target, int batch_size);
  Result<RecordedEvent> InsertEventLocked(const AccessEvent& event,
                                          std::span<const OutboxMessage> outbox);
  void WriteEventBatch(const std::vector<EventWriter*>& batch);
  Result<ErasureReport> EraseLocked(int64_t user_id, bool delete_user);
  bool CheckpointTruncateLocked();
  Result<int64_t> CountBelowKeyLocked(uint32_t key_id);
  // An integration's settings as stored (secrets sealed with the current key) and as given
  // back (secrets in clear). Require mu_.
  Result<std::string> SealSettingsLocked(std::string_view integration, std::string_view json);
  Result<std::string> OpenSettingsLocked(std::string_view integration, std::string_view json);
  // Seals the secrets still in clear (databases from before sealing) and moves those under
  // an older key to the current one. Requires mu_ and a transaction.
  Status ResealIntegrationSecretsLocked();
  // Decrypts the template row at `s` (columns template_id, user_id, key_id, dimension, nonce,
  // ciphertext, tag) into `out` (`dim` floats). Requires mu_.
  Status OpenTemplateRowLocked(Stmt& s, std::string_view model_version, size_t dim, float* out);
  // Steps `s` (same columns) to the end, appending every row decrypted to `m`. Requires mu_.
  Status AppendTemplateRowsLocked(Stmt& s, std::string_view model_version, TemplateMatrix* m);

  const StoreOptions options_;
  const Clock& clock_;

  std::mutex mu_;  // guards everything below until queue_mu_
  std::unique_ptr<Connection> db_;
  Keyring keyring_;
  TemplateCipher cipher_;

  std::mutex queue_mu_;  // guards writers_
  std::deque<EventWriter*> writers_;
};

}  // namespace facegate::store::internal
