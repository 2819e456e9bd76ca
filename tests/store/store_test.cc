// Store basics: opening, settings, users, templates, models, events and the outbox.
#include "facegate/store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "store/store_testing.h"

namespace facegate::store {
namespace {

using testing::kDim;
using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;

class StoreTest : public ::testing::Test {
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
  int64_t AddUser(const std::string& external_id) {
    auto id = store_->UpsertUser(MakeUser(external_id));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddTemplate(int64_t user_id, const std::vector<float>& values,
                      std::string_view model = kModel) {
    NewTemplate t;
    t.user_id = user_id;
    t.model_version = model;
    t.values = values;
    t.quality_json = R"({"sharpness":0.9})";
    auto id = store_->AddTemplate(t);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{42};
};

TEST_F(StoreTest, FreshDatabaseHasTheLatestSchemaAndSafePragmas) {
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT max(version) FROM schema_version"),
            std::to_string(CurrentSchemaVersion()));
  EXPECT_EQ(raw.One("PRAGMA user_version"), std::to_string(CurrentSchemaVersion()));
  EXPECT_EQ(raw.One("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.One("PRAGMA application_id"), std::to_string(0x46474442));
  EXPECT_EQ(raw.One("PRAGMA integrity_check"), "ok");
  // The file and its WAL are private to the daemon's user.
  auto perms = std::filesystem::status(options_.db_file).permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  // Every table the later issues need exists.
  for (const char* table : {"users",
                            "face_templates",
                            "template_keys",
                            "settings",
                            "doors",
                            "access_groups",
                            "user_groups",
                            "schedules",
                            "schedule_ranges",
                            "holidays",
                            "access_rights",
                            "devices",
                            "device_certificates",
                            "commissioning_codes",
                            "device_commands",
                            "events",
                            "outbox",
                            "integrations",
                            "admin_tokens",
                            "audit_log",
                            "consents",
                            "enrollment_invitations"}) {
    EXPECT_EQ(
        raw.One(std::string("SELECT count(*) FROM sqlite_schema WHERE name = '") + table + "'"),
        "1")
        << table;
  }
  // The key is registered with its fingerprint, never its bytes.
  EXPECT_EQ(raw.One("SELECT count(*) FROM template_keys"), "1");
  EXPECT_EQ(raw.One("SELECT length(fingerprint) FROM template_keys"), "32");
}

TEST_F(StoreTest, Settings) {
  auto missing = store_->GetSetting("site.name");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(store_->SetSetting("site.name", "ACME").ok());
  ASSERT_TRUE(store_->SetSetting("site.name", "ACME Corp").ok());
  Reopen();
  auto value = store_->GetSetting("site.name");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->value_or(""), "ACME Corp");
  ASSERT_TRUE(store_->DeleteSetting("site.name").ok());
  EXPECT_FALSE(store_->GetSetting("site.name")->has_value());
}

TEST_F(StoreTest, AdminTokensAreStoredAsHashesWithUniqueActiveNames) {
  EXPECT_EQ(*store_->CountActiveAdminTokens(), 0);
  NewAdminToken t{"first-admin", "admin", std::string(32, '\x11'), "facegated --init"};
  auto id = store_->CreateAdminToken(t);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*store_->CountActiveAdminTokens(), 1);
  EXPECT_EQ(store_->CreateAdminToken(t).status().code(), StatusCode::kAlreadyExists);
  t.name = "bad-role";
  t.role = "root";
  EXPECT_EQ(store_->CreateAdminToken(t).status().code(), StatusCode::kInvalidArgument);
  t.role = "viewer";
  t.token_sha256 = "short";
  EXPECT_EQ(store_->CreateAdminToken(t).status().code(), StatusCode::kInvalidArgument);
  Reopen();
  EXPECT_EQ(*store_->CountActiveAdminTokens(), 1);
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT hex(token_hash) FROM admin_tokens"), std::string(64, '1'));
}

TEST_F(StoreTest, UsersUpsertByExternalIdAndPage) {
  User u = MakeUser("E-1");
  u.valid_from = clock_.Now();
  u.valid_until = clock_.Now() + std::chrono::hours(24);
  u.banned = true;
  u.source = RecordSource::kShip;
  auto id = store_->UpsertUser(u);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  u.first_name = "Renamed";
  auto again = store_->UpsertUser(u);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);

  auto got = store_->FindUserByExternalId("E-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id, *id);
  EXPECT_EQ(got->first_name, "Renamed");
  EXPECT_TRUE(got->banned);
  EXPECT_EQ(got->source, RecordSource::kShip);
  EXPECT_EQ(got->valid_until, u.valid_until);
  EXPECT_EQ(store_->GetUser(*id)->external_id, "E-1");
  EXPECT_EQ(store_->GetUser(9999).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindUserByExternalId("nobody").status().code(), StatusCode::kNotFound);

  User bad = MakeUser("E-2");
  bad.valid_from = clock_.Now();
  bad.valid_until = clock_.Now() - std::chrono::hours(1);
  EXPECT_EQ(store_->UpsertUser(bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->UpsertUser(MakeUser("")).status().code(), StatusCode::kInvalidArgument);

  for (int i = 2; i <= 25; ++i) AddUser("E-" + std::to_string(i));
  std::vector<std::string> seen;
  int64_t cursor = 0;
  for (;;) {
    auto page = store_->ListUsers(cursor, 10);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const User& user : *page) seen.push_back(user.external_id);
    cursor = page->back().id;
  }
  EXPECT_EQ(seen.size(), 25u);
}

TEST_F(StoreTest, TemplatesRoundTripThroughEncryption) {
  const int64_t alice = AddUser("alice");
  const int64_t bob = AddUser("bob");
  std::map<int64_t, std::vector<float>> expected;
  std::map<int64_t, int64_t> owner;
  for (int i = 0; i < 4; ++i) {
    const int64_t user = i < 3 ? alice : bob;
    auto v = RandomEmbedding(rng_);
    const int64_t id = AddTemplate(user, v);
    expected[id] = v;
    owner[id] = user;
  }
  Reopen();

  auto matrix = store_->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  ASSERT_EQ(matrix->size(), 4u);
  EXPECT_EQ(matrix->dimension, kDim);
  for (size_t i = 0; i < matrix->size(); ++i) {
    const auto& want = expected.at(matrix->template_ids[i]);
    auto row = matrix->row(i);
    EXPECT_TRUE(std::equal(row.begin(), row.end(), want.begin(), want.end()));
    EXPECT_EQ(matrix->user_ids[i], owner.at(matrix->template_ids[i]));
  }
  // Template ids are random 63-bit values, not a sequence.
  for (const auto& [id, values] : expected) EXPECT_GT(id, 0);

  auto of_alice = store_->ListTemplatesOfUser(alice);
  ASSERT_TRUE(of_alice.ok());
  ASSERT_EQ(of_alice->size(), 3u);
  EXPECT_EQ((*of_alice)[0].user_external_id, "alice");
  EXPECT_EQ((*of_alice)[0].quality_json, R"({"sharpness":0.9})");
  EXPECT_EQ((*of_alice)[0].dimension, kDim);
  EXPECT_EQ((*of_alice)[0].key_id, 1u);
  EXPECT_EQ((*of_alice)[0].source, TemplateSource::kAdmin);

  // The plaintext is nowhere in the file.
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT count(*) FROM face_templates WHERE length(ciphertext) = 512"), "4");
  store_.reset();
  std::string file =
      testing::ReadAll(options_.db_file) + testing::ReadAll(options_.db_file.string() + "-wal");
  for (const auto& [id, values] : expected) {
    std::string_view plain(reinterpret_cast<const char*>(values.data()), 64);
    EXPECT_EQ(file.find(plain), std::string::npos);
  }
}

TEST_F(StoreTest, TemplateValidation) {
  const int64_t alice = AddUser("alice");
  auto v = RandomEmbedding(rng_);
  NewTemplate t;
  t.user_id = 777;
  t.model_version = kModel;
  t.values = v;
  EXPECT_EQ(store_->AddTemplate(t).status().code(), StatusCode::kNotFound);
  t.user_id = alice;
  t.model_version = "";
  EXPECT_EQ(store_->AddTemplate(t).status().code(), StatusCode::kInvalidArgument);
  t.model_version = kModel;
  t.quality_json = "not json";
  EXPECT_EQ(store_->AddTemplate(t).status().code(), StatusCode::kInvalidArgument);
  t.quality_json = "{}";
  std::vector<float> nan = v;
  nan[3] = std::nanf("");
  t.values = nan;
  EXPECT_EQ(store_->AddTemplate(t).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->CountTemplates(), 0);
}

TEST_F(StoreTest, BatchInsertIsAllOrNothing) {
  const int64_t alice = AddUser("alice");
  std::vector<std::vector<float>> values;
  for (int i = 0; i < 5; ++i) values.push_back(RandomEmbedding(rng_));
  std::vector<NewTemplate> batch(5);
  for (int i = 0; i < 5; ++i) {
    batch[i].user_id = alice;
    batch[i].model_version = kModel;
    batch[i].source = TemplateSource::kImport;
    batch[i].values = values[i];
  }
  batch[3].user_id = 12345;  // no such user: the whole batch is refused
  EXPECT_FALSE(store_->AddTemplates(batch).ok());
  EXPECT_EQ(*store_->CountTemplates(), 0);
  batch[3].user_id = alice;
  auto ids = store_->AddTemplates(batch);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(ids->size(), 5u);
  EXPECT_EQ(std::set<int64_t>(ids->begin(), ids->end()).size(), 5u);
  EXPECT_EQ(*store_->CountTemplates(), 5);
}

TEST_F(StoreTest, OtherModelVersionsAreNeverLoadedAndAreListedForReEnrollment) {
  const int64_t alice = AddUser("alice");
  const int64_t bob = AddUser("bob");
  AddTemplate(alice, RandomEmbedding(rng_), "old-model");
  AddTemplate(bob, RandomEmbedding(rng_, 64), "old-model-64");
  const int64_t current = AddTemplate(alice, RandomEmbedding(rng_), kModel);

  auto matrix = store_->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok());
  ASSERT_EQ(matrix->size(), 1u);
  EXPECT_EQ(matrix->template_ids[0], current);

  auto stale = store_->ListTemplatesForReEnrollment(kModel);
  ASSERT_TRUE(stale.ok());
  ASSERT_EQ(stale->size(), 2u);
  std::set<std::string> who;
  for (const auto& t : *stale) {
    who.insert(t.user_external_id);
    EXPECT_NE(t.model_version, kModel);
  }
  EXPECT_EQ(who, (std::set<std::string>{"alice", "bob"}));

  auto empty = store_->LoadTemplatesForIndex("never-used");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
}

TEST_F(StoreTest, DeleteTemplateAndEraseTemplatesOfUser) {
  const int64_t alice = AddUser("alice");
  const int64_t t1 = AddTemplate(alice, RandomEmbedding(rng_));
  AddTemplate(alice, RandomEmbedding(rng_));
  ASSERT_TRUE(store_->DeleteTemplate(t1).ok());
  EXPECT_EQ(store_->DeleteTemplate(t1).code(), StatusCode::kNotFound);
  auto report = store_->EraseTemplatesOfUser(alice);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->templates_deleted, 1);
  EXPECT_FALSE(report->user_deleted);
  EXPECT_TRUE(report->wal_truncated);
  EXPECT_TRUE(store_->GetUser(alice).ok());
  EXPECT_EQ(store_->EraseUser(4242).status().code(), StatusCode::kNotFound);
}

class EventTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    Door door;
    door.external_id = "D1";
    door.name = "Main entrance";
    auto door_id = store_->UpsertDoor(door);
    ASSERT_TRUE(door_id.ok()) << door_id.status().ToString();
    door_ = *door_id;
    auto device = store_->AddDevice({"terminal-1", door_});
    ASSERT_TRUE(device.ok()) << device.status().ToString();
    device_ = *device;
    user_ = AddUser("alice");
  }
  AccessEvent MakeEvent(const std::string& request_id) {
    AccessEvent e;
    e.time = clock_.Now();
    e.device_id = device_;
    e.door_id = door_;
    e.user_id = user_;
    e.decision = Decision::kGrant;
    e.reason = "granted";
    e.distance = 0.31;
    e.latency_ms = 87.5;
    e.request_id = request_id;
    e.details_json = R"({"embed_ms":13})";
    return e;
  }
  int64_t door_ = 0, device_ = 0, user_ = 0;
};

TEST_F(EventTest, EventAndOutboxAreWrittenTogether) {
  std::vector<OutboxMessage> out = {{"connect", "events", R"({"decision":"grant"})"}};
  auto recorded = store_->RecordEvent(MakeEvent("r-1"), out);
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  EXPECT_FALSE(recorded->duplicate);

  auto stored = store_->GetEvent(recorded->event_id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->user_external_id, "alice");
  EXPECT_EQ((*stored)->event.reason, "granted");
  EXPECT_EQ((*stored)->event.distance, 0.31);
  EXPECT_EQ((*stored)->event.request_id, "r-1");

  auto due = store_->DueOutbox("connect", clock_.Now(), 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].event_id, recorded->event_id);
  EXPECT_EQ((*due)[0].message.payload, R"({"decision":"grant"})");

  // A terminal retry with the same request id: the same event, nothing new written.
  auto retry = store_->RecordEvent(MakeEvent("r-1"), out);
  ASSERT_TRUE(retry.ok());
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->event_id, recorded->event_id);
  EXPECT_EQ(*store_->OutboxBacklog("connect"), 1);

  // Delivery failed: retried later; then delivered and gone.
  ASSERT_TRUE(
      store_->RetryOutboxLater((*due)[0].id, clock_.Now() + std::chrono::seconds(30), "broker down")
          .ok());
  EXPECT_TRUE(store_->DueOutbox("connect", clock_.Now(), 10)->empty());
  clock_.Advance(std::chrono::seconds(31));
  due = store_->DueOutbox("connect", clock_.Now(), 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].attempts, 1);
  EXPECT_EQ((*due)[0].last_error, "broker down");
  ASSERT_TRUE(store_->AckOutbox((*due)[0].id).ok());
  EXPECT_EQ(*store_->OutboxBacklog("connect"), 0);
  EXPECT_EQ(store_->AckOutbox((*due)[0].id).code(), StatusCode::kNotFound);
}

TEST_F(EventTest, TrimOutboxKeepsTheNewestOfOneDestination) {
  for (int i = 0; i < 10; ++i) {
    std::vector<OutboxMessage> out = {{"connect", "events", "{\"n\":" + std::to_string(i) + "}"},
                                      {"other", "", "{}"}};
    ASSERT_TRUE(store_->RecordEvent(MakeEvent("t-" + std::to_string(i)), out).ok());
  }
  EXPECT_EQ(*store_->TrimOutbox("connect", 20), 0);  // under the bound: nothing goes
  EXPECT_EQ(*store_->TrimOutbox("connect", 4), 6);
  EXPECT_EQ(*store_->OutboxBacklog("connect"), 4);
  EXPECT_EQ(*store_->OutboxBacklog("other"), 10);  // another destination is not touched
  auto due = store_->DueOutbox("connect", clock_.Now(), 10);
  ASSERT_EQ(due->size(), 4u);
  EXPECT_EQ((*due)[0].message.payload, R"({"n":6})");  // the oldest went
  EXPECT_EQ((*due)[3].message.payload, R"({"n":9})");
  EXPECT_EQ(*store_->TrimOutbox("connect", 0), 4);
  EXPECT_EQ(*store_->OutboxBacklog("connect"), 0);
}

TEST_F(EventTest, ABadEventFailsAloneAndLeavesNoOutboxRow) {
  AccessEvent bad = MakeEvent("r-bad");
  bad.device_id = 999;  // unknown device
  std::vector<OutboxMessage> out = {{"connect", "", "{}"}};
  EXPECT_EQ(store_->RecordEvent(bad, out).status().code(), StatusCode::kInvalidArgument);
  AccessEvent bad_json = MakeEvent("r-bad2");
  bad_json.details_json = "{";
  EXPECT_FALSE(store_->RecordEvent(bad_json, out).ok());
  EXPECT_EQ(*store_->OutboxBacklog("connect"), 0);
  EXPECT_TRUE(store_->RecordEvent(MakeEvent("r-good"), out).ok());
  EXPECT_EQ(*store_->OutboxBacklog("connect"), 1);
}

TEST_F(EventTest, ConcurrentEventsAreGroupCommittedAndAllKept) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> ids(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<OutboxMessage> out = {{"connect", "events", "{}"}};
        // Every fifth is a retry of the one before: idempotent.
        std::string request = "t" + std::to_string(t) + "-" + std::to_string(i - (i % 5 == 4));
        auto r = store_->RecordEvent(MakeEvent(request), out);
        if (!r.ok()) {
          ++failures;
          continue;
        }
        if (!r->duplicate) ids[t].push_back(r->event_id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<int64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  const int64_t expected = kThreads * (kPerThread - kPerThread / 5);
  EXPECT_EQ(static_cast<int64_t>(all.size()), expected);
  EXPECT_EQ(*store_->OutboxBacklog("connect"), expected);
  RawDb raw(options_.db_file);
  EXPECT_EQ(raw.One("SELECT count(*) FROM events"), std::to_string(expected));
}

TEST_F(StoreTest, DoorsAndDevices) {
  Door d;
  d.external_id = "D7";
  d.settings_json = R"({"fail_open":false})";
  auto id = store_->UpsertDoor(d);
  ASSERT_TRUE(id.ok());
  d.name = "Back door";
  EXPECT_EQ(*store_->UpsertDoor(d), *id);
  auto found = store_->FindDoorByExternalId("D7");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->name, "Back door");
  EXPECT_FALSE(store_->FindDoorByExternalId("nope")->has_value());
  EXPECT_TRUE(store_->AddDevice({"t1", *id}).ok());
  EXPECT_EQ(store_->AddDevice({"t1", *id}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->AddDevice({"t2", 999}).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace facegate::store
