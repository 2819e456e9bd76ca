// Distance kernels of the 1:N index, one translation unit per instruction set (after faiss):
// kernels_scalar.cc is the reference, kernels_avx2.cc is the only file built with -mavx2 -mfma.
// The level is chosen once per scan (KernelsFor), never per pair.
//
// This header must stay free of inline code and templates: it is included by the AVX2 file,
// and an inline function emitted there with AVX2 instructions could be the copy the linker
// keeps for callers on CPUs without AVX2.
#pragma once

#include <cstddef>
#include <cstdint>

#include "facegate/index/simd_level.h"

namespace facegate::index {

// Rows are `stride` elements apart; kernels read exactly d elements of each row and of q.
struct Kernels {
  SimdLevel level;
  // out[i] = sum_j (q[j] - x_i[j])^2 for the n rows x_i = x + i * stride.
  void (*l2sqr_rows)(const float* q, const float* x, size_t d, size_t stride, size_t n, float* out);
  // out[i] = sum_j q[j] * c_i[j] for the n int8 rows c_i = c + i * stride, in exact integer
  // arithmetic: the caller keeps d * max|q| * 127 below 2^31, so every level gives the same.
  void (*dot_i8_rows)(const int16_t* q, const int8_t* c, size_t d, size_t stride, size_t n,
                      int32_t* out);
};

// The kernels of an available level (kAuto: DefaultSimdLevel()); null if not available.
const Kernels* KernelsFor(SimdLevel level);

// What the CPU supports, probed once (no environment override).
SimdLevel CpuSimdLevel();

namespace scalar {
void L2sqrRows(const float* q, const float* x, size_t d, size_t stride, size_t n, float* out);
void DotI8Rows(const int16_t* q, const int8_t* c, size_t d, size_t stride, size_t n, int32_t* out);
}  // namespace scalar

#if defined(FACEGATE_INDEX_HAVE_AVX2)
namespace avx2 {
void L2sqrRows(const float* q, const float* x, size_t d, size_t stride, size_t n, float* out);
void DotI8Rows(const int16_t* q, const int8_t* c, size_t d, size_t stride, size_t n, int32_t* out);
}  // namespace avx2
#endif

}  // namespace facegate::index
