// AVX2 + FMA kernels. This is the only file built with -mavx2 -mfma (see CMakeLists.txt): it
// runs only after CpuSimdLevel() has seen both features. Keep it free of standard-library
// headers with inline code (see kernels.h).
#include <immintrin.h>

#include "index/kernels.h"

namespace facegate::index::avx2 {
namespace {

inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

// Lanes [0, r) set, for the masked load of the last r < 8 elements of a row.
inline __m256i TailMask(size_t r) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(r)), lanes);
}

}  // namespace

void L2sqrRows(const float* q, const float* x, size_t d, size_t stride, size_t n, float* out) {
  const size_t d32 = d & ~size_t{31};
  const size_t d8 = d & ~size_t{7};
  const size_t r = d - d8;
  const __m256i mask = TailMask(r);
  for (size_t i = 0; i < n; ++i, x += stride) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t j = 0;
    for (; j < d32; j += 32) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(x + j));
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q + j + 8), _mm256_loadu_ps(x + j + 8));
      const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(q + j + 16), _mm256_loadu_ps(x + j + 16));
      const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(q + j + 24), _mm256_loadu_ps(x + j + 24));
      a0 = _mm256_fmadd_ps(d0, d0, a0);
      a1 = _mm256_fmadd_ps(d1, d1, a1);
      a2 = _mm256_fmadd_ps(d2, d2, a2);
      a3 = _mm256_fmadd_ps(d3, d3, a3);
    }
    for (; j < d8; j += 8) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + j), _mm256_loadu_ps(x + j));
      a0 = _mm256_fmadd_ps(d0, d0, a0);
    }
    if (r != 0) {
      const __m256 d0 =
          _mm256_sub_ps(_mm256_maskload_ps(q + j, mask), _mm256_maskload_ps(x + j, mask));
      a1 = _mm256_fmadd_ps(d0, d0, a1);
    }
    out[i] = HorizontalSum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  }
}

namespace {

inline int32_t HorizontalSum(__m256i a) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

inline __m256i Widen(const int8_t* c) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c)));
}

// d = 128, the template size: the query stays in 8 registers across rows.
void DotI8Rows128(const int16_t* q, const int8_t* c, size_t stride, size_t n, int32_t* out) {
  __m256i qv[8];
  for (int k = 0; k < 8; ++k)
    qv[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 16 * k));
  for (size_t i = 0; i < n; ++i, c += stride) {
    __m256i a0 = _mm256_madd_epi16(qv[0], Widen(c));
    __m256i a1 = _mm256_madd_epi16(qv[1], Widen(c + 16));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(qv[2], Widen(c + 32)));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(qv[3], Widen(c + 48)));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(qv[4], Widen(c + 64)));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(qv[5], Widen(c + 80)));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(qv[6], Widen(c + 96)));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(qv[7], Widen(c + 112)));
    out[i] = HorizontalSum(_mm256_add_epi32(a0, a1));
  }
}

}  // namespace

// int16 query x int8 codes: codes widened to int16, vpmaddwd multiplies and adds pairs into
// int32 lanes. Exact: the caller bounds the sum below 2^31.
void DotI8Rows(const int16_t* q, const int8_t* c, size_t d, size_t stride, size_t n, int32_t* out) {
  if (d == 128) return DotI8Rows128(q, c, stride, n, out);
  const size_t d32 = d & ~size_t{31};
  const size_t d16 = d & ~size_t{15};
  for (size_t i = 0; i < n; ++i, c += stride) {
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    size_t j = 0;
    for (; j < d32; j += 32) {
      const __m256i c0 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j)));
      const __m256i c1 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j + 16)));
      const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + j));
      const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + j + 16));
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(q0, c0));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(q1, c1));
    }
    if (j < d16) {
      const __m256i c0 =
          _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + j)));
      const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + j));
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(q0, c0));
      j += 16;
    }
    int32_t tail = 0;
    for (; j < d; ++j) tail += int32_t{q[j]} * int32_t{c[j]};
    out[i] = HorizontalSum(_mm256_add_epi32(a0, a1)) + tail;
  }
}

}  // namespace facegate::index::avx2
