// Administration in the store: admin tokens (lookup by hash, touch, revoke), the audit log
// and the event listing (filters, newest-first paging by cursor), filtered user listings
// (LIKE escaping), door deletion, template metadata, bulk import batches (all or nothing),
// integrations' settings and status, and retention purges in batches.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "facegate/store/store.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;

std::string HashOf(char fill) { return std::string(32, fill); }

class StoreAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  int64_t AddUser(const std::string& external_id, const std::string& first = "",
                  const std::string& last = "") {
    User u = MakeUser(external_id);
    if (!first.empty()) u.first_name = first;
    if (!last.empty()) u.last_name = last;
    auto id = store_->UpsertUser(u);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddDoor(const std::string& external_id) {
    Door d;
    d.external_id = external_id;
    d.name = "Door " + external_id;
    auto id = store_->UpsertDoor(d);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddDevice(const std::string& name, std::optional<int64_t> door_id = std::nullopt) {
    auto id = store_->AddDevice({.name = name, .door_id = door_id});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddGroup(const std::string& external_id) {
    auto id = store_->CreateAccessGroup({.external_id = external_id, .name = external_id});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddToken(const std::string& name, const std::string& role, char hash_fill) {
    auto id = store_->CreateAdminToken(
        {.name = name, .role = role, .token_sha256 = HashOf(hash_fill), .created_by = "test"});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t AddAudit(const std::string& actor, const std::string& action,
                   const std::string& target = "") {
    AuditEntry e;
    e.at = clock_.Now();
    e.actor = actor;
    e.action = action;
    e.target = target;
    auto id = store_->AppendAudit(e);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  struct EventSpec {
    std::optional<int64_t> device_id;
    std::optional<int64_t> door_id;
    std::optional<int64_t> user_id;
    Decision decision = Decision::kDeny;
    std::string reason = "unknown_face";
  };
  int64_t AddEvent(const EventSpec& spec, std::span<const OutboxMessage> outbox = {}) {
    AccessEvent e;
    e.time = clock_.Now();
    e.device_id = spec.device_id;
    e.door_id = spec.door_id;
    e.user_id = spec.user_id;
    e.decision = spec.decision;
    e.reason = spec.reason;
    auto recorded = store_->RecordEvent(e, outbox);
    EXPECT_TRUE(recorded.ok()) << recorded.status().ToString();
    return recorded.ok() ? recorded->event_id : 0;
  }
  std::vector<int64_t> EventIds(const EventFilter& f) {
    auto events = store_->ListEvents(f);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    std::vector<int64_t> ids;
    if (events.ok()) {
      for (const StoredEvent& e : *events) ids.push_back(e.id);
    }
    return ids;
  }
  std::vector<int64_t> AuditIds(const AuditFilter& f) {
    auto rows = store_->ListAudit(f);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    std::vector<int64_t> ids;
    if (rows.ok()) {
      for (const AuditEntry& e : *rows) ids.push_back(e.id);
    }
    return ids;
  }
  std::vector<std::string> UserIds(const UserFilter& f) {
    auto users = store_->ListUsersFiltered(f);
    EXPECT_TRUE(users.ok()) << users.status().ToString();
    std::vector<std::string> ids;
    if (users.ok()) {
      for (const User& u : *users) ids.push_back(u.external_id);
    }
    return ids;
  }
  static void ExpectError(const Status& s, StatusCode code, std::string_view needle = "") {
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(std::string(needle)));
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{7};
};

// ---------------------------------------------------------------- names

TEST(RecordNamesTest, RolesAndIntegrationStatusesRoundTrip) {
  for (AdminRole r : {AdminRole::kViewer, AdminRole::kOperator, AdminRole::kAdmin}) {
    EXPECT_EQ(ParseAdminRole(AdminRoleName(r)), r);
  }
  EXPECT_EQ(AdminRoleName(AdminRole::kOperator), "operator");
  EXPECT_EQ(ParseAdminRole("root"), std::nullopt);
  EXPECT_EQ(ParseAdminRole("Admin"), std::nullopt);
  for (IntegrationStatus s : {IntegrationStatus::kConnected, IntegrationStatus::kUnauthorized,
                              IntegrationStatus::kDisconnected, IntegrationStatus::kNoStatus}) {
    EXPECT_EQ(ParseIntegrationStatus(IntegrationStatusName(s)), s);
  }
  EXPECT_EQ(IntegrationStatusName(IntegrationStatus::kNoStatus), "no_status");
  EXPECT_EQ(ParseIntegrationStatus("online"), std::nullopt);
}

// ---------------------------------------------------------------- admin tokens

TEST_F(StoreAdminTest, ActiveTokensAreFoundByHashAndTouched) {
  const WallTime created = clock_.Now();
  const int64_t id = AddToken("ops", "operator", 'a');
  AddToken("ro", "viewer", 'b');

  auto found = store_->FindActiveAdminToken(HashOf('a'));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, id);
  EXPECT_EQ((*found)->name, "ops");
  EXPECT_EQ((*found)->role, AdminRole::kOperator);
  EXPECT_EQ((*found)->created_by, "test");
  EXPECT_EQ((*found)->created_at, created);
  EXPECT_EQ((*found)->last_used_at, std::nullopt);
  EXPECT_EQ((*found)->revoked_at, std::nullopt);

  auto unknown = store_->FindActiveAdminToken(HashOf('z'));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
  ExpectError(store_->FindActiveAdminToken("short").status(), StatusCode::kInvalidArgument);

  const WallTime used = clock_.Now() + minutes(5);
  ASSERT_TRUE(store_->TouchAdminToken(id, used).ok());
  // A touch arriving late (an earlier request finishing after a later one) does not go back.
  ASSERT_TRUE(store_->TouchAdminToken(id, used - minutes(1)).ok());
  auto got = store_->GetAdminToken(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->last_used_at, used);
  ExpectError(store_->TouchAdminToken(999, used), StatusCode::kNotFound, "999");
  ExpectError(store_->GetAdminToken(999).status(), StatusCode::kNotFound, "999");
}

TEST_F(StoreAdminTest, DuplicateActiveNamesAreRefusedUntilRevoked) {
  const int64_t first = AddToken("ci", "admin", 'a');
  auto dup = store_->CreateAdminToken(
      {.name = "ci", .role = "viewer", .token_sha256 = HashOf('b'), .created_by = "test"});
  ExpectError(dup.status(), StatusCode::kAlreadyExists, "ci");

  const WallTime at = clock_.Now() + seconds(3);
  ASSERT_TRUE(store_->RevokeAdminToken(first, at).ok());
  ExpectError(store_->RevokeAdminToken(first, at), StatusCode::kFailedPrecondition,
              "token already revoked");
  ExpectError(store_->RevokeAdminToken(12345, at), StatusCode::kNotFound, "12345");

  auto gone = store_->FindActiveAdminToken(HashOf('a'));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto revoked = store_->GetAdminToken(first);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->revoked_at, at);
  EXPECT_EQ(revoked->role, AdminRole::kAdmin);

  // The name is free again for a new active token.
  const int64_t second = AddToken("ci", "viewer", 'b');
  auto active = store_->ListAdminTokens(/*include_revoked=*/false);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, second);
  auto all = store_->ListAdminTokens(/*include_revoked=*/true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, first);
  EXPECT_EQ((*all)[1].id, second);
  EXPECT_EQ(*store_->CountActiveAdminTokens(), 1);
}

// ---------------------------------------------------------------- audit log

TEST_F(StoreAdminTest, AuditEntriesRoundTripNewestFirst) {
  AuditEntry e;
  e.at = clock_.Now();
  e.actor = "token:ops";
  e.actor_token_id = 7;
  e.remote_address = "10.0.0.5";
  e.action = "user.create";
  e.target = "user:E1001";
  e.outcome = "denied";
  e.details_json = R"({"why":"role"})";
  auto id = store_->AppendAudit(e);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  clock_.Advance(seconds(1));
  AuditEntry local;  // no time: stamped with the store's clock
  local.actor = "facegatectl";
  local.action = "store.backup";
  auto id2 = store_->AppendAudit(local);
  ASSERT_TRUE(id2.ok()) << id2.status().ToString();

  auto rows = store_->ListAudit({});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].id, *id2);
  EXPECT_EQ((*rows)[0].at, clock_.Now());
  EXPECT_EQ((*rows)[0].actor_token_id, std::nullopt);
  EXPECT_EQ((*rows)[0].outcome, "ok");
  EXPECT_EQ((*rows)[0].details_json, "{}");
  const AuditEntry& r = (*rows)[1];
  EXPECT_EQ(r.id, *id);
  EXPECT_EQ(r.at, e.at);
  EXPECT_EQ(r.actor, e.actor);
  EXPECT_EQ(r.actor_token_id, 7);
  EXPECT_EQ(r.remote_address, e.remote_address);
  EXPECT_EQ(r.action, e.action);
  EXPECT_EQ(r.target, e.target);
  EXPECT_EQ(r.outcome, "denied");
  EXPECT_EQ(r.details_json, e.details_json);
}

TEST_F(StoreAdminTest, AuditRejectsBadEntries) {
  AuditEntry e;
  e.actor = "facegated";
  ExpectError(store_->AppendAudit(e).status(), StatusCode::kInvalidArgument, "action");
  e.action = "token.create";
  e.actor = "";
  ExpectError(store_->AppendAudit(e).status(), StatusCode::kInvalidArgument, "actor");
  e.actor = "facegated";
  e.details_json = "{not json";
  ExpectError(store_->AppendAudit(e).status(), StatusCode::kInvalidArgument, "details_json");
  EXPECT_THAT(AuditIds({}), IsEmpty());
}

TEST_F(StoreAdminTest, AuditPagesByCursorAndFilters) {
  const WallTime t0 = clock_.Now();
  std::vector<int64_t> ids;
  ids.push_back(AddAudit("token:ops", "user.create", "user:A"));  // t0
  clock_.Advance(minutes(1));
  ids.push_back(AddAudit("token:ops", "user.update", "user:A"));  // t0+1
  clock_.Advance(minutes(1));
  ids.push_back(AddAudit("facegatectl", "users.import"));  // t0+2: not "user."
  clock_.Advance(minutes(1));
  ids.push_back(AddAudit("token:admin", "token.revoke"));  // t0+3
  clock_.Advance(minutes(1));
  ids.push_back(AddAudit("token:ops", "user"));  // t0+4: not "user." either
  clock_.Advance(minutes(1));
  ids.push_back(AddAudit("token:admin", "user.delete"));  // t0+5

  // Pages of 2, newest first, each continuing before the last id of the previous one.
  std::vector<int64_t> paged;
  AuditFilter page;
  page.limit = 2;
  for (int n = 0; n < 10; ++n) {
    std::vector<int64_t> got = AuditIds(page);
    if (got.empty()) break;
    EXPECT_LE(got.size(), 2u);
    paged.insert(paged.end(), got.begin(), got.end());
    page.before_id = got.back();
  }
  EXPECT_THAT(paged, ElementsAre(ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]));

  AuditFilter f;
  f.action = "user.";
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[5], ids[1], ids[0]));
  f.action = "user.update";
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[1]));
  f.action = "user";
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[4]));
  f = {};
  f.actor = "token:ops";
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[4], ids[1], ids[0]));
  f.action = "user.";  // ANDed with the actor
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[1], ids[0]));
  f = {};
  f.from = t0 + minutes(1);
  f.until = t0 + minutes(3);  // exclusive
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[2], ids[1]));
  f.before_id = ids[2];
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[1]));

  // The limit is clamped to 1..1000.
  f = {};
  f.limit = 0;
  EXPECT_THAT(AuditIds(f), ElementsAre(ids[5]));
  f.limit = -5;
  EXPECT_EQ(AuditIds(f).size(), 1u);
  f.limit = 1'000'000;
  EXPECT_EQ(AuditIds(f).size(), 6u);
}

TEST_F(StoreAdminTest, AuditListingIsClampedToAThousandRows) {
  {
    RawDb raw(options_.db_file);
    ASSERT_EQ(raw.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                       "WHERE i < 1005) INSERT INTO audit_log (at_ms, actor, action) "
                       "SELECT i, 'facegated', 'event.test' FROM n"),
              "");
  }
  AuditFilter f;
  f.limit = 5000;
  EXPECT_EQ(AuditIds(f).size(), 1000u);
}

// ---------------------------------------------------------------- users, doors, templates

TEST_F(StoreAdminTest, UsersPageByCursorAndMatchAQuery) {
  AddUser("E1001", "Anna", "Schmidt");
  AddUser("E1002", "Bernd", "Meyer");
  AddUser("X-77", "Clara", "ANNABERG");
  AddUser("E1004", "Dieter", "Roth");
  User ship = MakeUser("S-1");
  ship.first_name = "Eva";
  ship.source = RecordSource::kShip;
  ASSERT_TRUE(store_->UpsertUser(ship).ok());
  EXPECT_EQ(*store_->CountUsers(), 5);

  std::vector<std::string> paged;
  UserFilter page;
  page.limit = 2;
  for (int n = 0; n < 10; ++n) {
    auto users = store_->ListUsersFiltered(page);
    ASSERT_TRUE(users.ok()) << users.status().ToString();
    if (users->empty()) break;
    EXPECT_LE(users->size(), 2u);
    for (const User& u : *users) paged.push_back(u.external_id);
    page.after_id = users->back().id;
  }
  EXPECT_THAT(paged, ElementsAre("E1001", "E1002", "X-77", "E1004", "S-1"));

  UserFilter f;
  f.query = "anna";  // first name of one, part of the last name of another, any case
  EXPECT_THAT(UserIds(f), ElementsAre("E1001", "X-77"));
  f.query = "e100";  // external id
  EXPECT_THAT(UserIds(f), ElementsAre("E1001", "E1002", "E1004"));
  f.query = "MEY";  // last name
  EXPECT_THAT(UserIds(f), ElementsAre("E1002"));
  f.query = "nobody";
  EXPECT_THAT(UserIds(f), IsEmpty());
  f.query = "e100";
  f.limit = 2;
  EXPECT_THAT(UserIds(f), ElementsAre("E1001", "E1002"));
  f.after_id = store_->FindUserByExternalId("E1002")->id;
  EXPECT_THAT(UserIds(f), ElementsAre("E1004"));

  f = {};
  f.source = RecordSource::kShip;
  EXPECT_THAT(UserIds(f), ElementsAre("S-1"));
  f.source = RecordSource::kLocal;
  f.query = "roth";
  EXPECT_THAT(UserIds(f), ElementsAre("E1004"));
}

TEST_F(StoreAdminTest, UserQueriesTakeLikeWildcardsLiterally) {
  AddUser("100%", "Percent");
  AddUser("1000", "Digits");
  AddUser("a_b", "Underscore");
  AddUser("axb", "Letter");
  AddUser("back\\slash", "Backslash");
  AddUser("backslash", "Plain");

  UserFilter f;
  f.query = "%";
  EXPECT_THAT(UserIds(f), ElementsAre("100%"));
  f.query = "0%";
  EXPECT_THAT(UserIds(f), ElementsAre("100%"));
  f.query = "_";
  EXPECT_THAT(UserIds(f), ElementsAre("a_b"));
  f.query = "a_b";
  EXPECT_THAT(UserIds(f), ElementsAre("a_b"));
  f.query = "\\";
  EXPECT_THAT(UserIds(f), ElementsAre("back\\slash"));
  f.query = "k\\s";
  EXPECT_THAT(UserIds(f), ElementsAre("back\\slash"));
}

TEST_F(StoreAdminTest, DoorsAreListedAndDeletedWithTheirRights) {
  const int64_t front = AddDoor("D-FRONT");
  const int64_t back = AddDoor("D-BACK");
  auto doors = store_->ListDoors();
  ASSERT_TRUE(doors.ok()) << doors.status().ToString();
  ASSERT_EQ(doors->size(), 2u);
  EXPECT_EQ((*doors)[0].id, front);
  EXPECT_EQ((*doors)[0].external_id, "D-FRONT");
  EXPECT_EQ((*doors)[0].name, "Door D-FRONT");
  EXPECT_EQ((*doors)[1].id, back);

  const int64_t user = AddUser("E1");
  const int64_t group = AddGroup("G1");
  ASSERT_TRUE(store_->CreateAccessRight({.user_id = user, .door_id = front}).ok());
  ASSERT_TRUE(store_->CreateAccessRight({.group_id = group, .door_id = front}).ok());
  ASSERT_TRUE(store_->CreateAccessRight({.user_id = user, .door_id = back}).ok());
  const int64_t device = AddDevice("term-1", front);
  const int64_t other_device = AddDevice("term-2", back);
  const int64_t event = AddEvent({.device_id = device, .door_id = front, .user_id = user});

  clock_.Advance(seconds(10));
  ASSERT_TRUE(store_->DeleteDoor(front).ok());
  ExpectError(store_->DeleteDoor(front), StatusCode::kNotFound, std::to_string(front));
  ExpectError(store_->GetDoor(front).status(), StatusCode::kNotFound);

  auto rights = store_->ListAccessRights({});
  ASSERT_TRUE(rights.ok());
  ASSERT_EQ(rights->size(), 1u);
  EXPECT_EQ((*rights)[0].door_id, back);
  auto d = store_->GetDevice(device);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->door_id, std::nullopt);
  EXPECT_EQ(d->updated_at, clock_.Now());
  EXPECT_EQ(store_->GetDevice(other_device)->door_id, back);
  auto kept = store_->GetEvent(event);
  ASSERT_TRUE(kept.ok());
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->event.door_id, std::nullopt);
  EXPECT_EQ((*kept)->event.device_id, device);
  EXPECT_EQ((*kept)->event.user_id, user);
  EXPECT_THAT(*store_->ListDoors(), ::testing::SizeIs(1));
}

TEST_F(StoreAdminTest, TemplateInfoIsTheMetadataOfOneTemplate) {
  const int64_t user = AddUser("E1");
  std::vector<float> face = RandomEmbedding(rng_);
  NewTemplate t;
  t.user_id = user;
  t.source = TemplateSource::kEnrollment;
  t.model_version = kModel;
  t.values = face;
  t.quality_json = R"({"sharpness":0.9})";
  auto id = store_->AddTemplate(t);
  ASSERT_TRUE(id.ok()) << id.status().ToString();

  auto info = store_->GetTemplateInfo(*id);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  auto listed = store_->ListTemplatesOfUser(user);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  const TemplateInfo& l = (*listed)[0];
  EXPECT_EQ(info->id, *id);
  EXPECT_EQ(info->id, l.id);
  EXPECT_EQ(info->user_id, user);
  EXPECT_EQ(info->user_external_id, "E1");
  EXPECT_EQ(info->source, TemplateSource::kEnrollment);
  EXPECT_EQ(info->model_version, kModel);
  EXPECT_EQ(info->quality_json, t.quality_json);
  EXPECT_EQ(info->created_at, clock_.Now());
  EXPECT_EQ(info->created_at, l.created_at);
  EXPECT_EQ(info->key_id, l.key_id);
  EXPECT_EQ(info->dimension, testing::kDim);

  ExpectError(store_->GetTemplateInfo(*id + 1).status(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------- bulk import

TEST_F(StoreAdminTest, ImportBatchUpsertsUsersWithGroupsAndTemplates) {
  const int64_t staff = AddGroup("staff");
  const int64_t night = AddGroup("night");
  const int64_t existing = AddUser("E2", "Old", "Name");
  ASSERT_TRUE(store_->AddGroupMember(staff, existing).ok());

  std::vector<float> face1 = RandomEmbedding(rng_);
  std::vector<float> face2 = RandomEmbedding(rng_);
  std::vector<float> face3 = RandomEmbedding(rng_);
  std::vector<ImportRow> rows(2);
  rows[0].user = MakeUser("E1");
  rows[0].group_ids = {staff, night};
  rows[0].templates.push_back(
      {.source = TemplateSource::kImport, .model_version = std::string(kModel), .values = face1});
  rows[0].templates.push_back(
      {.source = TemplateSource::kImport, .model_version = std::string(kModel), .values = face2});
  rows[1].user = MakeUser("E2");
  rows[1].user.first_name = "New";
  rows[1].group_ids = {staff};                     // already a member: fine
  rows[1].templates.push_back({.user_id = 424242,  // ignored: the store fills it in
                               .source = TemplateSource::kImport,
                               .model_version = std::string(kModel),
                               .values = face3});

  auto imported = store_->ImportBatch(rows);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_EQ(imported->size(), 2u);
  const ImportedRow& r0 = (*imported)[0];
  const ImportedRow& r1 = (*imported)[1];
  EXPECT_TRUE(r0.user_created);
  EXPECT_FALSE(r1.user_created);
  EXPECT_EQ(r1.user_id, existing);
  EXPECT_EQ(r0.user_id, store_->FindUserByExternalId("E1")->id);
  EXPECT_EQ(r0.template_ids.size(), 2u);
  EXPECT_EQ(r1.template_ids.size(), 1u);

  EXPECT_EQ(store_->GetUser(existing)->first_name, "New");
  EXPECT_THAT(*store_->ListGroupsOfUser(r0.user_id), ElementsAre(staff, night));
  EXPECT_THAT(*store_->ListGroupsOfUser(existing), ElementsAre(staff));

  // Encrypted as AddTemplates does: they decrypt to the values given.
  auto m0 = store_->LoadTemplatesOfUser(r0.user_id, kModel);
  ASSERT_TRUE(m0.ok()) << m0.status().ToString();
  ASSERT_EQ(m0->size(), 2u);
  for (size_t i = 0; i < m0->size(); ++i) {
    const int64_t id = m0->template_ids[i];
    const std::vector<float>& want = id == r0.template_ids[0] ? face1 : face2;
    EXPECT_THAT(std::vector<float>(m0->row(i).begin(), m0->row(i).end()), ElementsAreArray(want));
  }
  auto m1 = store_->LoadTemplatesOfUser(existing, kModel);
  ASSERT_TRUE(m1.ok());
  ASSERT_EQ(m1->size(), 1u);
  EXPECT_EQ(m1->template_ids[0], r1.template_ids[0]);
  EXPECT_THAT(std::vector<float>(m1->row(0).begin(), m1->row(0).end()), ElementsAreArray(face3));
  auto info = store_->GetTemplateInfo(r1.template_ids[0]);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->user_id, existing);
  EXPECT_EQ(info->source, TemplateSource::kImport);

  auto empty = store_->ImportBatch({});
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(*empty, IsEmpty());
}

TEST_F(StoreAdminTest, ImportBatchIsAllOrNothing) {
  const int64_t staff = AddGroup("staff");
  const int64_t existing = AddUser("E2", "Old", "Name");
  std::vector<float> face = RandomEmbedding(rng_);
  auto make_rows = [&] {
    std::vector<ImportRow> rows(3);
    rows[0].user = MakeUser("E1");
    rows[0].group_ids = {staff};
    rows[0].templates.push_back(
        {.source = TemplateSource::kImport, .model_version = std::string(kModel), .values = face});
    rows[1].user = MakeUser("E2");
    rows[1].user.first_name = "Changed";
    rows[1].templates.push_back(
        {.source = TemplateSource::kImport, .model_version = std::string(kModel), .values = face});
    rows[2].user = MakeUser("E3");
    return rows;
  };
  const int64_t templates_before = *store_->CountTemplates();

  // The last row names a group that does not exist: nothing of the batch is written.
  std::vector<ImportRow> rows = make_rows();
  rows[2].group_ids = {staff + 100};
  auto failed = store_->ImportBatch(rows);
  ExpectError(failed.status(), StatusCode::kNotFound, "no access group with id");
  EXPECT_THAT(failed.status().message(), HasSubstr("E3"));
  auto check_nothing_written = [&] {
    EXPECT_EQ(*store_->CountUsers(), 1);
    EXPECT_EQ(store_->FindUserByExternalId("E1").status().code(), StatusCode::kNotFound);
    EXPECT_EQ(store_->GetUser(existing)->first_name, "Old");
    EXPECT_EQ(*store_->CountTemplates(), templates_before);
    EXPECT_THAT(*store_->ListGroupMembers(staff), IsEmpty());
  };
  check_nothing_written();

  // A bad template fails the batch the same way.
  rows = make_rows();
  rows[2].templates.push_back({.model_version = std::string(kModel), .values = {}});
  ExpectError(store_->ImportBatch(rows).status(), StatusCode::kInvalidArgument, "dimension");
  check_nothing_written();

  // So does a bad user.
  rows = make_rows();
  rows[2].user.external_id = "";
  ExpectError(store_->ImportBatch(rows).status(), StatusCode::kInvalidArgument, "external_id");
  check_nothing_written();

  // Fixed, the same batch goes in whole.
  rows = make_rows();
  auto ok = store_->ImportBatch(rows);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*store_->CountUsers(), 3);
  EXPECT_EQ(*store_->CountTemplates(), templates_before + 2);
}

// ---------------------------------------------------------------- integrations

TEST_F(StoreAdminTest, IntegrationSettingsAreUpserted) {
  auto none = store_->GetIntegration("space");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(store_->PutIntegrationSettings("space", true, R"({"host":"ship.local"})").ok());
  auto got = store_->GetIntegration("space");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  const Integration& i = **got;
  EXPECT_EQ(i.name, "space");
  EXPECT_TRUE(i.enabled);
  EXPECT_EQ(i.settings_json, R"({"host":"ship.local"})");
  EXPECT_EQ(i.status, IntegrationStatus::kNoStatus);
  EXPECT_EQ(i.last_error, "");
  EXPECT_EQ(i.last_error_at, std::nullopt);
  EXPECT_EQ(i.status_changed_at, std::nullopt);
  EXPECT_EQ(i.updated_at, clock_.Now());

  clock_.Advance(minutes(2));
  ASSERT_TRUE(store_->PutIntegrationSettings("space", false, "{}").ok());
  got = store_->GetIntegration("space");
  EXPECT_FALSE((*got)->enabled);
  EXPECT_EQ((*got)->settings_json, "{}");
  EXPECT_EQ((*got)->updated_at, clock_.Now());

  ExpectError(store_->PutIntegrationSettings("space", true, "{broken"),
              StatusCode::kInvalidArgument, "JSON object");
  ExpectError(store_->PutIntegrationSettings("space", true, "[1, 2]"), StatusCode::kInvalidArgument,
              "JSON object");
  ExpectError(store_->PutIntegrationSettings("space", true, ""), StatusCode::kInvalidArgument);
  ExpectError(store_->PutIntegrationSettings("", true, "{}"), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store_->GetIntegration("space"))->settings_json, "{}");
}

TEST_F(StoreAdminTest, IntegrationStatusRecordsChangesAndErrors) {
  const WallTime t0 = clock_.Now();
  // The row is created by the first status too.
  ASSERT_TRUE(store_->SetIntegrationStatus("connect", IntegrationStatus::kConnected, "").ok());
  auto got = store_->GetIntegration("connect");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->status, IntegrationStatus::kConnected);
  EXPECT_EQ((*got)->status_changed_at, t0);
  EXPECT_EQ((*got)->last_error_at, std::nullopt);
  EXPECT_FALSE((*got)->enabled);
  EXPECT_EQ((*got)->settings_json, "{}");

  // The same status again: no change recorded.
  clock_.Advance(minutes(1));
  ASSERT_TRUE(store_->SetIntegrationStatus("connect", IntegrationStatus::kConnected, "").ok());
  EXPECT_EQ((*store_->GetIntegration("connect"))->status_changed_at, t0);

  // A change with an error.
  clock_.Advance(minutes(1));
  const WallTime t2 = clock_.Now();
  ASSERT_TRUE(
      store_
          ->SetIntegrationStatus("connect", IntegrationStatus::kDisconnected, "connection refused")
          .ok());
  got = store_->GetIntegration("connect");
  EXPECT_EQ((*got)->status, IntegrationStatus::kDisconnected);
  EXPECT_EQ((*got)->status_changed_at, t2);
  EXPECT_EQ((*got)->last_error, "connection refused");
  EXPECT_EQ((*got)->last_error_at, t2);

  // Still down, a new error: the error moves, the status change stays.
  clock_.Advance(minutes(1));
  const WallTime t3 = clock_.Now();
  ASSERT_TRUE(
      store_->SetIntegrationStatus("connect", IntegrationStatus::kDisconnected, "timeout").ok());
  got = store_->GetIntegration("connect");
  EXPECT_EQ((*got)->status_changed_at, t2);
  EXPECT_EQ((*got)->last_error, "timeout");
  EXPECT_EQ((*got)->last_error_at, t3);

  // Back up without an error: the last error stays on record.
  clock_.Advance(minutes(1));
  const WallTime t4 = clock_.Now();
  ASSERT_TRUE(store_->SetIntegrationStatus("connect", IntegrationStatus::kConnected, "").ok());
  got = store_->GetIntegration("connect");
  EXPECT_EQ((*got)->status, IntegrationStatus::kConnected);
  EXPECT_EQ((*got)->status_changed_at, t4);
  EXPECT_EQ((*got)->last_error, "timeout");
  EXPECT_EQ((*got)->last_error_at, t3);

  // Settings written later keep the status, and the status keeps the settings.
  ASSERT_TRUE(store_->PutIntegrationSettings("connect", true, R"({"a":1})").ok());
  ASSERT_TRUE(store_->SetIntegrationStatus("connect", IntegrationStatus::kUnauthorized, "").ok());
  got = store_->GetIntegration("connect");
  EXPECT_EQ((*got)->status, IntegrationStatus::kUnauthorized);
  EXPECT_TRUE((*got)->enabled);
  EXPECT_EQ((*got)->settings_json, R"({"a":1})");

  // A first status of no_status is no change.
  ASSERT_TRUE(store_->SetIntegrationStatus("enrollment", IntegrationStatus::kNoStatus, "").ok());
  EXPECT_EQ((*store_->GetIntegration("enrollment"))->status_changed_at, std::nullopt);
  ExpectError(store_->SetIntegrationStatus("", IntegrationStatus::kConnected, ""),
              StatusCode::kInvalidArgument);

  ASSERT_TRUE(store_->PutIntegrationSettings("space", false, "{}").ok());
  auto all = store_->ListIntegrations();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> names;
  for (const Integration& i : *all) names.push_back(i.name);
  EXPECT_THAT(names, ElementsAre("connect", "enrollment", "space"));
}

// ---------------------------------------------------------------- retention

TEST_F(StoreAdminTest, PurgeDeletesExpiredRowsInBatchesAndKeepsTheOutbox) {
  const WallTime t0 = clock_.Now();
  std::vector<int64_t> old_events;
  for (int i = 0; i < 5; ++i) {
    old_events.push_back(AddEvent({}));
    AddAudit("facegated", "event.test");
    clock_.Advance(hours(1));
  }
  // An old event whose message has not been delivered yet.
  const OutboxMessage message{.destination = "connect", .topic = "t", .payload = "{}"};
  const int64_t with_outbox = AddEvent({}, std::span(&message, 1));
  clock_.Advance(hours(1));
  const WallTime cut = clock_.Now();  // everything before this goes
  std::vector<int64_t> new_events;
  for (int i = 0; i < 3; ++i) {
    new_events.push_back(AddEvent({}));
    AddAudit("facegated", "event.test");
    clock_.Advance(hours(1));
  }
  // Nothing set: nothing purged.
  auto nothing = store_->PurgeExpired(std::nullopt, std::nullopt, 2);
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing->events, 0);
  EXPECT_EQ(nothing->audit_rows, 0);

  // Batches of 2: 6 events take 3 full batches and an empty one, 4 audit rows 2 and 1.
  auto report = store_->PurgeExpired(cut, cut - hours(2), /*batch=*/2);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, 6);
  EXPECT_EQ(report->audit_rows, 4);  // t0 .. t0+3h; the audit row at t0+4h is within 2 hours
  EXPECT_EQ(*store_->CountEvents(), 3);
  EXPECT_THAT(EventIds({}), ElementsAre(new_events[2], new_events[1], new_events[0]));
  for (int64_t id : old_events) EXPECT_FALSE(store_->GetEvent(id)->has_value());
  AuditFilter f;
  f.until = t0 + hours(5);
  EXPECT_EQ(AuditIds(f).size(), 1u);
  EXPECT_EQ(AuditIds({}).size(), 4u);

  // The message of the deleted event is still delivered, without its event id.
  auto due = store_->DueOutbox("connect", clock_.Now(), 10);
  ASSERT_TRUE(due.ok()) << due.status().ToString();
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].event_id, std::nullopt);
  EXPECT_EQ((*due)[0].message.payload, "{}");
  EXPECT_FALSE(store_->GetEvent(with_outbox)->has_value());

  // Again: nothing left to purge. A batch below 1 counts as 1.
  auto again = store_->PurgeExpired(cut, cut - hours(2), 0);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->events, 0);
  EXPECT_EQ(again->audit_rows, 0);
  // Everything, one row per transaction.
  auto all = store_->PurgeExpired(clock_.Now(), clock_.Now(), 1);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->events, 3);
  EXPECT_EQ(all->audit_rows, 4);
  EXPECT_EQ(*store_->CountEvents(), 0);
  EXPECT_THAT(AuditIds({}), IsEmpty());
  EXPECT_EQ(store_->OutboxBacklog("connect").value(), 1);
}

// ---------------------------------------------------------------- events

TEST_F(StoreAdminTest, EventsPageNewestFirstByCursor) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(AddEvent({}));
    clock_.Advance(seconds(1));
  }
  std::vector<int64_t> paged;
  EventFilter page;
  page.limit = 3;
  int pages = 0;
  for (; pages < 10; ++pages) {
    std::vector<int64_t> got = EventIds(page);
    if (got.empty()) break;
    EXPECT_LE(got.size(), 3u);
    paged.insert(paged.end(), got.begin(), got.end());
    page.before_id = got.back();
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(paged, ElementsAre(ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]));

  // The rows come back whole.
  auto events = store_->ListEvents({.limit = 1});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].id, ids[6]);
  EXPECT_EQ((*events)[0].event.reason, "unknown_face");
  EXPECT_EQ((*events)[0].event.time, clock_.Now() - seconds(1));

  EventFilter clamp;
  clamp.limit = 0;
  EXPECT_THAT(EventIds(clamp), ElementsAre(ids[6]));
}

TEST_F(StoreAdminTest, EventsAfterAnIdAreWhatIsNewAndPageWithTheCursor) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(AddEvent({}));
  EXPECT_THAT(EventIds({.after_id = ids[3]}), ElementsAre(ids[5], ids[4]));
  EXPECT_THAT(EventIds({.after_id = ids[5]}), ::testing::IsEmpty());
  // More new events than a page: the newest page, then the cursor down to the seen id.
  EventFilter f{.before_id = 0, .after_id = ids[0], .limit = 3};
  EXPECT_THAT(EventIds(f), ElementsAre(ids[5], ids[4], ids[3]));
  f.before_id = ids[3];
  EXPECT_THAT(EventIds(f), ElementsAre(ids[2], ids[1]));
}

TEST_F(StoreAdminTest, EventFiltersAreAnded) {
  const int64_t front = AddDoor("D1");
  const int64_t back = AddDoor("D2");
  const int64_t dev_front = AddDevice("t-front", front);
  const int64_t dev_back = AddDevice("t-back", back);
  const int64_t anna = AddUser("E1");
  const int64_t bernd = AddUser("E2");
  const WallTime t0 = clock_.Now();

  auto at = [&](const EventSpec& spec) {
    const int64_t id = AddEvent(spec);
    clock_.Advance(minutes(1));
    return id;
  };
  // t0 + 0..5 minutes
  const int64_t e0 = at({.device_id = dev_front,
                         .door_id = front,
                         .user_id = anna,
                         .decision = Decision::kGrant,
                         .reason = "granted"});
  const int64_t e1 = at({.device_id = dev_front, .door_id = front, .reason = "unknown_face"});
  const int64_t e2 = at({.device_id = dev_back,
                         .door_id = back,
                         .user_id = bernd,
                         .decision = Decision::kDeny,
                         .reason = "no_access_to_door"});
  const int64_t e3 = at({.device_id = dev_back,
                         .door_id = back,
                         .user_id = anna,
                         .decision = Decision::kGrant,
                         .reason = "granted"});
  const int64_t e4 = at({.device_id = dev_front,
                         .door_id = front,
                         .user_id = bernd,
                         .decision = Decision::kGrant,
                         .reason = "granted"});
  const int64_t e5 = at({.reason = "pad_failed"});  // no device, door or user

  EXPECT_THAT(EventIds({.door_id = front}), ElementsAre(e4, e1, e0));
  EXPECT_THAT(EventIds({.door_id = back}), ElementsAre(e3, e2));
  EXPECT_THAT(EventIds({.user_id = anna}), ElementsAre(e3, e0));
  EXPECT_THAT(EventIds({.device_id = dev_back}), ElementsAre(e3, e2));
  EXPECT_THAT(EventIds({.decision = "grant"}), ElementsAre(e4, e3, e0));
  EXPECT_THAT(EventIds({.decision = "deny"}), ElementsAre(e5, e2, e1));
  EXPECT_THAT(EventIds({.reason = "granted"}), ElementsAre(e4, e3, e0));
  EXPECT_THAT(EventIds({.reason = "pad_failed"}), ElementsAre(e5));
  EXPECT_THAT(EventIds({.reason = "nothing_like_it"}), IsEmpty());
  EXPECT_THAT(EventIds({.from = t0 + minutes(2)}), ElementsAre(e5, e4, e3, e2));
  EXPECT_THAT(EventIds({.until = t0 + minutes(2)}), ElementsAre(e1, e0));
  EXPECT_THAT(EventIds({.from = t0 + minutes(1), .until = t0 + minutes(3)}), ElementsAre(e2, e1));

  // Several at once.
  EXPECT_THAT(EventIds({.door_id = front, .decision = "grant"}), ElementsAre(e4, e0));
  EXPECT_THAT(EventIds({.user_id = anna, .device_id = dev_back}), ElementsAre(e3));
  EXPECT_THAT(EventIds({.from = t0 + minutes(1), .door_id = front, .decision = "deny"}),
              ElementsAre(e1));
  EXPECT_THAT(EventIds({.door_id = front, .user_id = anna, .reason = "granted"}), ElementsAre(e0));
  EXPECT_THAT(EventIds({.door_id = back, .user_id = anna, .decision = "deny"}), IsEmpty());
  // A filter with a cursor, across pages.
  EXPECT_THAT(EventIds({.decision = "grant", .limit = 2}), ElementsAre(e4, e3));
  EXPECT_THAT(EventIds({.decision = "grant", .before_id = e3, .limit = 2}), ElementsAre(e0));

  ExpectError(store_->ListEvents({.decision = "maybe"}).status(), StatusCode::kInvalidArgument,
              "grant or deny");
  ExpectError(store_->ListEvents({.decision = "GRANT"}).status(), StatusCode::kInvalidArgument);
}

TEST_F(StoreAdminTest, EventFiltersUseTheirIndexes) {
  RawDb raw(options_.db_file);
  auto plan = [&](const std::string& where) {
    const std::string sql = "EXPLAIN QUERY PLAN SELECT event_id FROM events WHERE " + where +
                            " ORDER BY event_id DESC LIMIT 10";
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw.get(), sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    std::string out;
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      out += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));  // detail
      out += "\n";
    }
    sqlite3_finalize(stmt);
    return out;
  };
  EXPECT_THAT(plan("device_id = 1"), HasSubstr("events_by_device"));
  EXPECT_THAT(plan("reason = 'granted'"), HasSubstr("events_by_reason"));
}

}  // namespace
}  // namespace facegate::store
