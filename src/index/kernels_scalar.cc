// The reference kernels: plain loops, one accumulator, in index order. Every other level is
// tested against these.
#include "index/kernels.h"

namespace facegate::index::scalar {

void L2sqrRows(const float* q, const float* x, size_t d, size_t stride, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i, x += stride) {
    float sum = 0.0f;
    for (size_t j = 0; j < d; ++j) {
      const float diff = q[j] - x[j];
      sum += diff * diff;
    }
    out[i] = sum;
  }
}

void DotI8Rows(const int16_t* q, const int8_t* c, size_t d, size_t stride, size_t n, int32_t* out) {
  for (size_t i = 0; i < n; ++i, c += stride) {
    int32_t sum = 0;
    for (size_t j = 0; j < d; ++j) sum += int32_t{q[j]} * int32_t{c[j]};
    out[i] = sum;
  }
}

}  // namespace facegate::index::scalar
