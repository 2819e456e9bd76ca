// Benchmarks of the SQLite store on this machine's disk ($TMPDIR, /tmp by default):
//   AddTemplate/commit       one template per transaction (an enrollment): fsync-bound
//   AddTemplates/batch       N templates per transaction (an import)
//   Open                     Store::Open of a populated database (quick_check, key checks)
//   LoadTemplatesForIndex    decrypting every template for the 1:N index at start-up
//   RecordEvent              access events with an outbox row; several threads share commits
//   GalleryOpen              the daemon's start-up: decrypt every template and build the index
//   EnrollThenSync           one template committed, then made searchable (change log + index)
// The populated databases are built once per process (users by raw SQL, templates through
// the store, 1000 per transaction). FACEGATE_BENCH_STORE_1M=1 adds a 1M-template database.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "facegate/gallery/gallery.h"
#include "facegate/store/keyring.h"
#include "facegate/store/store.h"

namespace facegate::store {
namespace {

constexpr const char* kModel = "bench-model";
constexpr int kDim = 128;

class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/facegate-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

StoreOptions OptionsFor(const std::filesystem::path& dir) {
  StoreOptions o;
  o.db_file = dir / "facegate.db";
  o.key_dir = dir / "keys";
  Status s = Keyring::EnsureFirstKey(o.key_dir);
  if (!s.ok()) throw std::runtime_error(s.ToString());
  return o;
}

std::unique_ptr<Store> MustOpen(const StoreOptions& o) {
  auto store = Store::Open(o, SystemClock::Instance());
  if (!store.ok()) throw std::runtime_error(store.status().ToString());
  return std::move(store).value();
}

std::vector<float> RandomEmbedding(std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> v(kDim);
  for (float& x : v) x = normal(rng);
  return v;
}

// A database with `templates` templates, two per user; built once per size.
struct Populated {
  BenchDir dir;
  StoreOptions options;
};

Populated& PopulatedDb(int64_t templates) {
  static std::map<int64_t, std::unique_ptr<Populated>> cache;
  static std::mutex mu;
  std::lock_guard lock(mu);
  auto& slot = cache[templates];
  if (slot) return *slot;
  slot = std::make_unique<Populated>();
  slot->options = OptionsFor(slot->dir.path());
  const int64_t users = templates / 2;
  MustOpen(slot->options).reset();  // creates the schema
  {
    sqlite3* db = nullptr;
    sqlite3_open(slot->options.db_file.c_str(), &db);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO users (user_id, external_id, first_name, last_name, "
                       "created_at_ms, updated_at_ms) VALUES (?, ?, 'First', 'Last', 0, 0)",
                       -1, &stmt, nullptr);
    for (int64_t u = 1; u <= users; ++u) {
      std::string ext = "U" + std::to_string(u);
      sqlite3_bind_int64(stmt, 1, u);
      sqlite3_bind_text(stmt, 2, ext.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_step(stmt);
      sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto store = MustOpen(slot->options);
  std::mt19937 rng(1);
  std::vector<std::vector<float>> values(1000);
  std::vector<NewTemplate> batch(1000);
  for (int64_t first = 0; first < templates; first += 1000) {
    for (int i = 0; i < 1000; ++i) {
      values[i] = RandomEmbedding(rng);
      batch[i].user_id = 1 + (first + i) / 2;
      batch[i].model_version = kModel;
      batch[i].source = TemplateSource::kImport;
      batch[i].values = values[i];
    }
    auto ids = store->AddTemplates(batch);
    if (!ids.ok()) throw std::runtime_error(ids.status().ToString());
  }
  store.reset();
  return *slot;
}

void BM_AddTemplate_OneCommitEach(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(OptionsFor(dir.path()));
  User u;
  u.external_id = "bench";
  const int64_t user = *store->UpsertUser(u);
  std::mt19937 rng(2);
  const auto values = RandomEmbedding(rng);
  NewTemplate t;
  t.user_id = user;
  t.model_version = kModel;
  t.values = values;
  for (auto _ : state) {
    auto id = store->AddTemplate(t);
    if (!id.ok()) state.SkipWithError(id.status().ToString().c_str());
  }
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AddTemplate_OneCommitEach)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AddTemplates_Batch(benchmark::State& state) {
  BenchDir dir;
  auto store = MustOpen(OptionsFor(dir.path()));
  User u;
  u.external_id = "bench";
  const int64_t user = *store->UpsertUser(u);
  std::mt19937 rng(3);
  const int n = static_cast<int>(state.range(0));
  std::vector<std::vector<float>> values(n);
  std::vector<NewTemplate> batch(n);
  for (int i = 0; i < n; ++i) {
    values[i] = RandomEmbedding(rng);
    batch[i].user_id = user;
    batch[i].model_version = kModel;
    batch[i].values = values[i];
  }
  for (auto _ : state) {
    auto ids = store->AddTemplates(batch);
    if (!ids.ok()) state.SkipWithError(ids.status().ToString().c_str());
  }
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_AddTemplates_Batch)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Open(benchmark::State& state) {
  Populated& db = PopulatedDb(state.range(0));
  StoreOptions o = db.options;
  o.startup_check = state.range(1) ? StartupCheck::kQuick : StartupCheck::kOff;
  for (auto _ : state) {
    auto store = MustOpen(o);
    benchmark::DoNotOptimize(store.get());
  }
}

void BM_LoadTemplatesForIndex(benchmark::State& state) {
  Populated& db = PopulatedDb(state.range(0));
  auto store = MustOpen(db.options);
  size_t n = 0;
  for (auto _ : state) {
    auto matrix = store->LoadTemplatesForIndex(kModel);
    if (!matrix.ok()) state.SkipWithError(matrix.status().ToString().c_str());
    n = matrix->size();
    benchmark::DoNotOptimize(matrix->values.data());
  }
  state.counters["templates"] = static_cast<double>(n);
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}

void BM_GalleryOpen(benchmark::State& state) {
  Populated& db = PopulatedDb(state.range(0));
  auto store = MustOpen(db.options);
  size_t n = 0;
  for (auto _ : state) {
    auto g = gallery::Gallery::Open(store.get(), {}, kModel, {}, SystemClock::Instance());
    if (!g.ok()) {
      state.SkipWithError(g.status().ToString().c_str());
      break;
    }
    n = (*g)->Stats().templates;
  }
  state.counters["templates"] = static_cast<double>(n);
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}

// What an enrollment costs until the next capture can match it: the commit (fsync), then the
// gallery reading the change log and adding the row to a 100k index.
void BM_EnrollThenSync(benchmark::State& state) {
  Populated& db = PopulatedDb(100'000);
  auto store = MustOpen(db.options);
  auto g = gallery::Gallery::Open(store.get(), {}, kModel, {}, SystemClock::Instance());
  if (!g.ok()) {
    state.SkipWithError(g.status().ToString().c_str());
    return;
  }
  std::mt19937 rng(3);
  const auto values = RandomEmbedding(rng);
  NewTemplate t;
  t.user_id = 1;
  t.model_version = kModel;
  t.values = values;
  std::vector<int64_t> added;
  for (auto _ : state) {
    auto id = store->AddTemplate(t);
    if (!id.ok()) {
      state.SkipWithError(id.status().ToString().c_str());
      break;
    }
    Status s = (*g)->Sync();
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    added.push_back(*id);
  }
  // After the timed loop: keep the shared database as it was.
  for (int64_t id : added) (void)store->DeleteTemplate(id);
  state.counters["templates/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EnrollThenSync)->Unit(benchmark::kMillisecond)->UseRealTime();

void RegisterPopulated() {
  std::vector<int64_t> sizes = {10'000, 100'000};
  const char* big = std::getenv("FACEGATE_BENCH_STORE_1M");
  if (big != nullptr && std::string(big) == "1") sizes.push_back(1'000'000);
  for (int64_t n : sizes) {
    benchmark::RegisterBenchmark("BM_Open/quick_check", BM_Open)
        ->Args({n, 1})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Open/no_check", BM_Open)
        ->Args({n, 0})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_LoadTemplatesForIndex", BM_LoadTemplatesForIndex)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_GalleryOpen", BM_GalleryOpen)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

// Shared by the threads of one run.
struct EventBench {
  BenchDir dir;
  std::unique_ptr<Store> store;
  int64_t device = 0;
  int64_t door = 0;
};
EventBench* g_events = nullptr;

void BM_RecordEvent(benchmark::State& state) {
  if (state.thread_index() == 0) {
    g_events = new EventBench;
    g_events->store = MustOpen(OptionsFor(g_events->dir.path()));
    Door d;
    d.external_id = "D1";
    g_events->door = *g_events->store->UpsertDoor(d);
    g_events->device = *g_events->store->AddDevice({"t1", g_events->door});
  }
  // The timed loop starts with a barrier of all threads: thread 0's set-up is done by then.
  std::vector<OutboxMessage> out = {{"connect", "events", R"({"decision":"deny"})"}};
  int64_t i = 0;
  for (auto _ : state) {
    AccessEvent e;
    e.time = SystemClock::Instance().Now();
    e.device_id = g_events->device;
    e.door_id = g_events->door;
    e.reason = "unknown_face";
    e.request_id = std::to_string(state.thread_index()) + "-" + std::to_string(i++);
    auto r = g_events->store->RecordEvent(e, out);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
  }
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) {
    // The loop ends with a barrier too: no thread uses the store any more.
    delete g_events;
    g_events = nullptr;
  }
}
BENCHMARK(BM_RecordEvent)
    ->Threads(1)
    ->Threads(8)
    ->Threads(32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace facegate::store

int main(int argc, char** argv) {
  facegate::store::RegisterPopulated();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
