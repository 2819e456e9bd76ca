// Durability: a writer killed with SIGKILL at random moments, and simulated power losses
// (FaultVfs) at random points of commits and checkpoints. After each, the database opens,
// passes integrity_check, and everything reported committed is there.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "facegate/store/store.h"
#include "store/fault_vfs.h"
#include "store/store_testing.h"

namespace facegate::store {
namespace {

using testing::FaultVfs;
using testing::kModel;
using testing::MakeOptions;
using testing::MakeUser;
using testing::RandomEmbedding;
using testing::RawDb;

struct Committed {
  int64_t user_id;
  int64_t template_id;
};

// Opens the database as the daemon would after the crash and checks every reported record.
void VerifyAfterCrash(const StoreOptions& options, const std::vector<Committed>& committed,
                      const std::string& what) {
  {
    RawDb raw(options.db_file);
    ASSERT_EQ(raw.One("PRAGMA integrity_check"), "ok") << what;
  }
  StoreOptions check = options;
  check.sqlite_vfs.clear();
  check.startup_check = StartupCheck::kFull;
  facegate::testing::FakeClock clock;
  auto store = Store::Open(check, clock);
  ASSERT_TRUE(store.ok()) << what << ": " << store.status().ToString();
  auto matrix = (*store)->LoadTemplatesForIndex(kModel);
  ASSERT_TRUE(matrix.ok()) << what << ": " << matrix.status().ToString();
  std::set<int64_t> present(matrix->template_ids.begin(), matrix->template_ids.end());
  for (const Committed& c : committed) {
    EXPECT_TRUE(present.count(c.template_id))
        << what << ": template " << c.template_id << " was reported committed and is gone";
    EXPECT_TRUE((*store)->GetUser(c.user_id).ok()) << what << ": user " << c.user_id;
  }
}

// The child: enrolls people in a loop and reports each committed (user, template) on `fd`.
[[noreturn]] void EnrollForever(const StoreOptions& options, int fd, uint32_t seed) {
  facegate::testing::FakeClock clock;
  auto store = Store::Open(options, clock);
  if (!store.ok()) _exit(2);
  std::mt19937 rng(seed);
  for (int i = 0; i < 1000000; ++i) {
    auto user =
        (*store)->UpsertUser(MakeUser("k" + std::to_string(seed) + "-" + std::to_string(i)));
    if (!user.ok()) _exit(3);
    auto values = RandomEmbedding(rng);
    NewTemplate t;
    t.user_id = *user;
    t.model_version = kModel;
    t.values = values;
    t.source = TemplateSource::kEnrollment;
    auto id = (*store)->AddTemplate(t);
    if (!id.ok()) _exit(4);
    Committed c{*user, *id};
    // One write of 16 bytes to a pipe is atomic: the parent gets all of it or nothing.
    if (::write(fd, &c, sizeof c) != sizeof c) _exit(5);
  }
  _exit(0);
}

TEST(DurabilityTest, SigkillAtRandomMomentsLosesNothingReported) {
  std::mt19937 rng(20240601);
  std::unique_ptr<facegate::testing::TempDir> fresh;
  std::vector<Committed> committed;
  constexpr int kKills = 24;
  for (int round = 0; round < kKills; ++round) {
    // Every sixth round starts from nothing and kills early: inside creation and migrations.
    const bool from_scratch = round % 6 == 0;
    if (from_scratch) {
      fresh = std::make_unique<facegate::testing::TempDir>();
      committed.clear();
    }
    const StoreOptions options = MakeOptions(fresh->path());
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      EnrollForever(options, fds[1], static_cast<uint32_t>(round));
    }
    ::close(fds[1]);
    const size_t wait_for = from_scratch ? 0 : rng() % 25;
    size_t got = 0;
    auto read_one = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      Committed c;
      if (::read(fds[0], &c, sizeof c) != sizeof c) return false;
      committed.push_back(c);
      ++got;
      return true;
    };
    while (got < wait_for && read_one(10000)) {
    }
    ASSERT_EQ(got, wait_for) << "the writer stopped reporting";
    ::usleep(static_cast<useconds_t>(rng() % (from_scratch ? 15000 : 4000)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the writer exited by itself: " << wstatus;
    while (read_one(0)) {
    }
    ::close(fds[0]);
    VerifyAfterCrash(options, committed, "after SIGKILL " + std::to_string(round));
    if (HasFatalFailure()) return;
  }
}

// Self-test of the harness: with synchronous=OFF nothing is ever synced, so a simulated
// power loss must lose commits that SQLite reported done (and WAL + synchronous=NORMAL
// loses them too, which is why the store runs FULL). With FULL, nothing is lost.
int CommittedRowsAfterPowerLoss(const std::string& synchronous) {
  FaultVfs& vfs = FaultVfs::Get();
  vfs.Reset();
  facegate::testing::TempDir dir;
  const std::string file = (dir / "t.db").string();
  sqlite3* db = nullptr;
  EXPECT_EQ(
      sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs.name()),
      SQLITE_OK);
  // The table is created durably; only the inserts run with the setting under test.
  EXPECT_EQ(sqlite3_exec(db,
                         ("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                          "CREATE TABLE t (x INTEGER); PRAGMA synchronous = " +
                          synchronous)
                             .c_str(),
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(sqlite3_exec(db, "INSERT INTO t VALUES (1)", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  vfs.CrashNow(FaultVfs::Loss::kAllUnsynced, 1);
  sqlite3_close_v2(db);
  vfs.Reset();
  RawDb raw(file);
  if (raw.One("SELECT count(*) FROM sqlite_schema WHERE name = 't'") != "1") {
    ADD_FAILURE() << "the table created with synchronous=FULL is gone (" << synchronous << ")"
                  << " db=" << testing::ReadAll(file).size()
                  << " wal=" << testing::ReadAll(file + "-wal").size();
    return -1;
  }
  const std::string n = raw.One("SELECT count(*) FROM t");
  return n.empty() ? 0 : std::stoi(n);
}

TEST(DurabilityTest, FaultVfsLosesUnsyncedCommits) {
  EXPECT_LT(CommittedRowsAfterPowerLoss("OFF"), 20);
  EXPECT_LT(CommittedRowsAfterPowerLoss("NORMAL"), 20);
  EXPECT_EQ(CommittedRowsAfterPowerLoss("FULL"), 20);
}

TEST(DurabilityTest, PowerLossAtRandomPointsLosesNothingReported) {
  FaultVfs& vfs = FaultVfs::Get();
  std::mt19937 rng(777);
  std::unique_ptr<facegate::testing::TempDir> dir;
  StoreOptions options;
  std::vector<Committed> committed;
  int crashed_in_open = 0;
  int crashed_in_write = 0;
  int total_committed = 0;
  constexpr int kCrashes = 40;
  for (int round = 0; round < kCrashes; ++round) {
    vfs.Reset();
    const auto loss =
        round % 2 == 0 ? FaultVfs::Loss::kAllUnsynced : FaultVfs::Loss::kRandomUnsynced;
    // Every eighth round starts from nothing with the crash early: inside creation and the
    // migrations. The others crash somewhere in the next few hundred writes and syncs: in a
    // commit, in a checkpoint, or (when the writes run out first) between transactions.
    const bool from_scratch = round % 8 == 0;
    if (from_scratch) {
      dir = std::make_unique<facegate::testing::TempDir>();
      options = MakeOptions(dir->path());
      options.sqlite_vfs = vfs.name();
      committed.clear();
    }
    vfs.CrashAfter(1 + rng() % (from_scratch ? 40 : 250), loss, static_cast<uint32_t>(rng()));
    facegate::testing::FakeClock clock;
    {
      auto store = Store::Open(options, clock);
      if (!store.ok()) {
        EXPECT_TRUE(vfs.crashed()) << store.status().ToString();
        ++crashed_in_open;
      } else {
        for (int i = 0; i < 30 && !vfs.crashed(); ++i) {
          auto user =
              (*store)->UpsertUser(MakeUser("p" + std::to_string(round) + "-" + std::to_string(i)));
          if (!user.ok()) break;
          auto values = RandomEmbedding(rng);
          NewTemplate t;
          t.user_id = *user;
          t.model_version = kModel;
          t.values = values;
          auto id = (*store)->AddTemplate(t);
          if (!id.ok()) break;
          committed.push_back({*user, *id});
          ++total_committed;
          if (i % 7 == 6) (void)(*store)->Checkpoint();
        }
        if (vfs.crashed()) ++crashed_in_write;
        vfs.CrashNow(loss, static_cast<uint32_t>(rng()));
      }
    }  // the store closes "after" the crash: nothing more reaches the files
    vfs.Reset();
    VerifyAfterCrash(options, committed, "after power loss " + std::to_string(round));
    if (HasFatalFailure()) return;
  }
  // The random points did land in both places.
  EXPECT_GT(crashed_in_open, 0);
  EXPECT_GT(crashed_in_write, 0);
  EXPECT_GT(total_committed, 100);  // about 200: the crash points move with the random ids
}

}  // namespace
}  // namespace facegate::store
