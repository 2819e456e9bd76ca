#include "index/aligned_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace facegate::index {
namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeMin = size_t{4} << 20;
}  // namespace

AlignedBuffer::AlignedBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  const size_t align = bytes >= kHugeMin ? kHugePage : 64;
  const size_t rounded = (bytes + align - 1) / align * align;  // aligned_alloc wants a multiple
  data_ = std::aligned_alloc(align, rounded);
  if (data_ == nullptr) throw std::bad_alloc();
  if (align == kHugePage) madvise(data_, rounded, MADV_HUGEPAGE);  // advice only: ignore errors
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

}  // namespace facegate::index
