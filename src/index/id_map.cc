#include "index/id_map.h"

#include <bit>

namespace facegate::index {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser: template ids are often sequential
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

size_t IdMap::Home(int64_t key) const { return Mix(static_cast<uint64_t>(key)) & mask_; }

void IdMap::Reserve(size_t n) {
  // Load factor at most 1/2.
  const size_t want = std::bit_ceil(n * 2 < 16 ? size_t{16} : n * 2);
  if (want > slots_.size()) Rehash(want);
}

void IdMap::Rehash(size_t slots) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(slots, Slot{0, kAbsent});
  mask_ = slots - 1;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.value != kAbsent) Insert(s.key, s.value);
  }
}

uint32_t IdMap::Find(int64_t key) const {
  if (slots_.empty()) return kAbsent;
  for (size_t i = Home(key);; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.value == kAbsent) return kAbsent;
    if (s.key == key) return s.value;
  }
}

bool IdMap::Insert(int64_t key, uint32_t value) {
  if ((size_ + 1) * 2 > slots_.size()) Reserve(size_ + 1 > 8 ? (size_ + 1) * 2 : 16);
  for (size_t i = Home(key);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.value == kAbsent) {
      s = Slot{key, value};
      ++size_;
      return true;
    }
    if (s.key == key) return false;
  }
}

bool IdMap::Erase(int64_t key) {
  if (slots_.empty()) return false;
  size_t i = Home(key);
  for (;; i = (i + 1) & mask_) {
    if (slots_[i].value == kAbsent) return false;
    if (slots_[i].key == key) break;
  }
  // Backward shift: move later members of the probe run into the hole when their home allows.
  size_t hole = i;
  for (size_t j = (hole + 1) & mask_; slots_[j].value != kAbsent; j = (j + 1) & mask_) {
    const size_t home = Home(slots_[j].key);
    // Movable if home is cyclically outside (hole, j].
    const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{0, kAbsent};
  --size_;
  return true;
}

void IdMap::Clear() {
  for (Slot& s : slots_) s = Slot{0, kAbsent};
  size_ = 0;
}

}  // namespace facegate::index
