// Kept enrollment photos (admin.keep_photos): encrypted at rest, bound to their template and
// user, erased with them so that no byte is left in the database file or its WAL, carried
// through key rotation; and the admin's template export.
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <algorithm>
#include <string>
#include <vector>

#include "facegate/store/store.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;
using testing::ReadAll;

// Bytes that look like a JPEG to the media-type check and are random otherwise, so a window
// of them found in a file can only have come from them.
std::vector<uint8_t> FakePhoto(size_t size = 20000) {
  std::vector<uint8_t> bytes(size);
  RAND_bytes(bytes.data(), static_cast<int>(bytes.size()));
  bytes[0] = 0xFF;
  bytes[1] = 0xD8;
  bytes[2] = 0xFF;
  return bytes;
}

std::string Window(const std::string& bytes) { return bytes.substr(bytes.size() / 2, 32); }
std::string Window(const std::vector<uint8_t>& bytes) {
  return Window(std::string(bytes.begin(), bytes.end()));
}

class PhotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    Reopen();
    alice_ = *store_->UpsertUser(MakeUser("alice"));
    bob_ = *store_->UpsertUser(MakeUser("bob"));
  }
  void Reopen() {
    store_.reset();
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  int64_t Add(int64_t user_id, const std::vector<uint8_t>& photo) {
    values_.push_back(RandomEmbedding(rng_));
    NewTemplate t;
    t.user_id = user_id;
    t.model_version = kModel;
    t.values = values_.back();
    t.photo = photo;
    auto id = store_->AddTemplate(t);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  // Whether the database file or its WAL holds `needle`.
  bool FilesHold(const std::string& needle) const {
    for (const char* suffix : {"", "-wal"}) {
      auto file = options_.db_file;
      file += suffix;
      if (ReadAll(file).find(needle) != std::string::npos) return true;
    }
    return false;
  }
  std::string PhotoCiphertext(int64_t template_id) {
    RawDb raw(options_.db_file);
    return raw.Blob("SELECT ciphertext FROM face_photos WHERE template_id = " +
                    std::to_string(template_id));
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{11};
  int64_t alice_ = 0, bob_ = 0;
  std::vector<std::vector<float>> values_;
};

TEST_F(PhotoTest, PhotosAreEncryptedAndGoWithTheirTemplate) {
  const auto photo = FakePhoto();
  const int64_t with = Add(alice_, photo);
  const int64_t without = Add(alice_, {});
  auto list = store_->ListTemplatesOfUser(alice_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  for (const auto& t : *list) EXPECT_EQ(t.has_photo, t.id == with) << t.id;
  EXPECT_EQ(*store_->CountPhotos(), 1);

  auto loaded = store_->LoadTemplatePhoto(with);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->bytes, photo);
  EXPECT_EQ(loaded->media_type, "image/jpeg");
  EXPECT_EQ(loaded->user_id, alice_);
  EXPECT_EQ(store_->LoadTemplatePhoto(without).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->LoadTemplatePhoto(12345).status().code(), StatusCode::kNotFound);

  // At rest only the ciphertext is there.
  ASSERT_TRUE(store_->Checkpoint().ok());
  EXPECT_FALSE(FilesHold(Window(photo))) << "the photo is stored in the clear";
  const std::string ciphertext = PhotoCiphertext(with);
  ASSERT_EQ(ciphertext.size(), photo.size());
  EXPECT_TRUE(FilesHold(Window(ciphertext)));

  // Deleting the template deletes its photo, and its bytes leave the files.
  ASSERT_TRUE(store_->DeleteTemplate(with).ok());
  EXPECT_EQ(*store_->CountPhotos(), 0);
  EXPECT_EQ(store_->LoadTemplatePhoto(with).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(FilesHold(Window(ciphertext)));
}

TEST_F(PhotoTest, ErasureLeavesNoPhotoBytesInTheDatabaseOrItsWal) {
  const int64_t a1 = Add(alice_, FakePhoto());
  const int64_t a2 = Add(alice_, FakePhoto(50000));  // overflow pages too
  const int64_t b1 = Add(bob_, FakePhoto());
  const std::string c1 = PhotoCiphertext(a1), c2 = PhotoCiphertext(a2), cb = PhotoCiphertext(b1);
  ASSERT_FALSE(c1.empty());
  ASSERT_FALSE(c2.empty());

  auto report = store_->EraseUser(alice_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->templates_deleted, 2);
  EXPECT_EQ(report->photos_deleted, 2);
  EXPECT_TRUE(report->wal_truncated);
  EXPECT_FALSE(FilesHold(Window(c1))) << "erased photo bytes remain";
  EXPECT_FALSE(FilesHold(Window(c2))) << "erased photo bytes remain";
  EXPECT_FALSE(FilesHold(c2.substr(100, 32))) << "erased photo bytes remain (first page)";
  // Bob's stays, readable.
  EXPECT_TRUE(store_->LoadTemplatePhoto(b1).ok());
  EXPECT_EQ(*store_->CountPhotos(), 1);
  (void)cb;

  // Consent withdrawn: the templates and photos go, the user stays.
  report = store_->EraseTemplatesOfUser(bob_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->photos_deleted, 1);
  EXPECT_FALSE(report->user_deleted);
  EXPECT_EQ(*store_->CountPhotos(), 0);
}

TEST_F(PhotoTest, TamperedOrMovedPhotosFailAuthentication) {
  const int64_t id = Add(alice_, FakePhoto());
  store_.reset();
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec("UPDATE face_photos SET user_id = " + std::to_string(bob_)), "");
  }
  Reopen();
  auto moved = store_->LoadTemplatePhoto(id);
  EXPECT_EQ(moved.status().code(), StatusCode::kCorruption) << moved.status().ToString();
  EXPECT_NE(moved.status().message().find("photo of template " + std::to_string(id)),
            std::string::npos);
  store_.reset();
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec("UPDATE face_photos SET user_id = " + std::to_string(alice_) +
                       ", media_type = 'image/png'"),
              "");
  }
  Reopen();
  EXPECT_EQ(store_->LoadTemplatePhoto(id).status().code(), StatusCode::kCorruption);
}

TEST_F(PhotoTest, KeyRotationReencryptsPhotosAndRetiresTheOldKey) {
  std::vector<std::vector<uint8_t>> photos;
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    photos.push_back(FakePhoto(3000 + i));
    ids.push_back(Add(i % 2 ? bob_ : alice_, photos.back()));
  }
  auto key = store_->AddKey();
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto status = store_->KeyRotationStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->remaining, 10);  // 5 templates and 5 photos
  auto partial = store_->RotateKey({.batch_size = 2, .max_batches = 4});
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  // Three batches of templates (2, 2, 1), then a batch of photos.
  EXPECT_EQ(partial->reencrypted, 7);
  EXPECT_EQ(partial->remaining, 3);
  auto done = store_->RotateKey({.batch_size = 2});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(done->done);
  EXPECT_EQ(done->reencrypted, 10);
  store_.reset();
  {
    RawDb raw(options_.db_file);
    EXPECT_EQ(raw.One("SELECT count(*) FROM face_photos WHERE key_id <> 2"), "0");
    EXPECT_NE(raw.One("SELECT retired_at_ms FROM template_keys WHERE key_id = 1"), "NULL");
  }
  // Key 1 is no longer needed.
  std::filesystem::remove(options_.key_dir / "template.key");
  Reopen();
  for (size_t i = 0; i < ids.size(); ++i) {
    auto p = store_->LoadTemplatePhoto(ids[i]);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->bytes, photos[i]);
  }
}

TEST_F(PhotoTest, ExportTemplatesPagesByIdWithTheValues) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(Add(i < 4 ? alice_ : bob_, {}));
  std::vector<ExportedTemplate> all;
  int64_t after = 0;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 5);
    auto page = store_->ExportTemplates(after, 3);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (auto& e : *page) all.push_back(std::move(e));
    if (page->size() < 3) break;
    after = all.back().info.id;
  }
  ASSERT_EQ(all.size(), 7u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const auto& a, const auto& b) { return a.info.id < b.info.id; }));
  for (const auto& e : all) {
    const size_t k = std::find(ids.begin(), ids.end(), e.info.id) - ids.begin();
    ASSERT_LT(k, ids.size());
    EXPECT_EQ(e.values, values_[k]);
    EXPECT_EQ(e.info.user_external_id, k < 4 ? "alice" : "bob");
  }
}

}  // namespace
}  // namespace facegate::store
