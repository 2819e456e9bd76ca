#include "facegate/index/template_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "index/test_data.h"

namespace facegate::index {
namespace {

using testdata::L2sqr;
using testdata::RandomMatrix;
using testdata::RandomUnitMatrix;

std::unique_ptr<TemplateIndex> MakeIndex(IndexOptions o) {
  auto r = TemplateIndex::Create(o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

struct Row {
  float dist;
  int64_t tid;
  int64_t uid;
};

// Brute force over the live rows, scalar order, ties by template id.
struct Reference {
  size_t d;
  std::map<int64_t, std::pair<int64_t, std::vector<float>>> rows;  // tid -> (uid, vector)

  void Add(int64_t tid, int64_t uid, const float* v) { rows[tid] = {uid, {v, v + d}}; }
  std::vector<Row> All(const float* q) const {
    std::vector<Row> all;
    for (const auto& [tid, e] : rows) all.push_back({L2sqr(q, e.second.data(), d), tid, e.first});
    std::sort(all.begin(), all.end(), [](const Row& a, const Row& b) {
      return std::tie(a.dist, a.tid) < std::tie(b.dist, b.tid);
    });
    return all;
  }
  std::vector<Row> TopK(const float* q, size_t k) const { return First(All(q), k); }
  std::vector<Row> TopUsers(const float* q, size_t k) const { return Users(All(q), k); }
  static std::vector<Row> First(std::vector<Row> all, size_t k) {
    if (all.size() > k) all.resize(k);
    return all;
  }
  static std::vector<Row> Users(const std::vector<Row>& all, size_t k) {
    std::vector<Row> out;
    std::set<int64_t> seen;
    for (const Row& r : all) {
      if (out.size() == k) break;
      if (seen.insert(r.uid).second) out.push_back(r);
    }
    return out;
  }
};

std::vector<Row> Query(const TemplateIndex& index, const float* q, size_t k, bool by_user) {
  std::vector<float> dist(k);
  std::vector<int64_t> tids(k), uids(k);
  const Status s = by_user ? index.SearchUsers(1, q, k, dist.data(), uids.data(), tids.data())
                           : index.Search(1, q, k, dist.data(), tids.data(), uids.data());
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::vector<Row> out;
  for (size_t i = 0; i < k; ++i) out.push_back({dist[i], tids[i], uids[i]});
  return out;
}
std::vector<Row> Search(const TemplateIndex& index, const float* q, size_t k) {
  return Query(index, q, k, false);
}
std::vector<Row> SearchUsers(const TemplateIndex& index, const float* q, size_t k) {
  return Query(index, q, k, true);
}

// Same rows in the same order; distances within `tol` relative (0: bit for bit, as the scalar level
// gives; other levels sum in another order).
void ExpectSame(const std::vector<Row>& got, const std::vector<Row>& want, const char* what,
                float tol = 1e-5f) {
  ASSERT_GE(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].tid, want[i].tid) << what << " rank " << i;
    EXPECT_EQ(got[i].uid, want[i].uid) << what << " rank " << i;
    if (tol == 0.0f) {
      EXPECT_EQ(got[i].dist, want[i].dist) << what << " rank " << i;
    } else {
      EXPECT_NEAR(got[i].dist, want[i].dist, tol * (1.0f + want[i].dist)) << what << " rank " << i;
    }
  }
  for (size_t i = want.size(); i < got.size(); ++i) {
    EXPECT_EQ(got[i].tid, kNoId) << what << " unused slot " << i;
    EXPECT_EQ(got[i].dist, kNoDistance) << what << " unused slot " << i;
  }
}

TEST(TemplateIndexTest, RejectsBadOptions) {
  IndexOptions o;
  o.dim = 0;
  EXPECT_EQ(TemplateIndex::Create(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.threads = -1;
  EXPECT_EQ(TemplateIndex::Create(o).status().code(), StatusCode::kInvalidArgument);
  if (!SimdLevelAvailable(SimdLevel::kAvx512)) {
    o = {};
    o.simd = SimdLevel::kAvx512;
    EXPECT_EQ(TemplateIndex::Create(o).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(TemplateIndexTest, EmptyIndexFillsEverySlotWithNoId) {
  auto index = MakeIndex({});
  const auto q = RandomMatrix(1, 128, 1);
  const auto got = Search(*index, q.data(), 3);
  ExpectSame(got, {}, "empty");
  EXPECT_EQ(index->size(), 0u);
  auto m = index->Identify(q);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->best_user, kNoId);
  EXPECT_EQ(m->second_user, kNoId);
}

TEST(TemplateIndexTest, BoundaryErrors) {
  auto index = MakeIndex({});
  std::vector<float> v(128, 0.5f);
  EXPECT_EQ(index->Add(1, 1, std::span<const float>(v.data(), 127)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(index->Add(1, 1, v).ok());
  EXPECT_EQ(index->Add(1, 2, v).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(index->Add(-5, 2, v).code(), StatusCode::kInvalidArgument);
  v[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(index->Add(2, 2, v).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Remove(99).code(), StatusCode::kNotFound);
  // A batch with a repeated id adds nothing.
  const auto m = RandomMatrix(3, 128, 2);
  const int64_t tids[] = {10, 11, 10};
  const int64_t uids[] = {1, 1, 1};
  EXPECT_EQ(index->AddBatch(3, m.data(), tids, uids).code(), StatusCode::kAlreadyExists);
  EXPECT_FALSE(index->Contains(10));
  EXPECT_FALSE(index->Contains(11));
  EXPECT_EQ(index->size(), 1u);
  // Bounds-checked search.
  std::vector<float> dist(2);
  std::vector<int64_t> ids(2);
  EXPECT_EQ(index->Search(std::span<const float>(m.data(), 130), 2, dist, ids).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Search(std::span<const float>(m.data(), 256), 2, dist, ids).code(),
            StatusCode::kInvalidArgument)
      << "2 queries x k=2 need 4 slots";
  EXPECT_TRUE(index->Search(std::span<const float>(m.data(), 128), 2, dist, ids).ok());
  EXPECT_EQ(index->Identify(std::span<const float>(m.data(), 64)).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<float> nan_query(128, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(index->Search(1, nan_query.data(), 1, dist.data(), ids.data()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(index->SearchUsers(1, m.data(), 5000, dist.data(), ids.data()).code(),
            StatusCode::kInvalidArgument);
}

TEST(TemplateIndexTest, KLargerThanSizeReturnsAllThenNoId) {
  auto index = MakeIndex({});
  const auto m = RandomMatrix(3, 128, 3);
  Reference ref{128, {}};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(index->Add(100 + i, i, std::span<const float>(m.data() + i * 128, 128)).ok());
    ref.Add(100 + i, i, m.data() + i * 128);
  }
  const auto q = RandomMatrix(1, 128, 4);
  ExpectSame(Search(*index, q.data(), 10), ref.TopK(q.data(), 10), "k > n");
}

// Exact top-k against brute force, for each storage, level and thread count.
struct Config {
  Storage storage;
  SimdLevel simd;
  int threads;
  size_t dim;
};

class ExactSearchTest : public ::testing::TestWithParam<Config> {};

TEST_P(ExactSearchTest, MatchesBruteForceForRowsAndUsers) {
  const Config c = GetParam();
  if (!SimdLevelAvailable(c.simd)) GTEST_SKIP() << "level not available here";
  IndexOptions o;
  o.dim = c.dim;
  o.storage = c.storage;
  o.simd = c.simd;
  o.threads = c.threads;
  o.parallel_min_rows = 1;  // exercise the parallel scan even on small data
  auto index = MakeIndex(o);
  constexpr size_t kN = 12000;  // several parallel chunks (at least 2048 rows each)
  const auto m = RandomUnitMatrix(kN, c.dim, 11);
  std::vector<int64_t> tids(kN), uids(kN);
  Reference ref{c.dim, {}};
  for (size_t i = 0; i < kN; ++i) {
    tids[i] = static_cast<int64_t>(kN - i) * 7;  // ids not in row order
    uids[i] = static_cast<int64_t>(i % 4000);    // several templates per user
  }
  ASSERT_TRUE(index->AddBatch(kN, m.data(), tids.data(), uids.data()).ok());
  for (size_t i = 0; i < kN; ++i) ref.Add(tids[i], uids[i], m.data() + i * c.dim);
  // Queries: random, and perturbed copies of stored rows (a clear nearest neighbour).
  auto queries = RandomUnitMatrix(6, c.dim, 12);
  for (size_t i = 0; i < c.dim; ++i) queries[i] = m[5 * c.dim + i] + 0.01f;
  for (size_t qi = 0; qi < 6; ++qi) {
    const float* q = queries.data() + qi * c.dim;
    const auto all = ref.All(q);
    for (size_t k : {1, 5, 17}) {
      const auto want = Reference::First(all, k);
      const auto got = Search(*index, q, k);
      ExpectSame(got, want, "rows", c.simd == SimdLevel::kScalar ? 0.0f : 1e-5f);
      const auto want_users = Reference::Users(all, k);
      const auto got_users = SearchUsers(*index, q, k);
      for (size_t i = 0; i < k; ++i) {
        EXPECT_EQ(got_users[i].uid, want_users[i].uid) << "user rank " << i;
        EXPECT_EQ(got_users[i].tid, want_users[i].tid) << "user rank " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, ExactSearchTest,
                         ::testing::Values(Config{Storage::kFloat32, SimdLevel::kScalar, 1, 128},
                                           Config{Storage::kFloat32, SimdLevel::kScalar, 2, 128},
                                           Config{Storage::kFloat32, SimdLevel::kAvx2, 1, 128},
                                           Config{Storage::kFloat32, SimdLevel::kAvx2, 2, 33},
                                           Config{Storage::kInt8, SimdLevel::kScalar, 1, 128},
                                           Config{Storage::kInt8, SimdLevel::kScalar, 2, 7},
                                           Config{Storage::kInt8, SimdLevel::kAvx2, 1, 128},
                                           Config{Storage::kInt8, SimdLevel::kAvx2, 2, 129}));

TEST(TemplateIndexTest, TiesGoToTheSmallerTemplateIdWhateverTheInsertionOrder) {
  for (Storage storage : {Storage::kFloat32, Storage::kInt8}) {
    for (int threads : {1, 2}) {
      IndexOptions o;
      o.dim = 16;
      o.storage = storage;
      o.threads = threads;
      o.parallel_min_rows = 1;
      auto index = MakeIndex(o);
      const auto base = RandomMatrix(1, 16, 5);
      // 30000 copies of one vector: every distance ties. Ids inserted in shuffled order.
      std::vector<int64_t> tids(30000);
      std::iota(tids.begin(), tids.end(), 1000);
      std::shuffle(tids.begin(), tids.end(), std::mt19937(6));
      std::vector<float> m;
      for (size_t i = 0; i < tids.size(); ++i) m.insert(m.end(), base.begin(), base.end());
      std::vector<int64_t> uids(tids.size());
      for (size_t i = 0; i < tids.size(); ++i) uids[i] = tids[i] / 10;
      ASSERT_TRUE(index->AddBatch(tids.size(), m.data(), tids.data(), uids.data()).ok());
      const auto q = RandomMatrix(1, 16, 7);
      const auto got = Search(*index, q.data(), 4);
      for (int i = 0; i < 4; ++i) EXPECT_EQ(got[i].tid, 1000 + i);
      for (int i = 1; i < 4; ++i) EXPECT_EQ(got[i].dist, got[0].dist);
      const auto users = SearchUsers(*index, q.data(), 3);
      EXPECT_EQ(users[0].uid, 100);
      EXPECT_EQ(users[0].tid, 1000);
      EXPECT_EQ(users[1].uid, 101);
      EXPECT_EQ(users[1].tid, 1010);
      EXPECT_EQ(users[2].uid, 102);
    }
  }
}

TEST(TemplateIndexTest, ResultsAreSortedNearestFirst) {
  auto index = MakeIndex({});
  const auto m = RandomUnitMatrix(2000, 128, 8);
  std::vector<int64_t> ids(2000);
  std::iota(ids.begin(), ids.end(), 0);
  ASSERT_TRUE(index->AddBatch(2000, m.data(), ids.data(), ids.data()).ok());
  const auto q = RandomUnitMatrix(1, 128, 9);
  const auto got = Search(*index, q.data(), 50);
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_TRUE(std::tie(got[i - 1].dist, got[i - 1].tid) < std::tie(got[i].dist, got[i].tid));
  }
}

TEST(TemplateIndexTest, RemovedTemplatesAreNeverReturned) {
  for (Storage storage : {Storage::kFloat32, Storage::kInt8}) {
    IndexOptions o;
    o.storage = storage;
    o.compact_min_dead = 1u << 30;  // no background compaction: the tombstones must work
    auto index = MakeIndex(o);
    constexpr size_t kN = 3000;
    const auto m = RandomUnitMatrix(kN, 128, 10);
    std::vector<int64_t> tids(kN), uids(kN);
    Reference ref{128, {}};
    for (size_t i = 0; i < kN; ++i) {
      tids[i] = static_cast<int64_t>(i);
      uids[i] = static_cast<int64_t>(i / 3);
      ref.Add(tids[i], uids[i], m.data() + i * 128);
    }
    ASSERT_TRUE(index->AddBatch(kN, m.data(), tids.data(), uids.data()).ok());
    // Query exactly at stored rows, then remove them: the next best must come up.
    for (size_t i = 0; i < 300; i += 10) {
      const float* q = m.data() + i * 128;
      EXPECT_EQ(Search(*index, q, 1)[0].tid, static_cast<int64_t>(i));
      ASSERT_TRUE(index->Remove(static_cast<int64_t>(i)).ok());
      ref.rows.erase(static_cast<int64_t>(i));
      ExpectSame(Search(*index, q, 5), ref.TopK(q, 5), "after remove");
      EXPECT_FALSE(index->Contains(static_cast<int64_t>(i)));
    }
    // A user removed at once.
    auto removed = index->RemoveUser(500);
    ASSERT_TRUE(removed.ok());
    EXPECT_EQ(*removed, 3u);
    for (int64_t t : {1500, 1501, 1502}) ref.rows.erase(t);
    EXPECT_EQ(*index->RemoveUser(500), 0u);
    EXPECT_EQ(index->size(), ref.rows.size());
    const float* q = m.data() + 1501 * 128;
    ExpectSame(Search(*index, q, 5), ref.TopK(q, 5), "after RemoveUser");
    ExpectSame(SearchUsers(*index, q, 4), ref.TopUsers(q, 4), "users after RemoveUser");
    // Compaction keeps the results and the id bookkeeping.
    ASSERT_TRUE(index->Compact().ok());
    EXPECT_GE(index->Stats().compactions, 1u);
    EXPECT_EQ(index->Stats().stored_rows, ref.rows.size());
    ExpectSame(Search(*index, q, 5), ref.TopK(q, 5), "after Compact");
    EXPECT_TRUE(index->Remove(1503).ok()) << "ids still found after compaction";
    EXPECT_EQ(index->Remove(0).code(), StatusCode::kNotFound);
    std::vector<float> v(128, 0.25f);
    EXPECT_TRUE(index->Add(0, 7, v).ok()) << "a removed id may come back";
  }
}

TEST(TemplateIndexTest, BackgroundCompactionRunsPastTheThreshold) {
  IndexOptions o;
  o.dim = 8;
  o.compact_min_dead = 100;
  o.compact_dead_fraction = 0.2;
  auto index = MakeIndex(o);
  const auto m = RandomMatrix(1000, 8, 13);
  std::vector<int64_t> ids(1000);
  std::iota(ids.begin(), ids.end(), 0);
  ASSERT_TRUE(index->AddBatch(1000, m.data(), ids.data(), ids.data()).ok());
  for (int64_t i = 0; i < 300; ++i) ASSERT_TRUE(index->Remove(i).ok());
  // Compaction is asynchronous; an explicit one is idempotent with it.
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_EQ(index->Stats().stored_rows, 700u);
  EXPECT_EQ(index->size(), 700u);
  EXPECT_EQ(Search(*index, m.data() + 400 * 8, 1)[0].tid, 400);
}

TEST(TemplateIndexTest, GrowsOneAtATime) {
  auto index = MakeIndex({});
  const auto m = RandomUnitMatrix(5000, 128, 14);
  for (int64_t i = 0; i < 5000; ++i) {
    ASSERT_TRUE(index->Add(i, i, std::span<const float>(m.data() + i * 128, 128)).ok());
  }
  EXPECT_EQ(index->size(), 5000u);
  EXPECT_GE(index->Stats().capacity_rows, 5000u);
  for (int64_t i : {0, 63, 64, 1023, 1024, 4999}) {
    EXPECT_EQ(Search(*index, m.data() + i * 128, 1)[0].tid, i);
  }
}

TEST(TemplateIndexTest, Int8GivesTheSameTop5AsFloat32OnRandomData) {
  for (size_t d : {1, 3, 8, 17, 64, 128, 129}) {
    IndexOptions f32;
    f32.dim = d;
    IndexOptions i8 = f32;
    i8.storage = Storage::kInt8;
    auto a = MakeIndex(f32);
    auto b = MakeIndex(i8);
    constexpr size_t kN = 8000;
    const auto m = RandomUnitMatrix(kN, d, 15 + d);
    std::vector<int64_t> ids(kN);
    std::iota(ids.begin(), ids.end(), 0);
    ASSERT_TRUE(a->AddBatch(kN, m.data(), ids.data(), ids.data()).ok());
    ASSERT_TRUE(b->AddBatch(kN, m.data(), ids.data(), ids.data()).ok());
    const auto queries = RandomUnitMatrix(20, d, 16 + d);
    for (size_t qi = 0; qi < 20; ++qi) {
      const float* q = queries.data() + qi * d;
      const auto want = Search(*a, q, 5);
      const auto got = Search(*b, q, 5);
      for (size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(got[i].tid, want[i].tid) << "d=" << d << " query " << qi << " rank " << i;
        EXPECT_EQ(got[i].dist, want[i].dist) << "re-ranked in float32 with the same kernel";
      }
    }
  }
}

TEST(TemplateIndexTest, Int8StaysExactOnNearDuplicates) {
  // Rows a hair apart quantise to the same codes: only the bound and the float32 re-rank
  // can order them.
  IndexOptions o;
  o.dim = 32;
  o.storage = Storage::kInt8;
  auto index = MakeIndex(o);
  IndexOptions of = o;
  of.storage = Storage::kFloat32;
  auto exact = MakeIndex(of);
  auto base = RandomMatrix(1, 32, 17);
  std::mt19937 rng(18);
  std::uniform_real_distribution<float> tiny(-1e-4f, 1e-4f);
  std::vector<float> m;
  for (int i = 0; i < 5000; ++i) {
    for (float v : base) m.push_back(v + tiny(rng));
  }
  std::vector<int64_t> ids(5000);
  std::iota(ids.begin(), ids.end(), 0);
  ASSERT_TRUE(index->AddBatch(5000, m.data(), ids.data(), ids.data()).ok());
  ASSERT_TRUE(exact->AddBatch(5000, m.data(), ids.data(), ids.data()).ok());
  auto q = base;
  q[0] += 1e-3f;
  const auto want = Search(*exact, q.data(), 10);
  const auto got = Search(*index, q.data(), 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i].tid, want[i].tid) << "rank " << i;
}

TEST(TemplateIndexTest, BestTwoIdentitiesSkipsTheSameUser) {
  const float dist[] = {0.1f, 0.2f, 0.3f, 0.4f};
  const int64_t tids[] = {11, 12, 13, 14};
  const int64_t uids[] = {1, 1, 2, 3};
  IdentityMatch m = BestTwoIdentities(4, dist, tids, uids);
  EXPECT_EQ(m.best_user, 1);
  EXPECT_EQ(m.best_template, 11);
  EXPECT_FLOAT_EQ(m.best_distance, 0.1f);
  EXPECT_EQ(m.second_user, 2);
  EXPECT_FLOAT_EQ(m.second_distance, 0.3f);
  m = BestTwoIdentities(2, dist, tids, uids);
  EXPECT_EQ(m.second_user, kNoId);
  EXPECT_EQ(m.second_distance, kNoDistance);
}

TEST(TemplateIndexTest, IdentifyFindsTheSecondIdentityBeyondTheTopRows) {
  // User 1 has 10 templates nearer than anyone else's: top-5 rows hold only user 1, yet the
  // margin rule needs user 2.
  IndexOptions o;
  o.dim = 4;
  auto index = MakeIndex(o);
  for (int i = 0; i < 10; ++i) {
    const float v[4] = {0.01f * i, 0, 0, 0};
    ASSERT_TRUE(index->Add(i, 1, v).ok());
  }
  const float far[4] = {1, 0, 0, 0};
  ASSERT_TRUE(index->Add(50, 2, far).ok());
  const float farther[4] = {2, 0, 0, 0};
  ASSERT_TRUE(index->Add(60, 3, farther).ok());
  const float q[4] = {0, 0, 0, 0};
  auto m = index->Identify(q);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->best_user, 1);
  EXPECT_EQ(m->best_template, 0);
  EXPECT_EQ(m->second_user, 2);
  EXPECT_FLOAT_EQ(m->second_distance, 1.0f);
}

TEST(TemplateIndexTest, ManyQueriesInOneCall) {
  auto index = MakeIndex({});
  const auto m = RandomUnitMatrix(1000, 128, 19);
  std::vector<int64_t> ids(1000);
  std::iota(ids.begin(), ids.end(), 0);
  ASSERT_TRUE(index->AddBatch(1000, m.data(), ids.data(), ids.data()).ok());
  std::vector<float> dist(3 * 1000);
  std::vector<int64_t> labels(3 * 1000);
  ASSERT_TRUE(index->Search(1000, m.data(), 3, dist.data(), labels.data()).ok());
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(labels[i * 3], i);
    EXPECT_EQ(dist[i * 3], 0.0f);
  }
}

TEST(TemplateIndexTest, QueriesSearchedTogetherGiveTheSameAsOneByOne) {
  // Up to 8 queries share one pass over the matrix; 11 makes a full group and a partial one.
  constexpr size_t kQ = 11, kK = 4, kN = 6000;
  const auto m = RandomUnitMatrix(kN, 128, 20);
  const auto queries = RandomUnitMatrix(kQ, 128, 21);
  std::vector<int64_t> ids(kN), users(kN);
  std::iota(ids.begin(), ids.end(), 0);
  for (size_t i = 0; i < kN; ++i) users[i] = static_cast<int64_t>(i / 4);
  for (Storage storage : {Storage::kFloat32, Storage::kInt8}) {
    for (int threads : {1, 2}) {
      IndexOptions o;
      o.storage = storage;
      o.threads = threads;
      o.parallel_min_rows = 1;
      auto index = MakeIndex(o);
      ASSERT_TRUE(index->AddBatch(kN, m.data(), ids.data(), users.data()).ok());
      ASSERT_TRUE(index->Remove(17).ok());  // and a tombstone
      for (bool by_user : {false, true}) {
        std::vector<float> dist(kQ * kK);
        std::vector<int64_t> tids(kQ * kK), uids(kQ * kK);
        const Status st =
            by_user
                ? index->SearchUsers(kQ, queries.data(), kK, dist.data(), uids.data(), tids.data())
                : index->Search(kQ, queries.data(), kK, dist.data(), tids.data(), uids.data());
        ASSERT_TRUE(st.ok());
        for (size_t qi = 0; qi < kQ; ++qi) {
          const auto one = Query(*index, queries.data() + qi * 128, kK, by_user);
          for (size_t i = 0; i < kK; ++i) {
            EXPECT_EQ(tids[qi * kK + i], one[i].tid) << "query " << qi << " rank " << i;
            EXPECT_EQ(uids[qi * kK + i], one[i].uid) << "query " << qi << " rank " << i;
            EXPECT_EQ(dist[qi * kK + i], one[i].dist) << "query " << qi << " rank " << i;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace facegate::index
