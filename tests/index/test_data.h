// Deterministic test vectors for the index tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace facegate::index::testdata {

// n * d values uniform in [-1, 1].
inline std::vector<float> RandomMatrix(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> m(n * d);
  for (float& v : m) v = u(rng);
  return m;
}

// n * d random unit vectors (the benchmark's data).
inline std::vector<float> RandomUnitMatrix(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> m(n * d);
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (size_t j = 0; j < d; ++j) {
      m[i * d + j] = g(rng);
      norm += double{m[i * d + j]} * m[i * d + j];
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t j = 0; j < d; ++j) m[i * d + j] *= inv;
  }
  return m;
}

// The reference distance, in the scalar kernel's order.
inline float L2sqr(const float* a, const float* b, size_t d) {
  float sum = 0.0f;
  for (size_t j = 0; j < d; ++j) {
    const float diff = a[j] - b[j];
    sum += diff * diff;
  }
  return sum;
}

}  // namespace facegate::index::testdata
