#include "index/id_map.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace facegate::index {
namespace {

TEST(IdMapTest, InsertFindErase) {
  IdMap m;
  EXPECT_EQ(m.Find(5), IdMap::kAbsent);
  EXPECT_TRUE(m.Insert(5, 1));
  EXPECT_FALSE(m.Insert(5, 2)) << "duplicate keys are refused";
  EXPECT_EQ(m.Find(5), 1u);
  EXPECT_TRUE(m.Erase(5));
  EXPECT_FALSE(m.Erase(5));
  EXPECT_EQ(m.Find(5), IdMap::kAbsent);
  EXPECT_EQ(m.size(), 0u);
}

TEST(IdMapTest, AgreesWithUnorderedMapUnderRandomOperations) {
  IdMap m;
  std::unordered_map<int64_t, uint32_t> ref;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    const int64_t key = static_cast<int64_t>(rng() % 5000);  // dense: long probe runs
    const uint32_t value = static_cast<uint32_t>(i);
    switch (rng() % 3) {
      case 0:
        EXPECT_EQ(m.Insert(key, value), ref.emplace(key, value).second);
        break;
      case 1:
        EXPECT_EQ(m.Erase(key), ref.erase(key) == 1);
        break;
      default: {
        auto it = ref.find(key);
        EXPECT_EQ(m.Find(key), it == ref.end() ? IdMap::kAbsent : it->second);
      }
    }
  }
  EXPECT_EQ(m.size(), ref.size());
  for (const auto& [k, v] : ref) EXPECT_EQ(m.Find(k), v);
}

}  // namespace
}  // namespace facegate::index
