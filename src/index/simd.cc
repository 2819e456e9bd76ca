// CPU probe, the FACEGATE_SIMD override, and the kernel table per level.
#include <cstdlib>
#include <string_view>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#endif

#include "facegate/index/template_index.h"
#include "index/kernels.h"

namespace facegate::index {
namespace {

constexpr Kernels kScalarKernels{SimdLevel::kScalar, &scalar::L2sqrRows, &scalar::DotI8Rows};
#if defined(FACEGATE_INDEX_HAVE_AVX2)
constexpr Kernels kAvx2Kernels{SimdLevel::kAvx2, &avx2::L2sqrRows, &avx2::DotI8Rows};
#endif

SimdLevel ProbeCpu() {
  // No AVX-512 kernels yet (kAvx512 is reserved): nothing to test them on here.
#if defined(FACEGATE_INDEX_HAVE_AVX2) && __has_include(<sys/platform/x86.h>)
  // glibc's "active" bits, as the daemon's host check reads them: the CPU has the feature,
  // the kernel enabled it, and GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2 did not mask it (which
  // is how a CPU without AVX2 is shown on one that has it).
  if (CPU_FEATURE_ACTIVE(AVX2) && CPU_FEATURE_ACTIVE(FMA)) return SimdLevel::kAvx2;
#elif defined(FACEGATE_INDEX_HAVE_AVX2)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::kAvx2;
#endif
  return SimdLevel::kScalar;
}

SimdLevel ApplyEnvironment(SimdLevel cpu) {
  const char* env = std::getenv("FACEGATE_SIMD");
  if (env == nullptr) return cpu;
  const std::string_view v(env);
  SimdLevel wanted = cpu;
  if (v == "scalar") wanted = SimdLevel::kScalar;
  if (v == "avx2") wanted = SimdLevel::kAvx2;
  if (v == "avx512") wanted = SimdLevel::kAvx512;
  // The override may lower the level, never raise it past what runs here.
  return static_cast<int>(wanted) < static_cast<int>(cpu) ? wanted : cpu;
}

}  // namespace

std::string_view SimdLevelName(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAuto:
      return "auto";
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

SimdLevel CpuSimdLevel() {
  static const SimdLevel level = ProbeCpu();
  return level;
}

SimdLevel DefaultSimdLevel() {
  static const SimdLevel level = ApplyEnvironment(CpuSimdLevel());
  return level;
}

bool SimdLevelAvailable(SimdLevel level) {
  if (level == SimdLevel::kAuto) return true;
  return static_cast<int>(level) <= static_cast<int>(CpuSimdLevel());
}

const Kernels* KernelsFor(SimdLevel level) {
  if (level == SimdLevel::kAuto) level = DefaultSimdLevel();
  if (!SimdLevelAvailable(level)) return nullptr;
  switch (level) {
    case SimdLevel::kScalar:
      return &kScalarKernels;
#if defined(FACEGATE_INDEX_HAVE_AVX2)
    case SimdLevel::kAvx2:
      return &kAvx2Kernels;
#endif
    default:
      return nullptr;
  }
}

}  // namespace facegate::index
