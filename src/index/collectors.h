// Top-k collectors used by the scans. Not thread-safe: one per scanning thread, merged after.
//
// Order of rows: (distance, template id) ascending, so ties are broken by the smaller template
// id whatever the scan order or thread split. A user ranks by its best row in that order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace facegate::index {

inline constexpr float kInf = std::numeric_limits<float>::infinity();

struct Hit {
  float dist;
  uint32_t row;
};

// The k best rows. Push() only what passes `dist <= threshold()`; Push decides ties.
class RowTopK {
 public:
  // Keeps `heap_` storage across calls: no allocation once it has reached k.
  void Reset(size_t k, const int64_t* template_ids, const int64_t* /*user_ids*/) {
    k_ = k;
    tids_ = template_ids;
    heap_.resize(k);
    n_ = 0;
  }
  size_t k() const { return k_; }
  float threshold() const { return n_ < k_ ? kInf : heap_[0].dist; }

  void Push(float dist, uint32_t row) {
    if (k_ == 0) return;
    const Hit h{dist, row};
    if (n_ < k_) {
      heap_[n_++] = h;
      std::push_heap(heap_.begin(), heap_.begin() + n_, Less{tids_});
    } else if (Less{tids_}(h, heap_[0])) {
      std::pop_heap(heap_.begin(), heap_.begin() + n_, Less{tids_});
      heap_[n_ - 1] = h;
      std::push_heap(heap_.begin(), heap_.begin() + n_, Less{tids_});
    }
  }
  void MergeFrom(const RowTopK& other) {
    for (size_t i = 0; i < other.n_; ++i) Push(other.heap_[i].dist, other.heap_[i].row);
  }
  // Sorts nearest first; returns the count. Ends collecting.
  size_t Sort() {
    std::sort(heap_.begin(), heap_.begin() + n_, Less{tids_});
    return n_;
  }
  const Hit& operator[](size_t i) const { return heap_[i]; }

 private:
  struct Less {
    const int64_t* tids;
    bool operator()(const Hit& a, const Hit& b) const {
      return a.dist < b.dist || (a.dist == b.dist && tids[a.row] < tids[b.row]);
    }
  };
  std::vector<Hit> heap_;  // max-heap: the worst kept row at the front
  size_t k_ = 0;
  size_t n_ = 0;
  const int64_t* tids_ = nullptr;
};

// The k best distinct users, each by its best row. k is small (the API caps it at 1024): the
// entries are an unsorted array with the worst one tracked.
class UserTopK {
 public:
  void Reset(size_t k, const int64_t* template_ids, const int64_t* user_ids) {
    k_ = k;
    tids_ = template_ids;
    uids_ = user_ids;
    e_.resize(k);
    n_ = 0;
    worst_ = 0;
  }
  size_t k() const { return k_; }
  float threshold() const { return n_ < k_ ? kInf : e_[worst_].hit.dist; }

  void Push(float dist, uint32_t row) {
    if (k_ == 0) return;
    const Entry cand{{dist, row}, uids_[row]};
    for (size_t i = 0; i < n_; ++i) {
      if (e_[i].user == cand.user) {
        if (Less(cand, e_[i])) {
          e_[i] = cand;
          if (i == worst_) FindWorst();
        }
        return;
      }
    }
    if (n_ < k_) {
      e_[n_++] = cand;
      if (n_ == k_) FindWorst();
    } else if (Less(cand, e_[worst_])) {
      e_[worst_] = cand;
      FindWorst();
    }
  }
  void MergeFrom(const UserTopK& other) {
    for (size_t i = 0; i < other.n_; ++i) Push(other.e_[i].hit.dist, other.e_[i].hit.row);
  }
  size_t Sort() {
    std::sort(e_.begin(), e_.begin() + n_,
              [this](const Entry& a, const Entry& b) { return Less(a, b); });
    return n_;
  }
  const Hit& operator[](size_t i) const { return e_[i].hit; }

 private:
  struct Entry {
    Hit hit;
    int64_t user;
  };
  bool Less(const Entry& a, const Entry& b) const {
    return a.hit.dist < b.hit.dist ||
           (a.hit.dist == b.hit.dist && tids_[a.hit.row] < tids_[b.hit.row]);
  }
  void FindWorst() {
    worst_ = 0;
    for (size_t i = 1; i < n_; ++i) {
      if (Less(e_[worst_], e_[i])) worst_ = i;
    }
  }
  std::vector<Entry> e_;
  size_t k_ = 0;
  size_t n_ = 0;
  size_t worst_ = 0;
  const int64_t* tids_ = nullptr;
  const int64_t* uids_ = nullptr;
};

}  // namespace facegate::index
