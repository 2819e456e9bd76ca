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

  Result<uint32_t> AddKey() override;
  Result<KeyRotationProgress> RotateKey(const KeyRotationOptions& options) override;
  Result<KeyRotationProgress> KeyRotationStatus() override;

  Result<int64_t> UpsertDoor(const Door& door) override;
  Result<std::optional<Door>> FindDoorByExternalId(std::string_view external_id) override;
  Result<int64_t> AddDevice(const NewDevice& device) override;
  Result<int64_t> CreateAdminToken(const NewAdminToken& token) override;
  Result<int64_t> CountActiveAdminTokens() override;

  Result<RecordedEvent> RecordEvent(const AccessEvent& event,
                                    std::span<const OutboxMessage> outbox) override;
  Result<std::optional<StoredEvent>> GetEvent(int64_t event_id) override;
  Result<std::vector<OutboxEntry>> DueOutbox(std::string_view destination, WallTime now,
                                             int limit) override;
  Status AckOutbox(int64_t message_id) override;
  Status RetryOutboxLater(int64_t message_id, WallTime next_try_at,
                          std::string_view error) override;
  Result<int64_t> OutboxBacklog(std::string_view destination) override;

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
  Result<std::optional<std::string>> GetSettingLocked(std::string_view key);
  Result<int64_t> InsertTemplateLocked(const NewTemplate& tmpl);
  Result<RecordedEvent> InsertEventLocked(const AccessEvent& event,
                                          std::span<const OutboxMessage> outbox);
  void WriteEventBatch(const std::vector<EventWriter*>& batch);
  Result<ErasureReport> EraseLocked(int64_t user_id, bool delete_user);
  bool CheckpointTruncateLocked();
  Result<int64_t> CountBelowKeyLocked(uint32_t key_id);

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
