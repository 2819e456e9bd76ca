// Searches racing with inserts, removals and background compaction. Each template's vector is
// a function of its id, so every result can be checked: the distance reported must be the
// distance to the vector that id stands for (a torn or stale row would not match), and a
// template removed before a search started must not come back.
// Labelled "threaded": it also runs under ThreadSanitizer. Bounded by a deadline, not a sleep.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "facegate/index/template_index.h"
#include "index/test_data.h"

namespace facegate::index {
namespace {

constexpr size_t kDim = 32;
constexpr int64_t kStable = 20000;  // ids [0, kStable) stay; later ids come and go

std::vector<float> VectorFor(int64_t id) {
  std::mt19937_64 rng(static_cast<uint64_t>(id) * 0x9e3779b97f4a7c15ULL + 1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(kDim);
  for (float& x : v) x = u(rng);
  return v;
}
int64_t UserFor(int64_t id) { return id / 4; }

class ConcurrencyTest : public ::testing::TestWithParam<Storage> {};

TEST_P(ConcurrencyTest, SearchesStayConsistentWhileWritersChangeTheIndex) {
  IndexOptions o;
  o.dim = kDim;
  o.storage = GetParam();
  o.threads = 2;
  o.parallel_min_rows = 4096;  // exercise the helper pool too
  o.compact_min_dead = 256;    // and the background compaction
  o.compact_dead_fraction = 0.01;
  auto created = TemplateIndex::Create(o);
  ASSERT_TRUE(created.ok());
  TemplateIndex& index = **created;
  {
    std::vector<float> m;
    std::vector<int64_t> tids, uids;
    for (int64_t id = 0; id < kStable; ++id) {
      const auto v = VectorFor(id);
      m.insert(m.end(), v.begin(), v.end());
      tids.push_back(id);
      uids.push_back(UserFor(id));
    }
    ASSERT_TRUE(index.AddBatch(tids.size(), m.data(), tids.data(), uids.data()).ok());
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  std::atomic<bool> done{false};
  // Transient ids are added in increasing order and removed in increasing order; every id
  // below removed_below has been removed (and Remove has returned).
  std::atomic<int64_t> removed_below{kStable};
  std::atomic<int64_t> errors{0};
  int64_t next = kStable;  // written by the writer, read after join

  std::thread writer([&] {
    int64_t oldest = kStable;
    std::mt19937 rng(1);
    int ops = 0;
    while (std::chrono::steady_clock::now() < deadline || ops < 200) {
      if (next - oldest < 500 || rng() % 2 == 0) {
        const auto v = VectorFor(next);
        if (!index.Add(next, UserFor(next), v).ok()) ++errors;
        ++next;
      } else {
        if (!index.Remove(oldest).ok()) ++errors;
        removed_below.store(++oldest, std::memory_order_release);
      }
      ++ops;
    }
    done = true;
  });

  auto reader = [&](uint64_t seed, size_t k) {
    std::mt19937_64 rng(seed);
    std::vector<float> dist(k);
    std::vector<int64_t> tids(k), uids(k);
    int searches = 0;
    while (!done || searches < 20) {
      // A stored vector, slightly moved, as the query.
      const int64_t target = static_cast<int64_t>(rng() % kStable);
      auto q = VectorFor(target);
      q[0] += 0.001f;
      const int64_t removed = removed_below.load(std::memory_order_acquire);
      if (!index.Search(1, q.data(), k, dist.data(), tids.data(), uids.data()).ok()) ++errors;
      ++searches;
      if (tids[0] != target) ++errors;
      for (size_t i = 0; i < k; ++i) {
        if (tids[i] == kNoId) {
          ++errors;
          continue;
        }
        if (tids[i] >= kStable && tids[i] < removed) ++errors;  // removed before we started
        if (uids[i] != UserFor(tids[i])) ++errors;
        const auto v = VectorFor(tids[i]);
        const float want = testdata::L2sqr(q.data(), v.data(), kDim);
        if (std::abs(dist[i] - want) > 1e-4f * (1.0f + want)) ++errors;  // torn or wrong row
        if (i > 0 && dist[i] < dist[i - 1]) ++errors;
      }
      // The identity rule's query path too.
      auto m = index.Identify(q);
      if (!m.ok() || m->best_user != UserFor(target) || m->second_user == m->best_user) ++errors;
    }
  };
  std::thread r1(reader, 2, 1);
  std::thread r2(reader, 3, 5);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(errors.load(), 0);
  // Quiescent: the transient ids below removed_below are gone, the rest are there.
  const int64_t removed = removed_below.load();
  for (int64_t id = kStable; id < next; ++id) {
    EXPECT_EQ(index.Contains(id), id >= removed) << id;
  }
  EXPECT_EQ(index.size(), static_cast<size_t>(kStable + next - removed));
  EXPECT_TRUE(index.Contains(0));
}

INSTANTIATE_TEST_SUITE_P(Storages, ConcurrencyTest,
                         ::testing::Values(Storage::kFloat32, Storage::kInt8));

}  // namespace
}  // namespace facegate::index
