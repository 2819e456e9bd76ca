// IdMap: template id -> row, an open-addressing hash table (linear probing, backward-shift
// deletion). Owned by the writer side of the index; not thread-safe. A flat table because the
// start-up load inserts a million ids and std::unordered_map allocates a node per id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace facegate::index {

class IdMap {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  void Reserve(size_t n);
  size_t size() const { return size_; }
  uint32_t Find(int64_t key) const;          // kAbsent when missing
  bool Insert(int64_t key, uint32_t value);  // false (and no change) when present
  bool Erase(int64_t key);
  void Clear();

 private:
  struct Slot {
    int64_t key;
    uint32_t value;  // kAbsent: empty slot
  };
  size_t Home(int64_t key) const;
  void Rehash(size_t slots);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace facegate::index
