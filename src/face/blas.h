// The BLAS under dlib's network: which library serves it, and one thread per caller.
//
// Debian's libdlib.so calls cblas_* through libblas.so.3, the system alternative (reference
// BLAS: ~150 ms per face; OpenBLAS: ~13 ms). We link OpenBLAS directly, which also puts its
// symbols ahead of the alternative's. OpenBLAS's own threads would fight our workers for the
// cores, so every call runs on the calling worker's thread.
// Thread-safety: LimitBlasThreads is idempotent and safe to call from any thread.
#pragma once

#include <string>

namespace facegate::face {

// openblas_set_num_threads(1).
void LimitBlasThreads();

// "OpenBLAS 0.3.21 ... (cblas_sgemm from /usr/lib/.../libopenblasp-r0.3.21.so)".
std::string DescribeBlas();

}  // namespace facegate::face
