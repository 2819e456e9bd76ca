// Store::ApplyShipSync: Salto Space's data replaces the ship-owned records in one
// transaction; local records stay; removed users lose access at once and their faces per
// the policy; dangling references are skipped (never widened into more access).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "facegate/store/store.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;

class ShipSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = MakeOptions(dir_.path());
    auto store = Store::Open(options_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  static ShipSyncData Site() {
    ShipSyncData d;
    d.doors = {Door{0, "D1", "Lobby", "{}", RecordSource::kShip},
               Door{0, "D2", "Lab", "{}", RecordSource::kShip}};
    Schedule office;
    office.external_id = "TZ1";
    office.name = "Office";
    for (int day = 1; day <= 5; ++day) office.ranges.push_back({day, 8 * 60, 18 * 60});
    d.schedules = {office};
    d.groups = {ShipSyncGroup{"G1", "Staff", {{"D1", "TZ1"}}}};
    ShipSyncUser ada{"E1", "Ada", "Lovelace", false, std::nullopt, std::nullopt, {"G1"}, {}};
    ShipSyncUser bob{"E2", "Bob", "B", false, std::nullopt, std::nullopt, {}, {{"D2", ""}}};
    d.users = {ada, bob};
    return d;
  }

  std::string One(const std::string& sql) {
    RawDb raw(options_.db_file);
    auto rows = raw.Column(sql);
    return rows.empty() ? "" : rows[0];
  }

  int64_t AddTemplate(int64_t user_id) {
    values_.push_back(RandomEmbedding(rng_));
    NewTemplate t;
    t.user_id = user_id;
    t.model_version = kModel;
    t.values = values_.back();
    auto id = store_->AddTemplate(t);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  facegate::testing::TempDir dir_;
  facegate::testing::FakeClock clock_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{7};
  std::vector<std::vector<float>> values_;
};

TEST_F(ShipSyncTest, FirstSyncCreatesEverythingShipOwned) {
  auto r = store_->ApplyShipSync(Site(), RemovedShipUser::kErase);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users_added, 2);
  EXPECT_EQ(r->doors, 2);
  EXPECT_EQ(r->groups, 1);
  EXPECT_EQ(r->schedules, 1);
  EXPECT_EQ(r->rights, 2);  // G1->D1 within TZ1, E2->D2
  EXPECT_EQ(r->memberships, 1);
  EXPECT_EQ(r->skipped, 0);
  auto ada = store_->FindUserByExternalId("E1");
  ASSERT_TRUE(ada.ok());
  EXPECT_EQ(ada->source, RecordSource::kShip);
  EXPECT_EQ(One("SELECT count(*) FROM schedule_ranges"), "5");
  EXPECT_EQ(One("SELECT count(*) FROM access_rights WHERE group_id IS NOT NULL AND schedule_id "
                "IS NOT NULL"),
            "1");

  // The same data again changes nothing but the counts.
  r = store_->ApplyShipSync(Site(), RemovedShipUser::kErase);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->users_added, 0);
  EXPECT_EQ(r->users_updated, 2);
  EXPECT_EQ(r->rights, 2);
  EXPECT_EQ(One("SELECT count(*) FROM access_rights"), "2");
  EXPECT_EQ(One("SELECT count(*) FROM users"), "2");
}

TEST_F(ShipSyncTest, LocalRecordsStayAndSameIdsAreAdopted) {
  auto local = store_->UpsertUser(MakeUser("L1"));
  ASSERT_TRUE(local.ok());
  auto adopted = store_->UpsertUser(MakeUser("E1"));  // enrolled before the sync was on
  ASSERT_TRUE(adopted.ok());
  const int64_t face = AddTemplate(*adopted);
  Door local_door;
  local_door.external_id = "LOCAL-DOOR";
  ASSERT_TRUE(store_->UpsertDoor(local_door).ok());

  auto r = store_->ApplyShipSync(Site(), RemovedShipUser::kErase);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users_adopted, 1);
  EXPECT_EQ(r->users_added, 1);
  auto e1 = store_->FindUserByExternalId("E1");
  ASSERT_TRUE(e1.ok());
  EXPECT_EQ(e1->id, *adopted);  // same person, same face
  EXPECT_EQ(e1->source, RecordSource::kShip);
  EXPECT_TRUE(store_->GetTemplateInfo(face).ok());
  EXPECT_EQ(store_->FindUserByExternalId("L1")->source, RecordSource::kLocal);
  EXPECT_TRUE(store_->FindDoorByExternalId("LOCAL-DOOR")->has_value());
}

TEST_F(ShipSyncTest, RemovedUsersLoseAccessAndTheirFacesPerPolicy) {
  ASSERT_TRUE(store_->ApplyShipSync(Site(), RemovedShipUser::kErase).ok());
  const int64_t bob = store_->FindUserByExternalId("E2")->id;
  const int64_t bob_face = AddTemplate(bob);
  const int64_t ada = store_->FindUserByExternalId("E1")->id;
  const int64_t ada_face = AddTemplate(ada);

  // Kept: inactive, no rights, no memberships, the face still there.
  ShipSyncData without_ada = Site();
  without_ada.users.erase(without_ada.users.begin());
  auto r = store_->ApplyShipSync(without_ada, RemovedShipUser::kKeep);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users_removed, 1);
  EXPECT_EQ(r->templates_erased, 0);
  auto kept = store_->GetUser(ada);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->active);
  EXPECT_EQ(One("SELECT count(*) FROM user_groups WHERE user_id = " + std::to_string(ada)), "0");
  EXPECT_TRUE(store_->GetTemplateInfo(ada_face).ok());

  // Erased: the user, the templates, and no ciphertext left in the files.
  const std::string ciphertext =
      RawDb(options_.db_file)
          .Blob("SELECT ciphertext FROM face_templates WHERE template_id = " +
                std::to_string(bob_face));
  ASSERT_FALSE(ciphertext.empty());
  ShipSyncData only_ada = Site();
  only_ada.users.pop_back();
  r = store_->ApplyShipSync(only_ada, RemovedShipUser::kErase);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users_removed, 1);
  EXPECT_EQ(r->templates_erased, 1);
  EXPECT_TRUE(r->wal_truncated);
  EXPECT_EQ(store_->GetUser(bob).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetTemplateInfo(bob_face).status().code(), StatusCode::kNotFound);
  for (const char* suffix : {"", "-wal"}) {
    auto file = options_.db_file;
    file += suffix;
    EXPECT_EQ(testing::ReadAll(file).find(ciphertext.substr(ciphertext.size() / 2, 32)),
              std::string::npos)
        << "erased template bytes remain in " << file;
  }
  // Ada came back in Space: active again, her face still works.
  EXPECT_TRUE(store_->GetUser(ada)->active);
}

TEST_F(ShipSyncTest, DanglingReferencesAreSkippedNeverWidened) {
  ShipSyncData d = Site();
  d.users[1].doors = {{"NO-SUCH-DOOR", ""}, {"D2", "NO-SUCH-TZ"}};
  d.users[0].groups.push_back("NO-SUCH-GROUP");
  auto r = store_->ApplyShipSync(d, RemovedShipUser::kErase);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->skipped, 3);
  ASSERT_EQ(r->skipped_examples.size(), 3u);
  EXPECT_THAT(r->skipped_examples, Contains(HasSubstr("unknown door NO-SUCH-DOOR")));
  EXPECT_THAT(r->skipped_examples, Contains(HasSubstr("unknown time-zone table NO-SUCH-TZ")));
  EXPECT_THAT(r->skipped_examples, Contains(HasSubstr("unknown group NO-SUCH-GROUP")));
  // The right within an unknown time zone is not turned into a right at any time.
  EXPECT_EQ(One("SELECT count(*) FROM access_rights WHERE user_id IS NOT NULL"), "0");
}

TEST_F(ShipSyncTest, RemovedScheduleTakesItsRightsAndAFailedSyncChangesNothing) {
  ASSERT_TRUE(store_->ApplyShipSync(Site(), RemovedShipUser::kErase).ok());
  // A local right within Space's schedule goes when the schedule goes.
  AccessRight local;
  local.user_id = store_->FindUserByExternalId("E2")->id;
  local.door_id = store_->FindDoorByExternalId("D1")->value().id;
  local.schedule_id = std::stoll(One("SELECT schedule_id FROM schedules"));
  ASSERT_TRUE(store_->CreateAccessRight(local).ok());
  ShipSyncData d = Site();
  d.schedules.clear();
  auto r = store_->ApplyShipSync(d, RemovedShipUser::kErase);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->schedules_removed, 1);
  EXPECT_EQ(One("SELECT count(*) FROM access_rights WHERE schedule_id IS NOT NULL"), "0");

  // A write that fails half-way (here a trigger refuses user E9) fails the whole sync:
  // nothing of it lands.
  ShipSyncData bad = Site();
  bad.doors.push_back(Door{0, "D3", "New", "{}", RecordSource::kShip});
  RawDb(options_.db_file)
      .Exec(
          "CREATE TRIGGER fail BEFORE INSERT ON users WHEN "
          "NEW.external_id = 'E9' BEGIN SELECT RAISE(ABORT, 'boom'); END");
  bad.users.push_back(ShipSyncUser{"E9", "", "", false, {}, {}, {}, {}});
  r = store_->ApplyShipSync(bad, RemovedShipUser::kErase);
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(store_->FindDoorByExternalId("D3")->has_value()) << "a failed sync left a door";
  EXPECT_EQ(One("SELECT count(*) FROM users"), "2");
}

TEST_F(ShipSyncTest, TenThousandUsersInOneTransaction) {
  ShipSyncData d = Site();
  for (int i = 0; i < 10000; ++i) {
    d.users.push_back(ShipSyncUser{
        "U" + std::to_string(100000 + i), "F", "L", false, {}, {}, {"G1"}, {{"D2", "TZ1"}}});
  }
  auto r = store_->ApplyShipSync(d, RemovedShipUser::kErase);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->users_added, 10002);
  EXPECT_EQ(r->rights, 10002);
  EXPECT_EQ(One("SELECT count(*) FROM users WHERE source = 'ship'"), "10002");
}

}  // namespace
}  // namespace facegate::store
