#include "face/blas.h"

#include <dlfcn.h>

#include <mutex>

extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
}

namespace facegate::face {

void LimitBlasThreads() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

std::string DescribeBlas() {
  std::string out = openblas_get_config();
  // The library the dynamic linker resolves dlib's cblas_sgemm references to.
  void* sym = ::dlsym(RTLD_DEFAULT, "cblas_sgemm");
  Dl_info info{};
  if (sym != nullptr && ::dladdr(sym, &info) != 0 && info.dli_fname != nullptr) {
    out += std::string(" (cblas_sgemm from ") + info.dli_fname + ")";
  } else {
    out += " (cblas_sgemm not found)";
  }
  return out;
}

}  // namespace facegate::face
