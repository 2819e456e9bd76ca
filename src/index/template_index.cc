// TemplateIndex implementation.
//
// Layout: the columns (float32 matrix, template ids, user ids, optional int8 codes and their
// per-row bounds) live in one Columns object whose rows are only ever appended. A Snapshot
// names the Columns, how many rows are published, and an immutable deletion bitmap. Writers
// (serialised by mu_) write rows past the published count, then publish a new Snapshot with one
// atomic store; a search takes the current Snapshot with one atomic load and scans it, never
// touching a lock. Growth copies into a bigger Columns (row numbers unchanged); compaction
// builds a new Columns without removed rows off the lock and swaps it in under mu_.
// Old Columns are retired, not freed, while a search may still read them: the background
// thread frees them once the writer holds the last reference, so a search never pays for
// unmapping half a gigabyte.

#include "facegate/index/template_index.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "index/aligned_buffer.h"
#include "index/collectors.h"
#include "index/id_map.h"
#include "index/kernels.h"
#include "index/scan_pool.h"

namespace facegate::index {
namespace {

constexpr size_t kBlockRows = 64;  // rows per kernel call: the block stays in L1 for a query group
constexpr size_t kChunkRows = 16384;  // rows per work item of a parallel bulk load
// A parallel scan cuts its rows into about 4 chunks per thread (so a thread that started late
// or was preempted does not hold everyone up), each between these sizes.
constexpr size_t kMinScanChunk = 2048;
constexpr size_t kMaxScanChunk = 65536;
constexpr size_t kMaxUserK = 1024;
// Below this many rows one thread scans alone; measured with BM_Cutover (docs/BENCHMARKS.md).
// On the 2-core development VM a second thread paid off for int8 scans from ~300k rows and
// was a toss-up for float32 ones (memory-bound: two threads do not stream much faster there);
// below ~100k it lost time in every run (a helper preempted mid-chunk makes the caller wait).
constexpr size_t kDefaultParallelMinRows = 262144;

// Per-row data of the int8 copy: x ~= scale * code, and how far off that can be.
struct CodeInfo {
  float scale;    // max |x_j| / 127
  float err_inf;  // max_j |x_j - scale * code_j|, rounded up
  float err_l2;   // || x - scale * code ||, rounded up
  float norm2;    // ||x||^2
};

size_t RoundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }

// No NaN or infinity among v[0..n). Branch-free on the bits, so the compiler vectorises it.
bool AllFinite(const float* v, size_t n) {
  uint32_t bad = 0;
  for (size_t j = 0; j < n; ++j) {
    uint32_t bits;
    std::memcpy(&bits, v + j, sizeof bits);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

class Columns {
 public:
  Columns(size_t dim, size_t capacity, bool int8)
      : dim_(dim),
        stride_(RoundUp(dim, 16)),
        code_stride_(RoundUp(dim, 64)),
        capacity_(capacity),
        vectors_(capacity * stride_ * sizeof(float)),
        tids_(capacity * sizeof(int64_t)),
        uids_(capacity * sizeof(int64_t)),
        codes_(int8 ? capacity * code_stride_ : 0),
        info_(int8 ? capacity * sizeof(CodeInfo) : 0) {}

  size_t dim() const { return dim_; }
  size_t stride() const { return stride_; }
  size_t code_stride() const { return code_stride_; }
  size_t capacity() const { return capacity_; }
  bool int8() const { return codes_.bytes() != 0; }

  const float* vectors() const { return vectors_.as<float>(); }
  const int64_t* tids() const { return tids_.as<int64_t>(); }
  const int64_t* uids() const { return uids_.as<int64_t>(); }
  const int8_t* codes() const { return codes_.as<int8_t>(); }
  const CodeInfo* info() const { return info_.as<CodeInfo>(); }

  // Writes row i (which no published snapshot covers yet).
  void WriteRow(size_t i, int64_t tid, int64_t uid, const float* x) {
    float* row = vectors_.as<float>() + i * stride_;
    std::memcpy(row, x, dim_ * sizeof(float));
    std::fill(row + dim_, row + stride_, 0.0f);
    tids_.as<int64_t>()[i] = tid;
    uids_.as<int64_t>()[i] = uid;
    if (int8()) Quantize(x, codes_.as<int8_t>() + i * code_stride_, &info_.as<CodeInfo>()[i]);
  }

  // Copies row `from` of `src` (same dim and kind) to row i.
  void CopyRow(size_t i, const Columns& src, size_t from) {
    std::memcpy(vectors_.as<float>() + i * stride_, src.vectors() + from * stride_,
                stride_ * sizeof(float));
    tids_.as<int64_t>()[i] = src.tids()[from];
    uids_.as<int64_t>()[i] = src.uids()[from];
    if (int8()) {
      std::memcpy(codes_.as<int8_t>() + i * code_stride_, src.codes() + from * code_stride_,
                  code_stride_);
      info_.as<CodeInfo>()[i] = src.info()[from];
    }
  }

  void CopyRows(size_t n, const Columns& src) {  // rows [0, n), same row numbers
    std::memcpy(vectors_.as<float>(), src.vectors(), n * stride_ * sizeof(float));
    std::memcpy(tids_.as<int64_t>(), src.tids(), n * sizeof(int64_t));
    std::memcpy(uids_.as<int64_t>(), src.uids(), n * sizeof(int64_t));
    if (int8()) {
      std::memcpy(codes_.as<int8_t>(), src.codes(), n * code_stride_);
      std::memcpy(info_.as<CodeInfo>(), src.info(), n * sizeof(CodeInfo));
    }
  }

 private:
  void Quantize(const float* x, int8_t* code, CodeInfo* info) const {
    float max_abs = 0.0f;
    double norm2 = 0.0;
    for (size_t j = 0; j < dim_; ++j) {
      max_abs = std::max(max_abs, std::fabs(x[j]));
      norm2 += static_cast<double>(x[j]) * x[j];
    }
    const float scale = max_abs / 127.0f;
    const float inv = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
    double err_inf = 0.0, err_sq = 0.0;
    // Any rounding of x/scale will do (the residues below are exact); this one needs no libm.
    for (size_t j = 0; j < dim_; ++j) {
      const float v = x[j] * inv;
      const int c = std::clamp(static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f)), -127, 127);
      code[j] = static_cast<int8_t>(c);
      const double e = static_cast<double>(x[j]) - static_cast<double>(scale) * c;
      err_inf = std::max(err_inf, std::fabs(e));
      err_sq += e * e;
    }
    std::fill(code + dim_, code + code_stride_, int8_t{0});
    auto up = [](double v) {  // a float >= v
      const float f = static_cast<float>(v);
      return static_cast<double>(f) >= v ? f : std::nextafter(f, kInf);
    };
    *info = CodeInfo{scale, up(err_inf), up(std::sqrt(err_sq)), static_cast<float>(norm2)};
  }

  size_t dim_, stride_, code_stride_, capacity_;
  AlignedBuffer vectors_, tids_, uids_, codes_, info_;
};

// Removed rows; immutable once published. Rows past the bitmap's end are live.
struct DeadRows {
  std::vector<uint64_t> words;
  bool Test(size_t row) const {
    const size_t w = row >> 6;
    return w < words.size() && ((words[w] >> (row & 63)) & 1) != 0;
  }
};

struct Snapshot {
  std::shared_ptr<const Columns> columns;
  size_t rows = 0;  // published rows [0, rows)
  size_t live = 0;
  std::shared_ptr<const DeadRows> dead;  // null: none removed
  // Intrusive count: 1 for the index while it is current or awaiting its grace period, plus
  // one per search holding it. (Not std::atomic<std::shared_ptr>: libstdc++ 12 guards it with
  // a lock bit ThreadSanitizer cannot see, and the test runner runs this code under TSan.)
  mutable std::atomic<int64_t> refs{1};
};

void Unref(const Snapshot* s) {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete s;
}

// A search's hold on a snapshot.
class SnapshotRef {
 public:
  explicit SnapshotRef(const Snapshot* s) : s_(s) {}
  ~SnapshotRef() {
    if (s_ != nullptr) Unref(s_);
  }
  SnapshotRef(SnapshotRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  SnapshotRef(const SnapshotRef&) = delete;
  SnapshotRef& operator=(const SnapshotRef&) = delete;
  SnapshotRef& operator=(SnapshotRef&&) = delete;
  const Snapshot& operator*() const { return *s_; }
  const Snapshot* operator->() const { return s_; }

 private:
  const Snapshot* s_;
};

// Per search thread, reused across searches so that a search allocates nothing once grown.
// Queries searched together in one pass over the matrix: each block of kBlockRows rows is
// read from memory once and scanned for every query of the group while it sits in L2
// (float32 block: 128 KB). Per-query results are the same as one query at a time, bit for bit.
constexpr size_t kMaxGroup = 8;

// One scan thread's state for one query of a group.
struct QueryScratch {
  RowTopK rows;
  UserTopK users;
  std::vector<Hit> candidates;  // int8 scan: (lower bound, row)
  size_t candidate_limit = 1024;
};
struct SlotScratch {
  QueryScratch q[kMaxGroup];
};
struct Scratch {
  std::vector<SlotScratch> slots;
  std::vector<int16_t> query_codes[kMaxGroup];
  RowTopK rows[kMaxGroup];
  UserTopK users[kMaxGroup];
};
thread_local Scratch tls_scratch;

// One query as the int8 scan sees it: q ~= qscale * code (int16), and the facts its bound needs.
struct QueryCode {
  const int16_t* code;
  float qscale;  // max |q_j| / qmax
  float norm2;   // ||q||^2
  float norm1;   // sum |q_j|
  float norm;    // ||q||
  float err1;    // sum |q_j - qscale * code_j|, rounded up
};

class TemplateIndexImpl final : public TemplateIndex {
 public:
  TemplateIndexImpl(const IndexOptions& options, const Kernels* kernels, int threads)
      : options_(options),
        kernels_(kernels),
        threads_(threads),
        parallel_min_rows_(options.parallel_min_rows != 0 ? options.parallel_min_rows
                                                          : kDefaultParallelMinRows),
        pool_(threads - 1) {
    cols_ = std::make_shared<Columns>(options.dim, std::max<size_t>(options.initial_capacity, 64),
                                      options.storage == Storage::kInt8);
    if (options.initial_capacity != 0) ids_.Reserve(options.initial_capacity);
    PublishLocked();
    maintenance_ = std::thread([this] { MaintenanceLoop(); });
  }

  ~TemplateIndexImpl() override {
    {
      std::lock_guard lock(bg_mu_);
      stop_ = true;
    }
    bg_cv_.notify_all();
    maintenance_.join();
    // No search may run any more (the caller destroys the index): drop every reference.
    for (const Snapshot* s : replaced_) Unref(s);
    Unref(current_.load());
  }

  size_t dim() const override { return options_.dim; }
  size_t size() const override { return Current()->live; }

  bool Contains(int64_t template_id) const override {
    std::lock_guard lock(mu_);
    return ids_.Find(template_id) != IdMap::kAbsent;
  }

  IndexStats Stats() const override {
    IndexStats s;
    const auto snap = Current();
    s.live_rows = snap->live;
    s.stored_rows = snap->rows;
    s.capacity_rows = snap->columns->capacity();
    s.bytes_per_scan = snap->rows * (options_.storage == Storage::kInt8
                                         ? snap->columns->code_stride() + sizeof(CodeInfo)
                                         : snap->columns->stride() * sizeof(float));
    s.compactions = compactions_.load(std::memory_order_relaxed);
    s.simd = kernels_->level;
    s.threads = threads_;
    s.parallel_min_rows = parallel_min_rows_;
    return s;
  }

  Status Add(int64_t template_id, int64_t user_id, std::span<const float> vector) override {
    if (vector.size() != options_.dim) {
      return Status::InvalidArgument("template has " + std::to_string(vector.size()) +
                                     " values, the index expects " + std::to_string(options_.dim));
    }
    return AddBatch(1, vector.data(), &template_id, &user_id);
  }

  Status AddBatch(size_t n, const float* vectors, const int64_t* template_ids,
                  const int64_t* user_ids) override {
    if (n == 0) return Status::Ok();
    if (vectors == nullptr || template_ids == nullptr || user_ids == nullptr) {
      return Status::InvalidArgument("AddBatch: null input");
    }
    const size_t d = options_.dim;
    // Validate everything first (all or none), on every scan thread for a big batch.
    std::atomic<size_t> first_bad{n};
    auto check = [&](size_t chunk, int /*slot*/) {
      const size_t end = std::min(n, (chunk + 1) * kChunkRows);
      for (size_t i = chunk * kChunkRows; i < end; ++i) {
        if (template_ids[i] < 0 || !AllFinite(vectors + i * d, d)) {
          size_t cur = first_bad.load();
          while (i < cur && !first_bad.compare_exchange_weak(cur, i)) {
          }
          return;
        }
      }
    };
    RunChunks((n + kChunkRows - 1) / kChunkRows, check);
    if (const size_t bad = first_bad.load(); bad < n) {
      return Status::InvalidArgument(
          template_ids[bad] < 0
              ? "negative template id " + std::to_string(template_ids[bad])
              : "template " + std::to_string(template_ids[bad]) + " has a non-finite value");
    }
    std::lock_guard lock(mu_);
    if (rows_ + n > IdMap::kAbsent - 1) return Status::ResourceExhausted("index is full");
    ids_.Reserve(ids_.size() + n);
    for (size_t i = 0; i < n; ++i) {
      if (!ids_.Insert(template_ids[i], static_cast<uint32_t>(rows_ + i))) {
        for (size_t u = 0; u < i; ++u) ids_.Erase(template_ids[u]);  // all or none
        return Status::AlreadyExists("template id " + std::to_string(template_ids[i]) +
                                     " is already in the index");
      }
    }
    try {
      EnsureCapacityLocked(rows_ + n);
    } catch (const std::bad_alloc&) {
      for (size_t i = 0; i < n; ++i) ids_.Erase(template_ids[i]);
      return Status::ResourceExhausted("out of memory growing the index to " +
                                       std::to_string(rows_ + n) + " rows");
    }
    WriteRowsLocked(n, vectors, template_ids, user_ids);
    rows_ += n;
    live_ += n;
    PublishLocked();
    return Status::Ok();
  }

  Status Remove(int64_t template_id) override {
    std::lock_guard lock(mu_);
    const uint32_t row = ids_.Find(template_id);
    if (row == IdMap::kAbsent) {
      return Status::NotFound("template id " + std::to_string(template_id) +
                              " is not in the index");
    }
    ids_.Erase(template_id);
    auto dead = CopyDeadLocked();
    dead->words[row >> 6] |= uint64_t{1} << (row & 63);
    dead_ = std::move(dead);
    --live_;
    PublishLocked();
    return Status::Ok();
  }

  Result<size_t> RemoveUser(int64_t user_id) override {
    std::lock_guard lock(mu_);
    std::shared_ptr<DeadRows> dead;
    size_t removed = 0;
    const int64_t* uids = cols_->uids();
    const int64_t* tids = cols_->tids();
    for (size_t row = 0; row < rows_; ++row) {
      if (uids[row] != user_id || (dead_ && dead_->Test(row))) continue;
      if (!dead) dead = CopyDeadLocked();
      dead->words[row >> 6] |= uint64_t{1} << (row & 63);
      ids_.Erase(tids[row]);
      ++removed;
    }
    if (removed == 0) return size_t{0};
    dead_ = std::move(dead);
    live_ -= removed;
    PublishLocked();
    return removed;
  }

  Status Search(size_t n_queries, const float* queries, size_t k, float* distances,
                int64_t* template_ids, int64_t* user_ids) const override {
    return SearchImpl(false, n_queries, queries, k, distances, template_ids, user_ids);
  }

  Status SearchUsers(size_t n_queries, const float* queries, size_t k, float* distances,
                     int64_t* user_ids, int64_t* template_ids) const override {
    if (k > kMaxUserK) {
      return Status::InvalidArgument("SearchUsers: k is at most " + std::to_string(kMaxUserK));
    }
    return SearchImpl(true, n_queries, queries, k, distances, template_ids, user_ids);
  }

  Status Compact() override { return CompactNow(); }

 private:
  // Takes a reference to the current snapshot without a lock. The window between loading the
  // pointer and counting the reference is covered by `readers_`: a writer hands back the
  // index's reference to a replaced snapshot only once it has seen readers_ == 0 after the
  // swap, so no search can be between the two steps on it (seq_cst on both sides: Dekker).
  SnapshotRef Current() const {
    readers_.fetch_add(1, std::memory_order_seq_cst);
    const Snapshot* s = current_.load(std::memory_order_seq_cst);
    s->refs.fetch_add(1, std::memory_order_relaxed);
    readers_.fetch_sub(1, std::memory_order_release);
    return SnapshotRef(s);
  }

  // Releases the index's reference to replaced snapshots once no search can be acquiring them.
  void ReclaimLocked() {
    if (replaced_.empty() || readers_.load(std::memory_order_seq_cst) != 0) return;
    for (const Snapshot* s : replaced_) Unref(s);
    replaced_.clear();
  }

  // ---- writers (mu_ held) ----

  void PublishLocked() {
    auto* snap = new Snapshot;
    snap->columns = cols_;
    snap->rows = rows_;
    snap->live = live_;
    snap->dead = dead_;
    const Snapshot* old = current_.exchange(snap, std::memory_order_seq_cst);
    if (old != nullptr) replaced_.push_back(old);
    ReclaimLocked();
    ReleaseRetiredLocked();
    const size_t removed = rows_ - live_;
    if ((removed >= options_.compact_min_dead &&
         static_cast<double>(removed) >= options_.compact_dead_fraction * rows_) ||
        !retired_.empty() || !replaced_.empty()) {
      {
        std::lock_guard lock(bg_mu_);
        bg_work_ = true;
      }
      bg_cv_.notify_one();
    }
  }

  void ReleaseRetiredLocked() {
    // use_count() == 1: no snapshot names it any more and none can start to.
    std::erase_if(retired_,
                  [](const std::shared_ptr<const Columns>& c) { return c.use_count() == 1; });
  }

  std::shared_ptr<DeadRows> CopyDeadLocked() const {
    auto dead = std::make_shared<DeadRows>();
    if (dead_) dead->words = dead_->words;
    dead->words.resize((rows_ + 63) / 64, 0);
    return dead;
  }

  void EnsureCapacityLocked(size_t rows) {
    if (rows <= cols_->capacity()) return;
    // Double (so appends stay amortised O(1)); a first bulk load gets what it asks for.
    const size_t cap = rows_ == 0 ? rows : std::max(rows, cols_->capacity() * 2);
    auto bigger = std::make_shared<Columns>(options_.dim, cap, options_.storage == Storage::kInt8);
    bigger->CopyRows(rows_, *cols_);
    retired_.push_back(std::move(cols_));
    cols_ = std::move(bigger);
  }

  void WriteRowsLocked(size_t n, const float* vectors, const int64_t* tids, const int64_t* uids) {
    Columns& cols = *cols_;
    const size_t base = rows_;
    const size_t d = options_.dim;
    auto body = [&](size_t chunk, int /*slot*/) {
      const size_t begin = chunk * kChunkRows;
      const size_t end = std::min(n, begin + kChunkRows);
      for (size_t i = begin; i < end; ++i)
        cols.WriteRow(base + i, tids[i], uids[i], vectors + i * d);
    };
    RunChunks((n + kChunkRows - 1) / kChunkRows, body);
  }

  template <typename Body>
  void RunChunks(size_t chunks, Body& body) const {
    if (chunks > 1) {
      pool_.Run(chunks, body);
    } else if (chunks == 1) {
      body(0, 0);
    }
  }

  // ---- compaction ----

  Status CompactNow() {
    std::lock_guard compact_lock(compact_mu_);  // one compaction at a time
    std::optional<SnapshotRef> held;
    {
      std::lock_guard lock(mu_);
      held.emplace(Current());
    }
    const Snapshot* snap = &**held;
    if (!snap->dead) return Status::Ok();
    // Off the lock: copy the rows live in `snap`, remembering where each went.
    const Columns& old = *snap->columns;
    const size_t headroom = std::max<size_t>(snap->live / 8, 1024);
    std::shared_ptr<Columns> fresh;
    std::vector<uint32_t> new_row(snap->rows, IdMap::kAbsent);
    IdMap ids;
    try {
      fresh = std::make_shared<Columns>(options_.dim, snap->live + headroom,
                                        options_.storage == Storage::kInt8);
      ids.Reserve(snap->live + headroom);
    } catch (const std::bad_alloc&) {
      return Status::ResourceExhausted("out of memory compacting the index");
    }
    size_t n = 0;
    for (size_t row = 0; row < snap->rows; ++row) {
      if (snap->dead->Test(row)) continue;
      fresh->CopyRow(n, old, row);
      ids.Insert(old.tids()[row], static_cast<uint32_t>(n));
      new_row[row] = static_cast<uint32_t>(n++);
    }
    // Under the lock: replay what writers did meanwhile (appends, removals), then swap.
    std::lock_guard lock(mu_);
    const Columns& cur = *cols_;  // same row numbers as snap's columns, maybe regrown
    const size_t appended = rows_ - snap->rows;
    if (n + appended > fresh->capacity()) {
      auto bigger = std::make_shared<Columns>(options_.dim, n + appended + headroom,
                                              options_.storage == Storage::kInt8);
      bigger->CopyRows(n, *fresh);
      fresh = std::move(bigger);
    }
    std::vector<uint32_t> removed_since;  // rows in the new numbering
    if (dead_ != snap->dead) {
      const size_t words = (snap->rows + 63) / 64;
      for (size_t w = 0; w < words; ++w) {
        const uint64_t before = w < snap->dead->words.size() ? snap->dead->words[w] : 0;
        const uint64_t now = w < dead_->words.size() ? dead_->words[w] : 0;
        for (uint64_t bits = now & ~before; bits != 0; bits &= bits - 1) {
          const size_t row = w * 64 + static_cast<size_t>(std::countr_zero(bits));
          if (row < snap->rows) removed_since.push_back(new_row[row]);
        }
      }
    }
    for (size_t row = snap->rows; row < rows_; ++row) {
      if (dead_ && dead_->Test(row)) continue;
      fresh->CopyRow(n, cur, row);
      ids.Insert(cur.tids()[row], static_cast<uint32_t>(n++));
    }
    std::shared_ptr<DeadRows> dead;
    if (!removed_since.empty()) {
      dead = std::make_shared<DeadRows>();
      dead->words.assign((n + 63) / 64, 0);
      for (uint32_t r : removed_since) {
        dead->words[r >> 6] |= uint64_t{1} << (r & 63);
        ids.Erase(fresh->tids()[r]);
      }
    }
    retired_.push_back(std::move(cols_));
    cols_ = std::move(fresh);
    ids_ = std::move(ids);
    dead_ = std::move(dead);
    rows_ = n;
    compactions_.fetch_add(1, std::memory_order_relaxed);
    PublishLocked();
    return Status::Ok();
  }

  void MaintenanceLoop() {
    std::unique_lock lock(bg_mu_);
    while (!stop_) {
      bg_cv_.wait(lock, [&] { return stop_ || bg_work_; });
      if (stop_) return;
      bg_work_ = false;
      lock.unlock();
      bool compact = false, retired_left = false;
      {
        std::lock_guard wl(mu_);
        const size_t removed = rows_ - live_;
        compact = removed >= options_.compact_min_dead &&
                  static_cast<double>(removed) >= options_.compact_dead_fraction * rows_;
      }
      if (compact) (void)CompactNow();
      {
        std::lock_guard wl(mu_);
        ReclaimLocked();
        ReleaseRetiredLocked();
        retired_left = !retired_.empty() || !replaced_.empty();
      }
      lock.lock();
      // A search still holds an old matrix: look again shortly (it lasts one scan).
      if (retired_left && !stop_) {
        bg_cv_.wait_for(lock, std::chrono::milliseconds(10), [&] { return stop_; });
        bg_work_ = true;
      }
    }
  }

  // ---- search ----

  Status SearchImpl(bool by_user, size_t nq, const float* queries, size_t k, float* distances,
                    int64_t* tids_out, int64_t* uids_out) const {
    if (nq == 0 || k == 0) return Status::Ok();
    if (queries == nullptr || distances == nullptr || (by_user ? uids_out : tids_out) == nullptr) {
      return Status::InvalidArgument("Search: null buffer");
    }
    const size_t d = options_.dim;
    if (!AllFinite(queries, nq * d)) {
      return Status::InvalidArgument("query has a non-finite value");
    }
    const SnapshotRef snap = Current();
    const Columns& cols = *snap->columns;
    Scratch& scratch = tls_scratch;
    if (scratch.slots.size() < static_cast<size_t>(threads_)) scratch.slots.resize(threads_);
    const size_t k_eff = std::min(k, snap->live);
    for (size_t first = 0; first < nq; first += kMaxGroup) {
      const size_t group = std::min(kMaxGroup, nq - first);
      const float* qs[kMaxGroup];
      for (size_t g = 0; g < group; ++g) qs[g] = queries + (first + g) * d;
      size_t found[kMaxGroup] = {};
      auto emit = [&](auto* tops) {
        for (size_t g = 0; g < group; ++g) {
          found[g] = tops[g].Sort();
          const size_t at = (first + g) * k;
          for (size_t i = 0; i < found[g]; ++i) {
            distances[at + i] = tops[g][i].dist;
            if (tids_out != nullptr) tids_out[at + i] = cols.tids()[tops[g][i].row];
            if (uids_out != nullptr) uids_out[at + i] = cols.uids()[tops[g][i].row];
          }
        }
      };
      if (k_eff > 0 && by_user) {
        SearchGroup(*snap, qs, group, k_eff, scratch.users, &QueryScratch::users, scratch);
        emit(scratch.users);
      } else if (k_eff > 0) {
        SearchGroup(*snap, qs, group, k_eff, scratch.rows, &QueryScratch::rows, scratch);
        emit(scratch.rows);
      }
      for (size_t g = 0; g < group; ++g) {
        const size_t at = (first + g) * k;
        for (size_t i = found[g]; i < k; ++i) {
          distances[at + i] = kNoDistance;
          if (tids_out != nullptr) tids_out[at + i] = kNoId;
          if (uids_out != nullptr) uids_out[at + i] = kNoId;
        }
      }
    }
    return Status::Ok();
  }

  // The k best for each query of a group into results[g]. The kernel level was fixed at
  // Create: the choice is one pointer per scan, the indirect call one per block and query.
  template <typename Collector>
  void SearchGroup(const Snapshot& snap, const float* const* qs, size_t group, size_t k,
                   Collector* results, Collector QueryScratch::*member, Scratch& scratch) const {
    const Columns& cols = *snap.columns;
    for (size_t g = 0; g < group; ++g) results[g].Reset(k, cols.tids(), cols.uids());
    const size_t rows = snap.rows;
    const bool parallel = pool_.helpers() > 0 && rows >= parallel_min_rows_;
    const size_t chunk_rows = RoundUp(
        std::clamp(rows / (4 * static_cast<size_t>(threads_)), kMinScanChunk, kMaxScanChunk),
        kBlockRows);
    const size_t chunks = parallel ? (rows + chunk_rows - 1) / chunk_rows : 1;
    const size_t slots = parallel ? static_cast<size_t>(threads_) : 1;
    auto range_begin = [&](size_t chunk) { return parallel ? chunk * chunk_rows : 0; };
    auto range_end = [&](size_t chunk) {
      return parallel ? std::min(rows, (chunk + 1) * chunk_rows) : rows;
    };
    // The collectors scan thread `slot` fills: the results themselves when scanning alone.
    auto tops = [&](size_t slot, size_t g) -> Collector& {
      return parallel ? scratch.slots[slot].q[g].*member : results[g];
    };
    if (parallel) {
      for (size_t s = 0; s < slots; ++s) {
        for (size_t g = 0; g < group; ++g) tops(s, g).Reset(k, cols.tids(), cols.uids());
      }
    }

    if (options_.storage == Storage::kFloat32) {
      auto body = [&](size_t chunk, int slot) {
        ScanFloat(snap, qs, group, range_begin(chunk), range_end(chunk),
                  [&](size_t g) -> Collector& { return tops(static_cast<size_t>(slot), g); });
      };
      if (!parallel) {
        body(0, 0);
        return;
      }
      pool_.Run(chunks, body);
      for (size_t g = 0; g < group; ++g) {
        for (size_t s = 0; s < slots; ++s) results[g].MergeFrom(tops(s, g));
      }
      return;
    }

    // int8: each thread keeps the k best UPPER bounds and every row whose LOWER bound does not
    // exceed the k-th best upper bound seen so far; the true k best are all among those. The
    // upper-bound collectors are the per-slot ones (slot 0's also when scanning alone).
    QueryCode qc[kMaxGroup];
    for (size_t g = 0; g < group; ++g) qc[g] = EncodeQuery(qs[g], scratch.query_codes[g]);
    for (size_t s = 0; s < slots; ++s) {
      for (size_t g = 0; g < group; ++g) {
        QueryScratch& qsc = scratch.slots[s].q[g];
        (qsc.*member).Reset(k, cols.tids(), cols.uids());
        qsc.candidates.clear();
      }
    }
    auto body = [&](size_t chunk, int slot) {
      ScanInt8(snap, qc, group, range_begin(chunk), range_end(chunk), scratch.slots[slot], member);
    };
    if (parallel) {
      pool_.Run(chunks, body);
    } else {
      body(0, 0);
    }
    const size_t stride = cols.stride();
    for (size_t g = 0; g < group; ++g) {
      Collector& upper = scratch.slots[0].q[g].*member;
      for (size_t s = 1; s < slots; ++s) upper.MergeFrom(scratch.slots[s].q[g].*member);
      const float bound = upper.threshold();
      // Exact float32 re-rank of the survivors, with the same kernel a float32 scan uses.
      for (size_t s = 0; s < slots; ++s) {
        for (const Hit& c : scratch.slots[s].q[g].candidates) {
          if (c.dist > bound) continue;
          float dist;
          kernels_->l2sqr_rows(qs[g], cols.vectors() + size_t{c.row} * stride, options_.dim, stride,
                               1, &dist);
          if (dist <= results[g].threshold()) results[g].Push(dist, c.row);
        }
      }
    }
  }

  template <typename TopFor>
  void ScanFloat(const Snapshot& snap, const float* const* qs, size_t group, size_t begin,
                 size_t end, TopFor&& top_for) const {
    const Columns& cols = *snap.columns;
    const size_t stride = cols.stride();
    const DeadRows* dead = snap.dead.get();
    alignas(64) float dist[kBlockRows];
    for (size_t b = begin; b < end; b += kBlockRows) {
      const size_t m = std::min(kBlockRows, end - b);
      for (size_t g = 0; g < group; ++g) {
        auto& top = top_for(g);
        kernels_->l2sqr_rows(qs[g], cols.vectors() + b * stride, options_.dim, stride, m, dist);
        float threshold = top.threshold();
        for (size_t i = 0; i < m; ++i) {
          if (dist[i] > threshold) continue;
          const size_t row = b + i;
          if (dead != nullptr && dead->Test(row)) continue;
          top.Push(dist[i], static_cast<uint32_t>(row));
          threshold = top.threshold();
        }
      }
    }
  }

  // Rounds the query to int16 codes, as large as the exact int32 dot product allows.
  QueryCode EncodeQuery(const float* q, std::vector<int16_t>& code) const {
    const size_t d = options_.dim;
    code.resize(d);
    double n2 = 0.0, n1 = 0.0;
    float max_abs = 0.0f;
    for (size_t j = 0; j < d; ++j) {
      n2 += static_cast<double>(q[j]) * q[j];
      n1 += std::fabs(static_cast<double>(q[j]));
      max_abs = std::max(max_abs, std::fabs(q[j]));
    }
    // |sum code_j * c_j| <= d * qmax * 127 must stay below 2^31.
    const double qmax = std::min(32767.0, std::floor(2147483647.0 / (127.0 * double(d))));
    const float qscale = max_abs > 0.0f ? static_cast<float>(max_abs / qmax) : 0.0f;
    double err1 = 0.0;
    for (size_t j = 0; j < d; ++j) {
      double c = qscale > 0.0f ? std::nearbyint(q[j] / qscale) : 0.0;
      c = std::clamp(c, -qmax, qmax);
      code[j] = static_cast<int16_t>(c);
      err1 += std::fabs(static_cast<double>(q[j]) - static_cast<double>(qscale) * c);
    }
    const float err1f = static_cast<float>(err1);
    return QueryCode{code.data(),
                     qscale,
                     static_cast<float>(n2),
                     static_cast<float>(n1),
                     static_cast<float>(std::sqrt(n2)),
                     static_cast<double>(err1f) >= err1 ? err1f : std::nextafter(err1f, kInf)};
  }

  // The int8 bound. With x = s*c + e (e the rounding residue of row x) and q = t*b + f (t the
  // query's scale, b its int16 code, f its residue):
  //   ||q-x||^2 = ||q||^2 + ||x||^2 - 2 s t <b,c> - 2 s <f,c> - 2 <q,e>,
  //   |<q,e>| <= min(||q||_1 max|e_j|, ||q|| ||e||)   (Hoelder, Cauchy-Schwarz),
  //   |<f,c>| <= 127 ||f||_1,
  // and <b,c> is computed exactly in integers. `slack` covers float rounding, in this formula
  // and in the float32 distance the candidates are re-ranked with: a sum of d terms is off by
  // at most about d*2^-24 of its magnitude, and slack allows 4x that plus 16 terms' worth.
  template <typename Collector>
  void ScanInt8(const Snapshot& snap, const QueryCode* qcs, size_t group, size_t begin, size_t end,
                SlotScratch& slot, Collector QueryScratch::*member) const {
    const Columns& cols = *snap.columns;
    const size_t cstride = cols.code_stride();
    const CodeInfo* info = cols.info();
    const DeadRows* dead = snap.dead.get();
    const float rel = static_cast<float>(options_.dim + 16) * 0x1p-22f;
    alignas(64) int32_t dot[kBlockRows];
    alignas(64) float mid[kBlockRows];
    alignas(64) float half[kBlockRows];
    for (size_t b = begin; b < end; b += kBlockRows) {
      const size_t m = std::min(kBlockRows, end - b);
      for (size_t g = 0; g < group; ++g) {
        const QueryCode& qc = qcs[g];
        QueryScratch& qs = slot.q[g];
        Collector& upper = qs.*member;
        std::vector<Hit>& cand = qs.candidates;
        const float query_err = 254.0f * qc.err1 + rel * 127.0f * qc.norm1;
        const float rel_q = rel * qc.norm2;
        kernels_->dot_i8_rows(qc.code, cols.codes() + b * cstride, options_.dim, cstride, m, dot);
        for (size_t i = 0; i < m; ++i) {  // branch-free: the compiler vectorises it
          const CodeInfo& in = info[b + i];
          mid[i] = qc.norm2 + in.norm2 - 2.0f * (in.scale * qc.qscale) * static_cast<float>(dot[i]);
          half[i] = 2.0f * std::min(qc.norm1 * in.err_inf, qc.norm * in.err_l2) +
                    in.scale * query_err + rel * in.norm2 + rel_q;
        }
        float threshold = upper.threshold();
        for (size_t i = 0; i < m; ++i) {
          const float lower = mid[i] - half[i];
          if (lower > threshold) continue;
          const size_t row = b + i;
          if (dead != nullptr && dead->Test(row)) continue;
          upper.Push(mid[i] + half[i], static_cast<uint32_t>(row));
          threshold = upper.threshold();
          cand.push_back(Hit{lower, static_cast<uint32_t>(row)});
          if (cand.size() >= qs.candidate_limit) {
            std::erase_if(cand, [&](const Hit& h) { return h.dist > threshold; });
            if (cand.size() * 2 > qs.candidate_limit) qs.candidate_limit *= 2;
          }
        }
      }
    }
  }

  const IndexOptions options_;
  const Kernels* const kernels_;
  const int threads_;
  const size_t parallel_min_rows_;
  mutable ScanPool pool_;

  std::atomic<const Snapshot*> current_{nullptr};
  mutable std::atomic<int64_t> readers_{0};  // searches between loading current_ and counting
  std::atomic<uint64_t> compactions_{0};

  // Writer state.
  mutable std::mutex mu_;
  std::mutex compact_mu_;
  std::shared_ptr<Columns> cols_;                        // GUARDED_BY(mu_)
  size_t rows_ = 0;                                      // GUARDED_BY(mu_)
  size_t live_ = 0;                                      // GUARDED_BY(mu_)
  std::shared_ptr<const DeadRows> dead_;                 // GUARDED_BY(mu_)
  IdMap ids_;                                            // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<const Columns>> retired_;  // GUARDED_BY(mu_)
  std::vector<const Snapshot*> replaced_;                // GUARDED_BY(mu_): awaiting grace

  // Background maintenance.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_work_ = false;  // GUARDED_BY(bg_mu_)
  bool stop_ = false;     // GUARDED_BY(bg_mu_)
  std::thread maintenance_;
};

}  // namespace

Result<std::unique_ptr<TemplateIndex>> TemplateIndex::Create(const IndexOptions& options) {
  if (options.dim == 0 || options.dim > 65536) {
    return Status::InvalidArgument("index dim must be in 1..65536, got " +
                                   std::to_string(options.dim));
  }
  const Kernels* kernels = KernelsFor(options.simd);
  if (kernels == nullptr) {
    return Status::InvalidArgument("SIMD level " + std::string(SimdLevelName(options.simd)) +
                                   " is not available on this CPU or in this build");
  }
  if (options.threads < 0 || options.threads > 256) {
    return Status::InvalidArgument("index threads must be in 0..256");
  }
  if (!(options.compact_dead_fraction > 0.0 && options.compact_dead_fraction <= 1.0)) {
    return Status::InvalidArgument("compact_dead_fraction must be in (0, 1]");
  }
  int threads = options.threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  try {
    return std::unique_ptr<TemplateIndex>(new TemplateIndexImpl(options, kernels, threads));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory creating the index");
  }
}

Status TemplateIndex::Search(std::span<const float> queries, size_t k, std::span<float> distances,
                             std::span<int64_t> template_ids) const {
  const size_t d = dim();
  if (queries.size() % d != 0) {
    return Status::InvalidArgument("queries hold " + std::to_string(queries.size()) +
                                   " values, not a multiple of the dimension " + std::to_string(d));
  }
  const size_t nq = queries.size() / d;
  if (distances.size() < nq * k || template_ids.size() < nq * k) {
    return Status::InvalidArgument("output buffers hold fewer than n_queries * k entries");
  }
  return Search(nq, queries.data(), k, distances.data(), template_ids.data(), nullptr);
}

Result<IdentityMatch> TemplateIndex::Identify(std::span<const float> query) const {
  if (query.size() != dim()) {
    return Status::InvalidArgument("query has " + std::to_string(query.size()) +
                                   " values, the index expects " + std::to_string(dim()));
  }
  float dist[2];
  int64_t users[2], tids[2];
  FACEGATE_RETURN_IF_ERROR(SearchUsers(1, query.data(), 2, dist, users, tids));
  IdentityMatch m;
  m.best_user = users[0];
  m.best_template = tids[0];
  m.best_distance = dist[0];
  m.second_user = users[1];
  m.second_distance = dist[1];
  return m;
}

IdentityMatch BestTwoIdentities(size_t n, const float* distances, const int64_t* template_ids,
                                const int64_t* user_ids) {
  IdentityMatch m;
  for (size_t i = 0; i < n; ++i) {
    if (template_ids[i] == kNoId) break;
    if (m.best_template == kNoId) {
      m.best_user = user_ids[i];
      m.best_template = template_ids[i];
      m.best_distance = distances[i];
    } else if (user_ids[i] != m.best_user) {
      m.second_user = user_ids[i];
      m.second_distance = distances[i];
      break;
    }
  }
  return m;
}

}  // namespace facegate::index
