// Black-box: `facegatectl store ...` run as the real binary against a data directory made by
// the real `facegated --init`. Users and templates are written by opening the same store in
// the test process, so what the command reports and restores is checked against what is known
// to be there.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "blackbox/ctl_runner.h"
#include "blackbox/facegated_fixture.h"
#include "facegate/core/clock.h"
#include "facegate/store/store.h"

namespace facegate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kModel = "dlib-resnet-v1";  // what facegatectl treats as current

nlohmann::json ParseJson(const CtlResult& r) {
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stdout is not one JSON document (" << e.what() << ")\n" << Describe(r);
    return nlohmann::json();
  }
}

std::vector<float> RandomTemplate(std::mt19937& rng) {
  std::normal_distribution<float> d;
  std::vector<float> v(128);
  for (float& x : v) x = d(rng);
  return v;
}

// A daemon directory after `facegated --init`, with helpers around it.
class CtlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.WriteConfig();
    auto run = daemon_.Run({"--init", "--config", daemon_.config_path().string()});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_TRUE(run->exit.has_value() && run->exit->code == 0) << run->output;
  }

  std::filesystem::path db_file() const { return daemon_.data_dir() / "facegate.db"; }
  std::filesystem::path key_dir() const { return daemon_.data_dir() / "keys"; }

  store::StoreOptions StoreOptionsForTest() const {
    store::StoreOptions o;
    o.db_file = db_file();
    o.key_dir = key_dir();
    return o;
  }

  std::unique_ptr<store::Store> OpenStore() {
    auto s = store::Store::Open(StoreOptionsForTest(), SystemClock::Instance());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // `users` users with `per_user` templates of the current model each, plus one template of
  // an older model (to be listed for re-enrollment). Returns the current-model templates by
  // user external id.
  std::map<std::string, std::vector<std::vector<float>>> Populate(int users, int per_user,
                                                                  bool old_model = true) {
    std::map<std::string, std::vector<std::vector<float>>> made;
    auto s = OpenStore();
    if (!s) return made;
    std::mt19937 rng(42);
    int64_t last_user = 0;
    for (int u = 0; u < users; ++u) {
      store::User user;
      user.external_id = "U" + std::to_string(u);
      user.first_name = "First" + std::to_string(u);
      auto id = s->UpsertUser(user);
      EXPECT_TRUE(id.ok()) << id.status().ToString();
      last_user = *id;
      for (int t = 0; t < per_user; ++t) {
        auto values = RandomTemplate(rng);
        store::NewTemplate nt;
        nt.user_id = *id;
        nt.model_version = kModel;
        nt.values = values;
        auto tid = s->AddTemplate(nt);
        EXPECT_TRUE(tid.ok()) << tid.status().ToString();
        made[user.external_id].push_back(values);
      }
    }
    if (old_model && last_user != 0) {
      auto values = RandomTemplate(rng);
      store::NewTemplate nt;
      nt.user_id = last_user;
      nt.model_version = "some-older-model";
      nt.values = values;
      EXPECT_TRUE(s->AddTemplate(nt).ok());
    }
    return made;
  }

  // Every current-model template in the store, by user external id, sorted.
  std::map<std::string, std::vector<std::vector<float>>> LoadAll() {
    std::map<std::string, std::vector<std::vector<float>>> out;
    auto s = OpenStore();
    if (!s) return out;
    auto m = s->LoadTemplatesForIndex(kModel);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return out;
    for (size_t i = 0; i < m->size(); ++i) {
      auto user = s->GetUser(m->user_ids[i]);
      EXPECT_TRUE(user.ok());
      auto row = m->row(i);
      out[user->external_id].emplace_back(row.begin(), row.end());
    }
    for (auto& [_, v] : out) std::sort(v.begin(), v.end());
    return out;
  }

  CtlResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), "store");
    args.push_back("--config");
    args.push_back(daemon_.config_path().string());
    return RunCtl(daemon_.dir(), args);
  }

  FacegatedUnderTest daemon_;
};

TEST_F(CtlStoreTest, StatusOnAFreshDataDir) {
  CtlResult text = Ctl({"status"});
  ASSERT_EQ(text.code, 0) << Describe(text);
  EXPECT_THAT(text.out, HasSubstr(db_file().string()));
  EXPECT_THAT(text.out,
              HasSubstr("schema version  " + std::to_string(store::CurrentSchemaVersion())));
  EXPECT_THAT(text.out, HasSubstr("templates       0"));
  EXPECT_THAT(text.out, HasSubstr("(current: 1)"));

  CtlResult json = Ctl({"status", "--json"});
  ASSERT_EQ(json.code, 0) << Describe(json);
  nlohmann::json doc = ParseJson(json);
  EXPECT_EQ(doc["db_file"], db_file().string());
  EXPECT_EQ(doc["schema_version"], store::CurrentSchemaVersion());
  EXPECT_GT(doc["bytes"].get<int64_t>(), 0);
  EXPECT_EQ(doc["users"], 0);
  EXPECT_EQ(doc["templates"], 0);
  EXPECT_EQ(doc["templates_needing_reenrollment"], 0);
  EXPECT_EQ(doc["current_key_id"], 1);
  ASSERT_EQ(doc["keys"].size(), 1u);
  EXPECT_EQ(doc["keys"][0]["file"], (key_dir() / "template.key").string());
  EXPECT_EQ(doc["key_rotation"]["done"], true);
}

TEST_F(CtlStoreTest, StatusCountsUsersTemplatesAndReEnrollment) {
  Populate(3, 2);
  CtlResult r = Ctl({"status", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  nlohmann::json doc = ParseJson(r);
  EXPECT_EQ(doc["users"], 3);
  EXPECT_EQ(doc["templates"], 7);
  EXPECT_EQ(doc["templates_needing_reenrollment"], 1);
  EXPECT_EQ(doc["model_version"], kModel);
}

TEST_F(CtlStoreTest, BackupThenWipeThenRestoreBringsEverythingBack) {
  const auto made = Populate(4, 3);
  ASSERT_EQ(made.size(), 4u);
  const auto before = LoadAll();
  const auto backup = daemon_.dir() / "backup.db";

  CtlResult b = Ctl({"backup", backup.string(), "--json"});
  ASSERT_EQ(b.code, 0) << Describe(b);
  nlohmann::json info = ParseJson(b);
  EXPECT_EQ(info["users"], 4);
  EXPECT_EQ(info["templates"], 13);
  ASSERT_EQ(info["key_files_needed"].size(), 1u);
  EXPECT_EQ(info["key_files_needed"][0]["file"], (key_dir() / "template.key").string());
  EXPECT_THAT(b.err, HasSubstr("backup written"));
  // The key is never in the backup.
  const std::string key = ReadFileForTest(key_dir() / "template.key");
  ASSERT_EQ(key.size(), 32u);
  EXPECT_EQ(ReadFileForTest(backup).find(key), std::string::npos);

  // A second backup to the same name is refused, not overwritten.
  CtlResult again = Ctl({"backup", backup.string()});
  EXPECT_EQ(again.code, 1) << Describe(again);
  EXPECT_THAT(again.err, HasSubstr("already exists"));

  // The text form names the key file to keep.
  CtlResult text = Ctl({"backup", (daemon_.dir() / "backup2.db").string()});
  ASSERT_EQ(text.code, 0) << Describe(text);
  EXPECT_THAT(text.out, HasSubstr((key_dir() / "template.key").string()));

  // Wipe the database.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::path p = db_file();
    p += suffix;
    std::filesystem::remove(p);
  }
  CtlResult missing = Ctl({"status"});
  EXPECT_EQ(missing.code, 1) << Describe(missing);
  EXPECT_THAT(missing.err, HasSubstr(db_file().string()));
  EXPECT_FALSE(std::filesystem::exists(db_file())) << "status must not create a database";

  CtlResult r = Ctl({"restore", backup.string(), "--yes", "--json"});
  ASSERT_EQ(r.code, 0) << Describe(r);
  nlohmann::json restored = ParseJson(r);
  EXPECT_EQ(restored["ready"], true);
  EXPECT_EQ(restored["users"], 4);
  EXPECT_EQ(restored["templates"], 13);

  EXPECT_EQ(LoadAll(), before);
  auto s = OpenStore();
  ASSERT_TRUE(s);
  auto users = s->ListUsers(0, 100);
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 4u);
  for (const auto& u : *users) EXPECT_TRUE(made.count(u.external_id)) << u.external_id;
  EXPECT_EQ(*s->CountTemplates(), 13);
}

TEST_F(CtlStoreTest, RestoreMovesTheCurrentDatabaseAsideAndReportsAMissingKey) {
  Populate(1, 1, false);
  const auto backup = daemon_.dir() / "backup.db";
  ASSERT_EQ(Ctl({"backup", backup.string()}).code, 0);
  // The key went missing (e.g. a new host where only the database was copied back).
  std::filesystem::rename(key_dir() / "template.key", daemon_.dir() / "template.key.saved");
  CtlResult r = Ctl({"restore", backup.string(), "--yes"});
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr((key_dir() / "template.key").string()));
  EXPECT_THAT(r.err, HasSubstr("do not run facegated --init"));
  bool aside = false;
  for (const auto& e : std::filesystem::directory_iterator(daemon_.data_dir())) {
    if (e.path().filename().string().rfind("facegate.db.before-restore-", 0) == 0) aside = true;
  }
  EXPECT_TRUE(aside) << "the previous database was not kept";
}

TEST_F(CtlStoreTest, RestoreIsRefusedWithoutYes) {
  Populate(1, 1);
  const auto backup = daemon_.dir() / "backup.db";
  ASSERT_EQ(Ctl({"backup", backup.string()}).code, 0);
  CtlResult r = Ctl({"restore", backup.string()});
  EXPECT_EQ(r.code, 2) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("--yes"));
  EXPECT_THAT(r.err, HasSubstr(db_file().string()));
  for (const auto& e : std::filesystem::directory_iterator(daemon_.data_dir())) {
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr("before-restore")));
  }
}

TEST_F(CtlStoreTest, RestoreIsRefusedWhileTheDaemonRunsAndRotationIsHandedToIt) {
  Populate(3, 2);
  const auto backup = daemon_.dir() / "backup.db";
  ASSERT_EQ(Ctl({"backup", backup.string()}).code, 0);
  ASSERT_TRUE(daemon_.Start().ok());
  const std::string pid = std::to_string(daemon_.process().pid());

  CtlResult r = Ctl({"restore", backup.string(), "--yes"});
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("facegated is running (pid " + pid));
  EXPECT_THAT(r.err, HasSubstr("systemctl stop facegated"));

  // Online rotation: the key is added here, the running daemon takes it up on SIGHUP and
  // re-encrypts while it serves.
  CtlResult k = Ctl({"rotate-key", "--json"});
  ASSERT_EQ(k.code, 0) << Describe(k);
  EXPECT_THAT(k.out, HasSubstr("handed to the running facegated"));
  EXPECT_TRUE(std::filesystem::exists(key_dir() / "template.2.key"));
  bool done = PollUntil(
      [&] {
        CtlResult st = Ctl({"rotate-key", "--status", "--json"});
        return st.code == 0 && nlohmann::json::parse(st.out, nullptr, false).value("done", false);
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200));
  EXPECT_TRUE(done) << daemon_.log();
  EXPECT_TRUE(daemon_.WaitForLog("template key rotation finished", std::chrono::seconds(10)))
      << daemon_.log();

  // What is safe while it serves still works: status and an online backup.
  EXPECT_EQ(Ctl({"status"}).code, 0);
  EXPECT_EQ(Ctl({"backup", (daemon_.dir() / "online.db").string()}).code, 0);

  ASSERT_TRUE(daemon_.Stop().has_value());
  // Every template is readable with the keys on disk after the rotation.
  CtlResult check = Ctl({"check"});
  EXPECT_EQ(check.code, 0) << Describe(check);
  CtlResult after = Ctl({"restore", backup.string(), "--yes"});
  EXPECT_EQ(after.code, 0) << Describe(after);
}

TEST_F(CtlStoreTest, RestoreIgnoresAPortsFileOfADeadProcess) {
  const auto backup = daemon_.dir() / "backup.db";
  ASSERT_EQ(Ctl({"backup", backup.string()}).code, 0);
  // A crashed daemon leaves its ports file; the pid in it no longer runs.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  WriteFileForTest(daemon_.ports_file(), "{\"pid\":" + std::to_string(child) + ",\"ports\":{}}");
  CtlResult r = Ctl({"restore", backup.string(), "--yes"});
  EXPECT_EQ(r.code, 0) << Describe(r);
}

TEST_F(CtlStoreTest, RotateKeyInterruptedThenResumed) {
  Populate(5, 1, false);
  const auto before = LoadAll();

  CtlResult first = Ctl({"rotate-key", "--batch", "1", "--max-batches", "2", "--json"});
  ASSERT_EQ(first.code, 0) << Describe(first);
  nlohmann::json p = ParseJson(first);
  EXPECT_EQ(p["key_added"], true);
  EXPECT_EQ(p["target_key_id"], 2);
  EXPECT_EQ(p["reencrypted"], 2);
  EXPECT_EQ(p["remaining"], 3);
  EXPECT_EQ(p["done"], false);
  EXPECT_TRUE(std::filesystem::exists(key_dir() / "template.2.key"));
  // stderr is not a terminal here: one plain line per batch, no progress bar.
  EXPECT_THAT(first.err, HasSubstr("key rotation to key 2: 1 of 5 templates re-encrypted\n"));
  EXPECT_THAT(first.err, HasSubstr("key rotation to key 2: 2 of 5 templates re-encrypted\n"));
  EXPECT_THAT(first.err, Not(HasSubstr("\r")));
  EXPECT_THAT(first.err + first.out, Not(HasSubstr(ReadFileForTest(key_dir() / "template.2.key"))));

  CtlResult status = Ctl({"rotate-key", "--status", "--json"});
  ASSERT_EQ(status.code, 0) << Describe(status);
  nlohmann::json s = ParseJson(status);
  EXPECT_EQ(s["reencrypted"], 2);
  EXPECT_EQ(s["remaining"], 3);
  CtlResult store_status = Ctl({"status"});
  EXPECT_THAT(store_status.out, HasSubstr("to key 2 in progress: 2 re-encrypted, 3 remaining"));

  // The second run continues the same rotation: no third key.
  CtlResult second = Ctl({"rotate-key", "--batch", "2", "--json"});
  ASSERT_EQ(second.code, 0) << Describe(second);
  nlohmann::json q = ParseJson(second);
  EXPECT_EQ(q["key_added"], false);
  EXPECT_EQ(q["target_key_id"], 2);
  EXPECT_EQ(q["reencrypted"], 5);
  EXPECT_EQ(q["remaining"], 0);
  EXPECT_EQ(q["done"], true);
  EXPECT_THAT(second.err, HasSubstr("continuing the key rotation to key 2"));
  EXPECT_FALSE(std::filesystem::exists(key_dir() / "template.3.key"));

  EXPECT_EQ(LoadAll(), before);
  CtlResult st = Ctl({"status", "--json"});
  nlohmann::json doc = ParseJson(st);
  EXPECT_EQ(doc["current_key_id"], 2);
  EXPECT_EQ(doc["keys"].size(), 2u);
  EXPECT_EQ(doc["key_rotation"]["done"], true);

  // The old key is retired now that no template uses it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_file().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT retired_at_ms IS NOT NULL FROM template_keys "
                               "WHERE key_id = 1",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);

  // A run after a finished rotation starts the next one.
  CtlResult third = Ctl({"rotate-key"});
  ASSERT_EQ(third.code, 0) << Describe(third);
  EXPECT_THAT(third.out, HasSubstr("key rotation to key 3: done"));
  EXPECT_EQ(LoadAll(), before);
}

TEST_F(CtlStoreTest, CheckPassesThenFindsATamperedTemplate) {
  Populate(2, 2);
  CtlResult ok = Ctl({"check", "--json"});
  ASSERT_EQ(ok.code, 0) << Describe(ok);
  nlohmann::json doc = ParseJson(ok);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_EQ(doc["templates_authenticated"], 4);
  EXPECT_EQ(doc["templates_of_other_models"], 1);

  // Flip a bit of one ciphertext behind the store's back.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_file().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE face_templates SET tag = zeroblob(16) WHERE template_id = "
                         "(SELECT min(template_id) FROM face_templates WHERE model_version = "
                         "'dlib-resnet-v1')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  CtlResult bad = Ctl({"check"});
  EXPECT_EQ(bad.code, 1) << Describe(bad);
  EXPECT_THAT(bad.err, HasSubstr("failed authentication"));
}

TEST_F(CtlStoreTest, BadArgumentsAreUsageErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"nope"},
      {"status", "--bogus"},
      {"status", "extra"},
      {"backup"},
      {"backup", "a.db", "b.db"},
      {"restore"},
      {"rotate-key", "--batch", "0"},
      {"rotate-key", "--batch", "x"},
      {"rotate-key", "--max-batches"},
      {"check", "--yes"},
  };
  for (const auto& args : cases) {
    CtlResult r = Ctl(args);
    EXPECT_EQ(r.code, 2) << args[0] << "\n" << Describe(r);
    EXPECT_FALSE(r.err.empty());
  }
  CtlResult none = RunCtl(daemon_.dir(), {"store"});
  EXPECT_EQ(none.code, 2) << Describe(none);
  for (const char* cmd : {"status", "backup", "restore", "rotate-key", "check"}) {
    CtlResult help = RunCtl(daemon_.dir(), {"store", cmd, "--help"});
    EXPECT_EQ(help.code, 0) << cmd << "\n" << Describe(help);
    EXPECT_THAT(help.out, HasSubstr("Usage: facegatectl store"));
  }
}

TEST_F(CtlStoreTest, AMissingConfigFileIsNamed) {
  const auto missing = daemon_.dir() / "no-such.json";
  CtlResult r = RunCtl(daemon_.dir(), {"store", "status", "--config", missing.string()});
  EXPECT_EQ(r.code, 1) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr(missing.string()));
}

}  // namespace
}  // namespace facegate::testing
