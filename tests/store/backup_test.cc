// Backup and restore, GDPR erasure down to the file bytes, and refusal of a damaged file.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "facegate/core/files.h"
#include "facegate/store/store.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using testing::FileContains;
using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;
using testing::ReadAll;

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    Reopen();
  }
  void Reopen() {
    store_.reset();
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  // Adds `users` users with `per_user` templates each (one transaction per user); remembers
  // every template.
  void Populate(int users, int per_user) {
    for (int u = 0; u < users; ++u) {
      auto user = store_->UpsertUser(MakeUser("P-" + std::to_string(u)));
      ASSERT_TRUE(user.ok());
      std::vector<std::vector<float>> values;
      std::vector<NewTemplate> batch(per_user);
      for (int i = 0; i < per_user; ++i) values.push_back(RandomEmbedding(rng_));
      for (int i = 0; i < per_user; ++i) {
        batch[i].user_id = *user;
        batch[i].model_version = kModel;
        batch[i].values = values[i];
      }
      auto ids = store_->AddTemplates(batch);
      ASSERT_TRUE(ids.ok()) << ids.status().ToString();
      for (int i = 0; i < per_user; ++i) templates_[(*ids)[i]] = values[i];
    }
  }
  void ExpectAllTemplatesBack() {
    auto matrix = store_->LoadTemplatesForIndex(kModel);
    ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
    ASSERT_EQ(matrix->size(), templates_.size());
    for (size_t i = 0; i < matrix->size(); ++i) {
      const auto& want = templates_.at(matrix->template_ids[i]);
      auto row = matrix->row(i);
      EXPECT_TRUE(std::equal(row.begin(), row.end(), want.begin(), want.end()));
    }
  }
  std::string Ciphertext(int64_t template_id) {
    RawDb raw(options_.db_file);
    return raw.Blob("SELECT ciphertext FROM face_templates WHERE template_id = " +
                    std::to_string(template_id));
  }
  std::string DbAndWal() {
    return ReadAll(options_.db_file) + ReadAll(options_.db_file.string() + "-wal");
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{11};
  std::map<int64_t, std::vector<float>> templates_;
};

TEST_F(BackupTest, OnlineBackupWhileWritingThenWipeAndRestore) {
  Populate(40, 2);
  Door door;
  door.external_id = "D1";
  const int64_t door_id = *store_->UpsertDoor(door);
  const int64_t device_id = *store_->AddDevice({"t1", door_id});

  // Events (each with its outbox row) keep being written while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      AccessEvent e;
      e.time = clock_.Now();
      e.device_id = device_id;
      e.door_id = door_id;
      e.reason = "unknown_face";
      e.request_id = "r" + std::to_string(i);
      std::vector<OutboxMessage> out = {{"connect", "events", "{}"}};
      if (store_->RecordEvent(e, out).ok()) ++written;
    }
  });
  while (written < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto backup_file = dir_ / "backups" / "facegate-backup.db";
  ASSERT_TRUE(EnsureDirectory(backup_file.parent_path(), 0700).ok());
  auto info = store_->Backup(backup_file);
  const int during = written;
  while (written < during + 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  writer.join();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->users, 40);
  EXPECT_EQ(info->templates, 80);
  EXPECT_EQ(info->key_ids, std::vector<uint32_t>{1});
  EXPECT_EQ(info->schema_version, CurrentSchemaVersion());
  EXPECT_GT(info->bytes, 0);
  EXPECT_FALSE(std::filesystem::exists(backup_file.string() + ".partial"));
  EXPECT_FALSE(std::filesystem::exists(backup_file.string() + "-wal"));

  {
    // A consistent snapshot: every event came with its outbox row, in one transaction.
    RawDb raw(backup_file);
    EXPECT_EQ(raw.One("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(raw.One("PRAGMA journal_mode"), "delete");
    const std::string events = raw.One("SELECT count(*) FROM events");
    EXPECT_EQ(raw.One("SELECT count(*) FROM outbox"), events);
    EXPECT_GE(std::stoi(events), 20);
    EXPECT_LT(std::stoi(events), written.load());
  }
  // The key is not in the backup.
  const std::string key = ReadAll(options_.key_dir / "template.key");
  ASSERT_EQ(key.size(), 32u);
  EXPECT_FALSE(FileContains(backup_file, key));

  // Disaster: the database is gone. Restore the backup, keep the key directory.
  store_.reset();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(options_.db_file.string() + suffix);
  }
  auto restored = RestoreBackup(backup_file, options_.db_file);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->templates, 80);
  Reopen();
  ExpectAllTemplatesBack();
  EXPECT_EQ(store_->ListUsers(0, 1000)->size(), 40u);
  EXPECT_TRUE(store_->FindUserByExternalId("P-39").ok());

  // Restoring over an existing database keeps the old one aside.
  store_.reset();
  restored = RestoreBackup(backup_file, options_.db_file);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  int aside = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().filename().string().starts_with("facegate.db.before-restore-")) ++aside;
  }
  EXPECT_GE(aside, 1);
  Reopen();
  ExpectAllTemplatesBack();
}

TEST_F(BackupTest, RestoreRefusesADamagedBackupAndKeepsTheDatabase) {
  Populate(30, 3);
  const auto backup_file = dir_ / "backup.db";
  ASSERT_TRUE(store_->Backup(backup_file).ok());
  store_.reset();
  std::string bytes = ReadAll(backup_file);
  for (size_t i = 4096 * 3; i < 4096 * 6 && i < bytes.size(); ++i) bytes[i] = '\x5a';
  ASSERT_TRUE(WriteFileAtomically(backup_file, bytes, 0600).ok());
  auto restored = RestoreBackup(backup_file, options_.db_file);
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), StatusCode::kCorruption) << restored.status().ToString();
  Reopen();
  ExpectAllTemplatesBack();
}

TEST_F(BackupTest, ErasureLeavesNoCiphertextInTheDatabaseOrTheWal) {
  Populate(3, 2);  // P-0, P-1, P-2
  auto alice = store_->FindUserByExternalId("P-1");
  ASSERT_TRUE(alice.ok());
  auto alice_templates = store_->ListTemplatesOfUser(alice->id);
  ASSERT_EQ(alice_templates->size(), 2u);
  std::vector<std::string> erased;
  for (const auto& t : *alice_templates) erased.push_back(Ciphertext(t.id));
  auto bob = store_->FindUserByExternalId("P-2");
  const std::string kept = Ciphertext(store_->ListTemplatesOfUser(bob->id)->at(0).id);
  // Take some of it into the database file too, then write more so the WAL holds it as well.
  ASSERT_TRUE(store_->Checkpoint().ok());
  ASSERT_TRUE(store_->UpsertUser(MakeUser("P-1")).ok());
  {
    const std::string before = DbAndWal();
    for (const auto& c : erased) ASSERT_NE(before.find(c), std::string::npos);
  }

  auto report = store_->EraseUser(alice->id);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->templates_deleted, 2);
  EXPECT_TRUE(report->user_deleted);
  EXPECT_TRUE(report->wal_truncated);

  // Searched while the daemon would still be running (the store is open).
  const std::string after = DbAndWal();
  for (const auto& c : erased) {
    EXPECT_EQ(after.find(c), std::string::npos);
    EXPECT_EQ(after.find(c.substr(0, 32)), std::string::npos);
    EXPECT_EQ(after.find(c.substr(c.size() - 32)), std::string::npos);
  }
  EXPECT_EQ(after.find("First P-1"), std::string::npos);  // the name is gone too
  EXPECT_NE(after.find(kept), std::string::npos);         // the search does find live data
  EXPECT_EQ(store_->FindUserByExternalId("P-1").status().code(), StatusCode::kNotFound);
  templates_.clear();
}

TEST_F(BackupTest, DamagedDatabaseIsRefusedAtStartup) {
  Populate(10, 40);
  store_.reset();  // closing checkpoints everything into the main file
  std::string bytes = ReadAll(options_.db_file);
  ASSERT_GT(bytes.size(), 4096u * 40);
  // Overwrite some pages in the middle of the file.
  for (size_t page : {20, 21, 33}) {
    for (size_t i = page * 4096; i < (page + 1) * 4096; ++i) bytes[i] = static_cast<char>(i * 7);
  }
  {
    std::fstream f(options_.db_file, std::ios::in | std::ios::out | std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto store = Store::Open(options_, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_NE(store.status().message().find("Refusing to start"), std::string::npos)
      << store.status().message();
  EXPECT_NE(store.status().message().find("restore the last backup"), std::string::npos)
      << store.status().message();
  templates_.clear();
}

}  // namespace
}  // namespace facegate::store
