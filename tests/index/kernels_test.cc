// Every SIMD level against the scalar reference, over awkward dimensions (after faiss's
// test_distances_simd): the tails (d mod 8, d mod 32) are where kernels go wrong.
#include "index/kernels.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "facegate/index/template_index.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace facegate::index {
namespace {

std::vector<SimdLevel> AvailableLevels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (SimdLevelAvailable(l)) levels.push_back(l);
  }
  return levels;
}

std::vector<size_t> Dims() {
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 257; ++d) dims.push_back(d);  // includes 1,3,7,8,9,...,255,256,257
  return dims;
}

TEST(SimdTest, ScalarIsAlwaysAvailableAndDefaultRuns) {
  EXPECT_TRUE(SimdLevelAvailable(SimdLevel::kScalar));
  EXPECT_TRUE(SimdLevelAvailable(DefaultSimdLevel()));
  EXPECT_NE(DefaultSimdLevel(), SimdLevel::kAuto);
  ASSERT_NE(KernelsFor(SimdLevel::kAuto), nullptr);
  EXPECT_EQ(KernelsFor(SimdLevel::kAuto)->level, DefaultSimdLevel());
  EXPECT_EQ(SimdLevelName(SimdLevel::kAvx2), "avx2");
}

TEST(SimdTest, ReportsWhatTheCpuHas) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    EXPECT_TRUE(SimdLevelAvailable(SimdLevel::kAvx2)) << "an AVX2 CPU must get the AVX2 kernels";
  }
#endif
  if (!SimdLevelAvailable(SimdLevel::kAvx2)) {
    EXPECT_EQ(KernelsFor(SimdLevel::kAvx2), nullptr);
  }
}

// Runs only as the child of EnvironmentLowersTheLevel (FACEGATE_SIMD is read once per process).
TEST(SimdEnvTest, ChildReportsTheDefaultLevel) {
  const char* expect = std::getenv("FACEGATE_SIMD_EXPECT");
  if (expect == nullptr) GTEST_SKIP() << "runs as a child of SimdTest.EnvironmentLowersTheLevel";
  EXPECT_EQ(SimdLevelName(DefaultSimdLevel()), expect);
  EXPECT_EQ(KernelsFor(SimdLevel::kAuto)->level, DefaultSimdLevel());
}

TEST(SimdTest, EnvironmentLowersTheLevel) {
  const SimdLevel cpu = CpuSimdLevel();
  auto capped = [&](SimdLevel l) {
    return std::string(SimdLevelName(static_cast<int>(l) < static_cast<int>(cpu) ? l : cpu));
  };
  const std::pair<std::string, std::string> cases[] = {
      {"scalar", "scalar"},
      {"avx2", capped(SimdLevel::kAvx2)},
      {"avx512", capped(SimdLevel::kAvx512)},     // never above what the CPU and the build run
      {"sse9", std::string(SimdLevelName(cpu))},  // unknown: ignored
  };
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  facegate::testing::TempDir dir;
  for (const auto& [value, expect] : cases) {
    auto run = facegate::testing::RunProcess(
        {self, "--gtest_filter=SimdEnvTest.ChildReportsTheDefaultLevel"}, dir / ("simd-" + value),
        std::chrono::seconds(60), {{"FACEGATE_SIMD", value}, {"FACEGATE_SIMD_EXPECT", expect}});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_TRUE(run->exit.has_value()) << "child timed out";
    EXPECT_EQ(run->exit->code, 0) << "FACEGATE_SIMD=" << value << "\n" << run->output;
    EXPECT_NE(run->output.find("[  PASSED  ] 1 test"), std::string::npos) << run->output;
  }
}

TEST(KernelsTest, EveryLevelMatchesScalarL2AcrossDimensions) {
  const Kernels* ref = KernelsFor(SimdLevel::kScalar);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  constexpr size_t kRows = 9;
  for (SimdLevel level : AvailableLevels()) {
    const Kernels* k = KernelsFor(level);
    ASSERT_NE(k, nullptr);
    for (size_t d : Dims()) {
      // Odd strides: rows are not aligned, and the kernel must not read past d.
      const size_t stride = d + (d % 5);
      std::vector<float> q(d), x(kRows * stride);
      for (float& v : q) v = u(rng);
      for (float& v : x) v = u(rng);
      std::vector<float> want(kRows), got(kRows);
      ref->l2sqr_rows(q.data(), x.data(), d, stride, kRows, want.data());
      k->l2sqr_rows(q.data(), x.data(), d, stride, kRows, got.data());
      for (size_t i = 0; i < kRows; ++i) {
        // All terms are >= 0, so the sum bounds every partial sum: reorderings differ by at
        // most about d ulps of it.
        const float tol = static_cast<float>(d) * 0x1p-22f * want[i] + 1e-6f;
        EXPECT_NEAR(got[i], want[i], tol) << SimdLevelName(level) << " d=" << d << " row " << i;
      }
    }
  }
}

TEST(KernelsTest, EveryLevelMatchesScalarInt8DotExactlyAcrossDimensions) {
  const Kernels* ref = KernelsFor(SimdLevel::kScalar);
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> q16(-32767, 32767);
  std::uniform_int_distribution<int> c8(-127, 127);
  constexpr size_t kRows = 7;
  for (SimdLevel level : AvailableLevels()) {
    const Kernels* k = KernelsFor(level);
    for (size_t d : Dims()) {
      const size_t stride = d + (d % 3);
      std::vector<int16_t> q(d);
      std::vector<int8_t> c(kRows * stride);
      for (int16_t& v : q) v = static_cast<int16_t>(q16(rng));
      for (int8_t& v : c) v = static_cast<int8_t>(c8(rng));
      // The extremes too: the largest products, all of one sign.
      if (d % 2 == 0) {
        for (size_t j = 0; j < d; ++j) q[j] = 32767, c[j] = 127;
      }
      std::vector<int32_t> want(kRows), got(kRows);
      ref->dot_i8_rows(q.data(), c.data(), d, stride, kRows, want.data());
      k->dot_i8_rows(q.data(), c.data(), d, stride, kRows, got.data());
      for (size_t i = 0; i < kRows; ++i) {
        EXPECT_EQ(got[i], want[i]) << SimdLevelName(level) << " d=" << d << " row " << i;
      }
    }
  }
}

TEST(KernelsTest, ZeroRowsWritesNothing) {
  for (SimdLevel level : AvailableLevels()) {
    const Kernels* k = KernelsFor(level);
    float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float out = 42.0f;
    k->l2sqr_rows(q, q, 8, 8, 0, &out);
    EXPECT_EQ(out, 42.0f);
    k->l2sqr_rows(q, q, 8, 8, 1, &out);
    EXPECT_EQ(out, 0.0f) << "identical vectors are at distance exactly 0";
  }
}

}  // namespace
}  // namespace facegate::index
