// The template change log: every insert, delete, erasure and move of a template row is seen,
// including those made through another connection (facegatectl beside the daemon), and the
// additions come back decrypted so the index can follow the database.
#include <gtest/gtest.h>

#include <algorithm>

#include "facegate/store/store.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;

class TemplateChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    store_ = Open();
  }
  std::unique_ptr<Store> Open() {
    auto store = Store::Open(options_, clock_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  int64_t AddUser(Store& store, const std::string& external_id) {
    auto id = store.UpsertUser(MakeUser(external_id));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddTemplate(Store& store, int64_t user_id, const std::vector<float>& values,
                      std::string_view model = kModel) {
    NewTemplate t;
    t.user_id = user_id;
    t.model_version = model;
    t.values = values;
    auto id = store.AddTemplate(t);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  TemplateChanges Since(int64_t after, int limit = 1000) {
    auto changes = store_->TemplateChangesSince(after, kModel, limit);
    EXPECT_TRUE(changes.ok()) << changes.status().ToString();
    return changes.ok() ? *changes : TemplateChanges{};
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{7};
};

TEST_F(TemplateChangesTest, LoadReportsThePositionAndLaterAdditionsFollow) {
  const int64_t alice = AddUser(*store_, "alice");
  const auto v1 = RandomEmbedding(rng_);
  const int64_t t1 = AddTemplate(*store_, alice, v1);
  auto loaded = store_->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_GT(loaded->last_change_id, 0);

  // Nothing new since the load.
  TemplateChanges none = Since(loaded->last_change_id);
  EXPECT_EQ(none.last_change_id, loaded->last_change_id);
  EXPECT_TRUE(none.removed.empty());
  EXPECT_EQ(none.added.size(), 0u);
  EXPECT_FALSE(none.more);

  const auto v2 = RandomEmbedding(rng_);
  const int64_t t2 = AddTemplate(*store_, alice, v2);
  TemplateChanges c = Since(loaded->last_change_id);
  ASSERT_EQ(c.added.size(), 1u);
  EXPECT_EQ(c.added.template_ids[0], t2);
  EXPECT_EQ(c.added.user_ids[0], alice);
  ASSERT_EQ(c.added.dimension, testing::kDim);
  EXPECT_TRUE(std::equal(v2.begin(), v2.end(), c.added.row(0).begin()));
  EXPECT_TRUE(c.removed.empty());
  EXPECT_NE(t1, t2);
}

TEST_F(TemplateChangesTest, DeletionsAndErasureByCascadeAreLogged) {
  const int64_t alice = AddUser(*store_, "alice");
  const int64_t bob = AddUser(*store_, "bob");
  const int64_t a1 = AddTemplate(*store_, alice, RandomEmbedding(rng_));
  const int64_t a2 = AddTemplate(*store_, alice, RandomEmbedding(rng_));
  const int64_t b1 = AddTemplate(*store_, bob, RandomEmbedding(rng_));
  const int64_t start = Since(0).last_change_id;

  ASSERT_TRUE(store_->DeleteTemplate(b1).ok());
  ASSERT_TRUE(store_->EraseUser(alice).ok());
  TemplateChanges c = Since(start);
  std::vector<int64_t> removed = c.removed;
  std::sort(removed.begin(), removed.end());
  std::vector<int64_t> expected = {a1, a2, b1};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  EXPECT_EQ(c.added.size(), 0u);

  // A user deleted straight in SQL (ON DELETE CASCADE) is seen too.
  const int64_t carol = AddUser(*store_, "carol");
  const int64_t c1 = AddTemplate(*store_, carol, RandomEmbedding(rng_));
  const int64_t before = Since(0).last_change_id;
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec("PRAGMA foreign_keys = ON; DELETE FROM users WHERE external_id = 'carol'"),
              "");
  }
  TemplateChanges cascade = Since(before);
  ASSERT_EQ(cascade.removed.size(), 1u);
  EXPECT_EQ(cascade.removed[0], c1);
}

TEST_F(TemplateChangesTest, AnAdditionRemovedLaterInTheRangeIsNotReturned) {
  const int64_t alice = AddUser(*store_, "alice");
  const int64_t start = Since(0).last_change_id;
  const int64_t gone = AddTemplate(*store_, alice, RandomEmbedding(rng_));
  const int64_t kept = AddTemplate(*store_, alice, RandomEmbedding(rng_));
  ASSERT_TRUE(store_->DeleteTemplate(gone).ok());
  TemplateChanges c = Since(start);
  ASSERT_EQ(c.added.size(), 1u);
  EXPECT_EQ(c.added.template_ids[0], kept);
  ASSERT_EQ(c.removed.size(), 1u);
  EXPECT_EQ(c.removed[0], gone);
}

TEST_F(TemplateChangesTest, OtherModelsAreNotAddedAndTheLimitPages) {
  const int64_t alice = AddUser(*store_, "alice");
  const int64_t start = Since(0).last_change_id;
  AddTemplate(*store_, alice, RandomEmbedding(rng_), "old-model");
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(AddTemplate(*store_, alice, RandomEmbedding(rng_)));

  std::vector<int64_t> seen;
  int64_t at = start;
  int calls = 0;
  for (;;) {
    TemplateChanges c = Since(at, 2);
    ++calls;
    seen.insert(seen.end(), c.added.template_ids.begin(), c.added.template_ids.end());
    at = c.last_change_id;
    if (!c.more) break;
    ASSERT_LT(calls, 10);
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(calls, 3);  // 6 log rows, 2 per call (the last call finds the end)
}

TEST_F(TemplateChangesTest, WritesThroughAnotherConnectionAreSeen) {
  const int64_t alice = AddUser(*store_, "alice");
  const int64_t start = Since(0).last_change_id;
  auto other = Open();  // as facegatectl would, beside the daemon
  ASSERT_NE(other, nullptr);
  const int64_t t = AddTemplate(*other, alice, RandomEmbedding(rng_));
  TemplateChanges c = Since(start);
  ASSERT_EQ(c.added.size(), 1u);
  EXPECT_EQ(c.added.template_ids[0], t);
}

TEST_F(TemplateChangesTest, KeyRotationIsNotAChangeAndPruneDeletesAppliedRows) {
  const int64_t alice = AddUser(*store_, "alice");
  AddTemplate(*store_, alice, RandomEmbedding(rng_));
  const int64_t start = Since(0).last_change_id;
  ASSERT_TRUE(store_->AddKey().ok());
  auto rotated = store_->RotateKey({});
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(Since(start).last_change_id, start);

  auto pruned = store_->PruneTemplateChanges(start);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT count(*) FROM template_changes"), "0");
  // The log holds ids only: no template bytes.
  EXPECT_EQ(raw.One("SELECT count(*) FROM pragma_table_info('template_changes') "
                    "WHERE type = 'BLOB'"),
            "0");
}

// facegatectl store rotate-key beside the daemon: another connection adds a key; the daemon's
// store takes it up on ReloadKeys and its rotation moves every template to it.
TEST_F(TemplateChangesTest, ReloadKeysTakesUpAKeyAddedByAnotherProcess) {
  const int64_t alice = AddUser(*store_, "alice");
  const auto values = RandomEmbedding(rng_);
  AddTemplate(*store_, alice, values);
  auto other = Open();
  ASSERT_NE(other, nullptr);
  auto added = other->AddKey();
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, 2u);

  auto reloaded = store_->ReloadKeys();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  EXPECT_EQ(*reloaded, 2u);
  AddTemplate(*store_, alice, RandomEmbedding(rng_));  // written under key 2 from now on
  auto status = store_->KeyRotationStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->target_key_id, 2u);
  EXPECT_EQ(status->remaining, 1);  // only the template from before
  auto rotated = store_->RotateKey({});
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_TRUE(rotated->done);
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT count(*) FROM face_templates WHERE key_id <> 2"), "0");
  auto matrix = store_->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  EXPECT_EQ(matrix->size(), 2u);
}

TEST_F(TemplateChangesTest, ReloadKeysRefusesAKeyFileThatDoesNotMatchAndKeepsServing) {
  const int64_t alice = AddUser(*store_, "alice");
  AddTemplate(*store_, alice, RandomEmbedding(rng_));
  auto other = Open();
  ASSERT_TRUE(other->AddKey().ok());
  other.reset();
  // The admin "replaces" key 2 by another file: the database knows its fingerprint.
  std::filesystem::remove(options_.key_dir / "template.2.key");
  ASSERT_TRUE(Keyring::CreateNextKey(options_.key_dir).ok());
  auto reloaded = store_->ReloadKeys();
  EXPECT_FALSE(reloaded.ok());
  // The keys loaded before stay in use.
  auto matrix = store_->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  EXPECT_EQ(matrix->size(), 1u);
}

}  // namespace
}  // namespace facegate::store
