// Schema migrations: an old database upgrades with its data, a newer one is refused, a
// failing migration leaves the database at its previous version, foreign files are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "facegate/core/files.h"
#include "facegate/store/keyring.h"
#include "facegate/store/store.h"
#include "store/store_testing.h"
#include "store/template_cipher.h"

namespace facegate::store {
namespace {

using testing::kModel;
using testing::MakeOptions;
using testing::RandomEmbedding;
using testing::RawDb;

// Schema version 1 exactly as released (frozen here on purpose: if someone edits migration 1
// instead of adding a migration, databases in the field and this test disagree with the code).
constexpr const char* kSchemaV1 = R"sql(
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
INSERT INTO schema_version VALUES (1, 'settings, template keys, users, face templates', 1000);
PRAGMA user_version = 1;
PRAGMA application_id = 1179075650;
INSERT INTO settings VALUES ('site.name', 'Old Site', 1000);
INSERT INTO users (user_id, external_id, first_name, last_name, created_at_ms, updated_at_ms)
  VALUES (7, 'E-7', 'Ada', 'Lovelace', 1000, 1000);
)sql";

// The schema of a database as sorted "type name: sql" lines.
std::vector<std::string> SchemaOf(const std::filesystem::path& file) {
  RawDb raw(file);
  auto rows = raw.Column(
      "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema "
      "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name");
  return rows;
}

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { options_ = MakeOptions(dir_.path()); }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
};

TEST_F(MigrationTest, VersionOneDatabaseUpgradesWithItsData) {
  std::mt19937 rng(5);
  const std::vector<float> face = RandomEmbedding(rng);
  const int64_t template_id = 991234567;
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec(kSchemaV1), "");
    // A template written by version 1 with key 1.
    auto ring = Keyring::Load(options_.key_dir);
    ASSERT_TRUE(ring.ok());
    const TemplateKey& key = *ring->Find(1);
    internal::TemplateCipher cipher;
    internal::SealedTemplate sealed;
    ASSERT_TRUE(cipher.Seal(key, {template_id, 7, 1, kModel}, face, &sealed).ok());
    ASSERT_EQ(
        raw.Exec("INSERT INTO template_keys VALUES (1, '" + key.fingerprint() + "', 1000, NULL)"),
        "");
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(raw.get(),
                           "INSERT INTO face_templates (template_id, user_id, source, "
                           "model_version, created_at_ms, key_id, dimension, nonce, "
                           "ciphertext, tag) VALUES (?, 7, 'import', ?, 1000, 1, 128, ?, ?, ?)",
                           -1, &stmt, nullptr),
        SQLITE_OK);
    sqlite3_bind_int64(stmt, 1, template_id);
    sqlite3_bind_text(stmt, 2, kModel.data(), static_cast<int>(kModel.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 3, sealed.nonce.data(), 12, SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 4, sealed.ciphertext.data(), static_cast<int>(sealed.ciphertext.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 5, sealed.tag.data(), 16, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
  }

  auto store = Store::Open(options_, clock_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->GetSetting("site.name")->value_or(""), "Old Site");
  auto user = (*store)->FindUserByExternalId("E-7");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->first_name, "Ada");
  auto matrix = (*store)->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  ASSERT_EQ(matrix->size(), 1u);
  EXPECT_EQ(matrix->template_ids[0], template_id);
  EXPECT_TRUE(std::equal(face.begin(), face.end(), matrix->values.begin()));
  // Templates from before the change log (version 4) load; later ones are logged.
  EXPECT_EQ(matrix->last_change_id, 0);
  // The upgraded database can hold what version 3 added.
  Door d;
  d.external_id = "D1";
  EXPECT_TRUE((*store)->UpsertDoor(d).ok());
  store->reset();

  {
    RawDb raw(options_.db_file);
    EXPECT_EQ(raw.Column("SELECT version FROM schema_version ORDER BY version"),
              (std::vector<std::string>{"1", "2", "3", "4", "5", "6"}));
    EXPECT_EQ(raw.One("PRAGMA user_version"), std::to_string(CurrentSchemaVersion()));
  }
  // Migrating step by step gives exactly the schema of a fresh database.
  facegate::testing::TempDir fresh_dir;
  StoreOptions fresh = MakeOptions(fresh_dir.path());
  ASSERT_TRUE(Store::Open(fresh, clock_).ok());
  EXPECT_EQ(SchemaOf(options_.db_file), SchemaOf(fresh.db_file));
}

TEST_F(MigrationTest, NewerDatabaseIsRefusedWithAMessage) {
  ASSERT_TRUE(Store::Open(options_, clock_).ok());
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec("INSERT INTO schema_version VALUES (99, 'from the future', 0)"), "");
  }
  auto store = Store::Open(options_, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99, newer than this facegated"),
            std::string::npos)
      << store.status().message();
}

TEST_F(MigrationTest, AFailingMigrationLeavesThePreviousVersion) {
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec(kSchemaV1), "");
    // Something in the way of migration 2, added after its first statements.
    ASSERT_EQ(raw.Exec("CREATE TABLE user_groups (x INTEGER)"), "");
  }
  auto store = Store::Open(options_, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("schema migration 2"), std::string::npos)
      << store.status().message();
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT max(version) FROM schema_version"), "1");
  // Nothing of migration 2 stayed behind (its first table is created before the failure).
  EXPECT_EQ(raw.One("SELECT count(*) FROM sqlite_schema WHERE name = 'doors'"), "0");
  EXPECT_EQ(raw.One("SELECT count(*) FROM users"), "1");
}

TEST_F(MigrationTest, ForeignDatabasesAndNonDatabasesAreRefused) {
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec("CREATE TABLE photos (id INTEGER PRIMARY KEY)"), "");
  }
  auto store = Store::Open(options_, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_NE(store.status().message().find("not a Facegate database"), std::string::npos)
      << store.status().message();

  std::filesystem::remove(options_.db_file);
  ASSERT_TRUE(WriteFileAtomically(options_.db_file, std::string(8192, 'x'), 0600).ok());
  store = Store::Open(options_, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_NE(store.status().message().find("Refusing to start"), std::string::npos)
      << store.status().message();
}

}  // namespace
}  // namespace facegate::store
