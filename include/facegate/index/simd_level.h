// SimdLevel: the instruction-set level of the 1:N index's distance kernels.
// Kept apart (no includes, no inline code) so that the per-ISA kernel files can name it.
#pragma once

namespace facegate::index {

enum class SimdLevel {
  kAuto,    // the best the CPU supports, unless FACEGATE_SIMD=scalar|avx2|avx512 says lower
  kScalar,  // portable reference
  kAvx2,    // AVX2 + FMA
  kAvx512,  // AVX-512 (reserved: no kernels built yet, so never available)
};

}  // namespace facegate::index
