// Template encryption: the cipher itself, the keyring, tampering with stored rows, wrong
// keys, and key rotation.
#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "facegate/core/files.h"
#include "facegate/store/keyring.h"
#include "facegate/store/store.h"
#include "store/store_testing.h"
#include "store/template_cipher.h"

namespace facegate::store {
namespace {

using internal::SealedTemplate;
using internal::TemplateAad;
using internal::TemplateCipher;
using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;

std::array<uint8_t, 32> RandomKeyBytes() {
  std::array<uint8_t, 32> k;
  RAND_bytes(k.data(), 32);
  return k;
}

class CipherTest : public ::testing::Test {
 protected:
  CipherTest()
      : ring_(Keyring::FromKeys({{1, RandomKeyBytes()}, {2, RandomKeyBytes()}})),
        values_(RandomEmbedding(rng_)) {
    aad_ = {0x1234567890, 42, 1, kModel};
    EXPECT_TRUE(cipher_.Seal(*ring_.Find(1), aad_, values_, &sealed_).ok());
  }
  Status OpenWith(const TemplateKey& key, const TemplateAad& aad, const SealedTemplate& s) {
    out_.assign(s.ciphertext.size() / 4, 0.f);
    return cipher_.Open(key, aad, s.nonce, s.ciphertext, s.tag, out_.data());
  }
  void ExpectCorruptionNamingTemplate(const Status& s) {
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
    EXPECT_NE(s.message().find("template 78187493520"), std::string::npos) << s.message();
    // Nothing of the plaintext is handed out on failure.
    EXPECT_TRUE(std::all_of(out_.begin(), out_.end(), [](float f) { return f == 0.f; }));
  }

  std::mt19937 rng_{7};
  Keyring ring_;
  std::vector<float> values_;
  TemplateAad aad_;
  TemplateCipher cipher_;
  SealedTemplate sealed_;
  std::vector<float> out_;
};

TEST_F(CipherTest, RoundTrip) {
  ASSERT_TRUE(OpenWith(*ring_.Find(1), aad_, sealed_).ok());
  EXPECT_EQ(out_, values_);
  EXPECT_EQ(sealed_.ciphertext.size(), values_.size() * sizeof(float));
  // A fresh nonce for every seal: the same plaintext never gives the same ciphertext.
  SealedTemplate again;
  ASSERT_TRUE(cipher_.Seal(*ring_.Find(1), aad_, values_, &again).ok());
  EXPECT_NE(again.nonce, sealed_.nonce);
  EXPECT_NE(again.ciphertext, sealed_.ciphertext);
}

TEST_F(CipherTest, WrongKeyIsDetected) {
  TemplateAad aad = aad_;
  aad.key_id = 2;  // as if the row claimed key 2
  ExpectCorruptionNamingTemplate(OpenWith(*ring_.Find(2), aad, sealed_));
  // Key 1's id with other key bytes: a replaced key file.
  Keyring other = Keyring::FromKeys({{1, RandomKeyBytes()}});
  ExpectCorruptionNamingTemplate(OpenWith(*other.Find(1), aad_, sealed_));
}

TEST_F(CipherTest, EveryFlippedBitIsDetected) {
  for (size_t bit = 0; bit < sealed_.ciphertext.size() * 8; bit += 37) {
    SealedTemplate t = sealed_;
    t.ciphertext[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ExpectCorruptionNamingTemplate(OpenWith(*ring_.Find(1), aad_, t));
  }
  for (size_t bit = 0; bit < 96; ++bit) {
    SealedTemplate t = sealed_;
    t.nonce[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ExpectCorruptionNamingTemplate(OpenWith(*ring_.Find(1), aad_, t));
  }
  for (size_t bit = 0; bit < 128; ++bit) {
    SealedTemplate t = sealed_;
    t.tag[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ExpectCorruptionNamingTemplate(OpenWith(*ring_.Find(1), aad_, t));
  }
  SealedTemplate truncated = sealed_;
  truncated.ciphertext.resize(truncated.ciphertext.size() - 4);
  ExpectCorruptionNamingTemplate(OpenWith(*ring_.Find(1), aad_, truncated));
}

TEST_F(CipherTest, AssociatedDataBindsUserTemplateKeyAndModel) {
  TemplateAad other_user = aad_;
  other_user.user_id = 43;
  ExpectCorruptionNamingTemplate(OpenWith(*ring_.Find(1), other_user, sealed_));
  TemplateAad other_model = aad_;
  other_model.model_version = "test-model-v2";
  ExpectCorruptionNamingTemplate(OpenWith(*ring_.Find(1), other_model, sealed_));
  TemplateAad other_id = aad_;
  other_id.template_id += 1;
  EXPECT_EQ(OpenWith(*ring_.Find(1), other_id, sealed_).code(), StatusCode::kCorruption);
}

TEST(KeyringTest, FilesIdsAndFingerprints) {
  facegate::testing::TempDir dir;
  const auto keys = dir / "keys";
  ASSERT_TRUE(Keyring::EnsureFirstKey(keys).ok());
  ASSERT_TRUE(Keyring::EnsureFirstKey(keys).ok());  // idempotent: never replaces
  struct stat st;
  ASSERT_EQ(::stat((keys / "template.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto first = Keyring::Load(keys);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->ids(), std::vector<uint32_t>{1});
  const std::string fingerprint = first->current()->fingerprint();
  EXPECT_EQ(fingerprint.size(), 32u);

  auto second = Keyring::CreateNextKey(keys);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 2u);
  EXPECT_TRUE(std::filesystem::exists(keys / "template.2.key"));
  auto ring = Keyring::Load(keys);
  ASSERT_TRUE(ring.ok());
  EXPECT_EQ(ring->ids(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(ring->current()->id(), 2u);
  EXPECT_EQ(ring->Find(1)->fingerprint(), fingerprint);
  EXPECT_NE(ring->Find(2)->fingerprint(), fingerprint);

  // Unrelated files are ignored; a short key or an over-exposed one is refused.
  ASSERT_TRUE(WriteFileAtomically(keys / "README", "hello", 0644).ok());
  ASSERT_TRUE(WriteFileAtomically(keys / "template.01.key", "x", 0600).ok());
  EXPECT_TRUE(Keyring::Load(keys).ok());
  ASSERT_TRUE(WriteFileAtomically(keys / "template.3.key", "short", 0600).ok());
  EXPECT_EQ(Keyring::Load(keys).status().code(), StatusCode::kCorruption);
  std::filesystem::remove(keys / "template.3.key");
  ::chmod((keys / "template.2.key").c_str(), 0644);
  EXPECT_EQ(Keyring::Load(keys).status().code(), StatusCode::kFailedPrecondition);
}

class StoredTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    alice_ = *store_->UpsertUser(MakeUser("alice"));
    bob_ = *store_->UpsertUser(MakeUser("bob"));
    for (int i = 0; i < 3; ++i) {
      values_.push_back(RandomEmbedding(rng_));
      NewTemplate t;
      t.user_id = i < 2 ? alice_ : bob_;
      t.model_version = kModel;
      t.values = values_.back();
      ids_.push_back(*store_->AddTemplate(t));
    }
    store_.reset();
  }
  // Opens the store and loads the index; returns the status of whichever failed first.
  Status OpenAndLoad() {
    auto store = Store::Open(options_, clock_);
    if (!store.ok()) return store.status();
    auto matrix = (*store)->LoadTemplatesForIndex(kModel);
    return matrix.status();
  }
  void Tamper(const std::string& sql) {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec(sql), "");
  }
  std::string Id(int i) const { return std::to_string(ids_[i]); }
  // Flips bits `mask` of byte `byte` of blob `column` of template i, behind the store's back.
  void FlipBit(const std::string& column, int i, size_t byte, uint8_t mask) {
    RawDb raw(options_.db_file);
    std::string blob =
        raw.Blob("SELECT " + column + " FROM face_templates WHERE template_id = " + Id(i));
    ASSERT_GT(blob.size(), byte);
    blob[byte] = static_cast<char>(blob[byte] ^ mask);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(
                  raw.get(),
                  ("UPDATE face_templates SET " + column + " = ? WHERE template_id = ?").c_str(),
                  -1, &stmt, nullptr),
              SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, ids_[i]);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{3};
  int64_t alice_ = 0, bob_ = 0;
  std::vector<std::vector<float>> values_;
  std::vector<int64_t> ids_;
};

TEST_F(StoredTemplateTest, UntouchedRowsLoad) { EXPECT_TRUE(OpenAndLoad().ok()); }

void ExpectNamesTemplate(const Status& s, const std::string& id) {
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("template " + id), std::string::npos) << s.message();
}

TEST_F(StoredTemplateTest, FlippedBitInCiphertextIsDetected) {
  FlipBit("ciphertext", 1, 100, 0x01);
  ExpectNamesTemplate(OpenAndLoad(), Id(1));
}

TEST_F(StoredTemplateTest, FlippedBitInNonceIsDetected) {
  FlipBit("nonce", 0, 5, 0x10);
  ExpectNamesTemplate(OpenAndLoad(), Id(0));
}

TEST_F(StoredTemplateTest, FlippedBitInTagIsDetected) {
  FlipBit("tag", 2, 15, 0x80);
  ExpectNamesTemplate(OpenAndLoad(), Id(2));
}

TEST_F(StoredTemplateTest, RowMovedToAnotherUserIsDetected) {
  // Alice's template handed to Bob: Bob would be let in with Alice's face.
  Tamper("UPDATE face_templates SET user_id = " + std::to_string(bob_) +
         " WHERE template_id = " + Id(0));
  ExpectNamesTemplate(OpenAndLoad(), Id(0));
}

TEST_F(StoredTemplateTest, SealedContentSwappedBetweenUsersIsDetected) {
  // Alice's and Bob's encrypted templates exchanged, ids and owners left in place.
  Tamper(
      "CREATE TEMP TABLE t AS SELECT template_id, nonce, ciphertext, tag FROM face_templates;"
      "UPDATE face_templates SET nonce = (SELECT nonce FROM t WHERE template_id = " +
      Id(2) + "), ciphertext = (SELECT ciphertext FROM t WHERE template_id = " + Id(2) +
      "), tag = (SELECT tag FROM t WHERE template_id = " + Id(2) +
      ") WHERE template_id = " + Id(0) + ";");
  ExpectNamesTemplate(OpenAndLoad(), Id(0));
}

TEST_F(StoredTemplateTest, RelabelledModelVersionIsDetected) {
  Tamper("UPDATE face_templates SET model_version = 'evil' WHERE template_id = " + Id(1));
  auto store = Store::Open(options_, clock_);
  ASSERT_TRUE(store.ok());
  ExpectNamesTemplate((*store)->LoadTemplatesForIndex("evil").status(), Id(1));
}

TEST_F(StoredTemplateTest, WrongKeyFileIsRefusedAtOpen) {
  std::filesystem::remove(options_.key_dir / "template.key");
  ASSERT_TRUE(Keyring::EnsureFirstKey(options_.key_dir).ok());  // a new, different key 1
  Status s = OpenAndLoad();
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("is not the key this database's templates were encrypted with"),
            std::string::npos)
      << s.message();
}

TEST_F(StoredTemplateTest, WrongKeyWithForgedFingerprintStillFailsPerTemplate) {
  // Someone also rewrote the recorded fingerprint: the rows themselves still refuse.
  std::filesystem::remove(options_.key_dir / "template.key");
  ASSERT_TRUE(Keyring::EnsureFirstKey(options_.key_dir).ok());
  auto ring = Keyring::Load(options_.key_dir);
  Tamper("UPDATE template_keys SET fingerprint = '" + ring->current()->fingerprint() + "'");
  Status s = OpenAndLoad();
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("failed authentication"), std::string::npos) << s.message();
}

TEST_F(StoredTemplateTest, MissingKeyFileIsRefusedAtOpen) {
  std::filesystem::remove(options_.key_dir / "template.key");
  Status s = OpenAndLoad();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("no template key"), std::string::npos) << s.message();
}

TEST_F(StoredTemplateTest, KeyRotationIsOnlineAndResumable) {
  // More templates, so the rotation takes several batches.
  {
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 47; ++i) {
      values_.push_back(RandomEmbedding(rng_));
      NewTemplate t;
      t.user_id = alice_;
      t.model_version = kModel;
      t.values = values_.back();
      ids_.push_back(*(*store)->AddTemplate(t));
    }
    auto key = (*store)->AddKey();
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(*key, 2u);
    // New templates use the new key at once.
    NewTemplate t;
    t.user_id = bob_;
    t.model_version = kModel;
    values_.push_back(RandomEmbedding(rng_));
    t.values = values_.back();
    ids_.push_back(*(*store)->AddTemplate(t));
    auto progress = (*store)->RotateKey({.batch_size = 10, .max_batches = 2});
    ASSERT_TRUE(progress.ok()) << progress.status().ToString();
    EXPECT_EQ(progress->reencrypted, 20);
    EXPECT_EQ(progress->remaining, 30);
    EXPECT_FALSE(progress->done);
  }  // "crash" between batches: each batch was its own transaction

  // Key 1 is still needed: without it the store refuses to start.
  std::filesystem::rename(options_.key_dir / "template.key", dir_ / "template.key.aside");
  EXPECT_EQ(OpenAndLoad().code(), StatusCode::kFailedPrecondition);
  std::filesystem::rename(dir_ / "template.key.aside", options_.key_dir / "template.key");

  auto store = Store::Open(options_, clock_);
  ASSERT_TRUE(store.ok());
  auto status = (*store)->KeyRotationStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->target_key_id, 2u);
  EXPECT_EQ(status->reencrypted, 20);
  EXPECT_EQ(status->remaining, 30);
  auto done = (*store)->RotateKey({.batch_size = 10});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(done->done);
  EXPECT_EQ(done->reencrypted, 50);
  EXPECT_EQ(done->remaining, 0);
  auto matrix = (*store)->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  ASSERT_EQ(matrix->size(), values_.size());
  for (size_t i = 0; i < matrix->size(); ++i) {
    size_t k = std::find(ids_.begin(), ids_.end(), matrix->template_ids[i]) - ids_.begin();
    ASSERT_LT(k, ids_.size());
    auto row = matrix->row(i);
    EXPECT_TRUE(std::equal(row.begin(), row.end(), values_[k].begin()));
  }
  store->reset();
  {
    RawDb raw(options_.db_file);
    EXPECT_EQ(raw.One("SELECT count(*) FROM face_templates WHERE key_id <> 2"), "0");
    EXPECT_NE(raw.One("SELECT retired_at_ms FROM template_keys WHERE key_id = 1"), "NULL");
  }
  // Key 1 is no longer needed: the store opens without it.
  std::filesystem::remove(options_.key_dir / "template.key");
  EXPECT_TRUE(OpenAndLoad().ok());
}

TEST_F(StoredTemplateTest, RotationRunsWhileEnrollmentsContinue) {
  auto store = Store::Open(options_, clock_);
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 60; ++i) {
    values_.push_back(RandomEmbedding(rng_));
    NewTemplate t;
    t.user_id = alice_;
    t.model_version = kModel;
    t.values = values_.back();
    ids_.push_back(*(*store)->AddTemplate(t));
  }
  ASSERT_TRUE((*store)->AddKey().ok());
  std::atomic<bool> done{false};
  std::vector<std::vector<float>> added_values(200);
  std::vector<int64_t> added_ids;
  std::thread enroller([&] {
    std::mt19937 rng(99);
    for (size_t i = 0; i < added_values.size() && !done; ++i) {
      added_values[i] = RandomEmbedding(rng);
      NewTemplate t;
      t.user_id = bob_;
      t.model_version = kModel;
      t.values = added_values[i];
      auto id = (*store)->AddTemplate(t);
      ASSERT_TRUE(id.ok()) << id.status().ToString();
      added_ids.push_back(*id);
    }
  });
  auto progress = (*store)->RotateKey({.batch_size = 4});
  done = true;
  enroller.join();
  ASSERT_TRUE(progress.ok()) << progress.status().ToString();
  EXPECT_TRUE(progress->done);
  EXPECT_EQ(progress->reencrypted, 63);
  for (size_t i = 0; i < added_ids.size(); ++i) {
    ids_.push_back(added_ids[i]);
    values_.push_back(added_values[i]);
  }
  auto matrix = (*store)->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  ASSERT_EQ(matrix->size(), ids_.size());
  for (size_t i = 0; i < matrix->size(); ++i) {
    size_t k = std::find(ids_.begin(), ids_.end(), matrix->template_ids[i]) - ids_.begin();
    ASSERT_LT(k, ids_.size());
    auto row = matrix->row(i);
    EXPECT_TRUE(std::equal(row.begin(), row.end(), values_[k].begin()));
  }
  EXPECT_EQ((*store)->KeyRotationStatus()->remaining, 0);
}

// Integration secrets (the SHIP key, passwords) are sealed at rest with the template key,
// bound to their integration and setting name; the store hands them back in clear.
TEST_F(StoredTemplateTest, IntegrationSecretsAreSealedAtRest) {
  const std::string settings =
      R"({"api_key":"s3cret-ship-key","basic_password":"hunter2-pw","url":"https://space.test/"})";
  {
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->PutIntegrationSettings("space", true, settings).ok());
    auto got = (*store)->GetIntegration("space");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ((*got)->settings_json, settings);
    auto all = (*store)->ListIntegrations();
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].settings_json, settings);
  }
  std::string stored;
  {
    RawDb raw(options_.db_file);
    stored = raw.One("SELECT settings_json FROM integrations WHERE name = 'space'");
  }
  EXPECT_EQ(stored.find("s3cret-ship-key"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("hunter2-pw"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("url":"https://space.test/")"), std::string::npos) << stored;
  EXPECT_NE(stored.find(R"("sealed":"v1")"), std::string::npos) << stored;

  // A sealed value moved to another setting no longer opens.
  Tamper(
      "UPDATE integrations SET settings_json = json_set(settings_json, '$.basic_password', "
      "json(json_extract(settings_json, '$.api_key'))) WHERE name = 'space'");
  {
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok());
    auto got = (*store)->GetIntegration("space");
    EXPECT_EQ(got.status().code(), StatusCode::kCorruption) << got.status().ToString();
    EXPECT_NE(got.status().message().find("space/basic_password"), std::string::npos)
        << got.status().ToString();
  }

  // Settings written in clear (a database from before sealing) are sealed at the next start.
  Tamper("UPDATE integrations SET settings_json = '" + settings + "' WHERE name = 'space'");
  {
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*(*store)->GetIntegration("space"))->settings_json, settings);
    RawDb raw(options_.db_file);
    stored = raw.One("SELECT settings_json FROM integrations WHERE name = 'space'");
    EXPECT_EQ(stored.find("s3cret-ship-key"), std::string::npos) << stored;
    EXPECT_EQ(raw.One("SELECT json_extract(settings_json, '$.api_key.key_id') FROM integrations"),
              "1");
  }

  // Key rotation moves them to the new key; the old key file can then go.
  {
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->AddKey().ok());
    auto done = (*store)->RotateKey({.batch_size = 10});
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    ASSERT_TRUE(done->done);
  }
  {
    RawDb raw(options_.db_file);
    EXPECT_EQ(raw.One("SELECT json_extract(settings_json, '$.api_key.key_id') FROM integrations"),
              "2");
    EXPECT_EQ(
        raw.One("SELECT json_extract(settings_json, '$.basic_password.key_id') FROM integrations"),
        "2");
  }
  std::filesystem::remove(options_.key_dir / "template.key");
  auto store = Store::Open(options_, clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*(*store)->GetIntegration("space"))->settings_json, settings);
}

}  // namespace
}  // namespace facegate::store
