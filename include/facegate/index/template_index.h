// TemplateIndex: the in-memory 1:N index over face templates (exact nearest neighbours by L2).
//
// Every template is a row of one contiguous, 64-byte aligned float32 matrix, with its template
// id (unique) and the id of the user it belongs to. Search is exact: the k rows nearest to a
// query by squared L2 distance, ties broken by the smaller template id, so results do not
// depend on the SIMD level in use (beyond float rounding), the thread count or the insertion
// order. An optional int8 copy of the matrix (per-row scale) makes a scan read 3.5x fewer bytes;
// its candidates are re-ranked in float32 under a proven error bound, so results stay exact.
//
// Distances are SQUARED L2 (as faiss reports them): dlib's "same person below 0.6" is 0.36 here.
//
// Thread-safety: every method may be called from any thread at any time.
//  - Searches never block each other nor wait for writers: each works on an immutable snapshot
//    (rows [0, n) of the matrix plus a deletion bitmap) taken with a few atomic operations.
//    (A scan big enough to use helper threads takes the pool's queue mutex for a few
//    instructions to post its work; it never waits for another search's work.)
//  - Writers (Add, AddBatch, Remove, RemoveUser, Compact) are serialised among themselves; a
//    search started after a writer returned sees its effect, one started before does not.
//  - A search running while a row is removed may still return that row (it scans the snapshot
//    it started with); it never returns a row that was not fully written.
// Compaction of removed rows runs on a background thread owned by the index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string_view>

#include "facegate/core/status.h"
#include "facegate/index/simd_level.h"

namespace facegate::index {

std::string_view SimdLevelName(SimdLevel level);

// The level kAuto resolves to: the CPU is probed once per process, then FACEGATE_SIMD (read
// once) may lower it. A level the CPU or the build lacks is capped to the best available.
SimdLevel DefaultSimdLevel();

// Whether `level` can run here (built in and supported by this CPU).
bool SimdLevelAvailable(SimdLevel level);

// Which copy of the matrix a scan reads.
enum class Storage {
  kFloat32,  // the float32 matrix only
  kInt8,     // also keep an int8 copy (d bytes + 16 per row); scan it, re-rank in float32
};

struct IndexOptions {
  size_t dim = 128;                   // length of every template; any value >= 1
  SimdLevel simd = SimdLevel::kAuto;  // kernel level for every scan
  Storage storage = Storage::kFloat32;
  int threads = 0;                     // scan threads including the caller; 0: one per core
  size_t parallel_min_rows = 0;        // scan with one thread below this; 0: measured default
  size_t initial_capacity = 0;         // rows to reserve (AddBatch reserves what it needs)
  double compact_dead_fraction = 0.2;  // background compaction once this share is removed
  size_t compact_min_dead = 1024;      // ... and at least this many rows
};

// What unused result slots (k > live rows) hold.
inline constexpr int64_t kNoId = -1;
inline constexpr float kNoDistance = std::numeric_limits<float>::infinity();

// The two nearest distinct identities, for the "best vs second-best identity" margin rule.
struct IdentityMatch {
  int64_t best_user = kNoId;
  int64_t best_template = kNoId;
  float best_distance = kNoDistance;
  int64_t second_user = kNoId;  // kNoId when the index holds only one identity
  float second_distance = kNoDistance;
};

// Picks the best two distinct users from rows sorted nearest-first (Search's output with
// user ids). Only correct if the second identity is among the rows: when every row may belong
// to the same user, ask SearchUsers(k = 2) instead, which is exact by construction.
IdentityMatch BestTwoIdentities(size_t n, const float* distances, const int64_t* template_ids,
                                const int64_t* user_ids);

struct IndexStats {
  size_t live_rows = 0;       // searchable templates
  size_t stored_rows = 0;     // rows in the matrix, removed ones included (until compaction)
  size_t capacity_rows = 0;   // rows allocated
  size_t bytes_per_scan = 0;  // bytes one single-query scan reads (the scanned copy only)
  uint64_t compactions = 0;
  SimdLevel simd = SimdLevel::kScalar;
  int threads = 1;
  size_t parallel_min_rows = 0;
};

class TemplateIndex {
 public:
  // Fails with InvalidArgument on a bad option (dim 0, unavailable SIMD level, ...).
  static Result<std::unique_ptr<TemplateIndex>> Create(const IndexOptions& options);

  TemplateIndex(const TemplateIndex&) = delete;
  TemplateIndex& operator=(const TemplateIndex&) = delete;
  virtual ~TemplateIndex() = default;

  virtual size_t dim() const = 0;
  virtual size_t size() const = 0;  // live templates
  virtual bool Contains(int64_t template_id) const = 0;
  virtual IndexStats Stats() const = 0;

  // Adds one template. InvalidArgument: wrong length, non-finite value, negative id;
  // AlreadyExists: the template id is present.
  virtual Status Add(int64_t template_id, int64_t user_id, std::span<const float> vector) = 0;

  // Adds n templates (row-major, n * dim floats) all or none: the bulk load at start-up.
  // Fails like Add, also on an id repeated within the batch.
  virtual Status AddBatch(size_t n, const float* vectors, const int64_t* template_ids,
                          const int64_t* user_ids) = 0;

  // Removes one template; NotFound if absent.
  virtual Status Remove(int64_t template_id) = 0;
  // Removes every template of a user; returns how many (0 is not an error).
  virtual Result<size_t> RemoveUser(int64_t user_id) = 0;

  // Exact k nearest rows for each of n_queries queries (row-major, n_queries * dim floats).
  // Writes n_queries * k entries, nearest first, into caller-owned buffers; user_ids may be
  // null. Does not allocate once this thread's scratch has grown to the size it needs.
  virtual Status Search(size_t n_queries, const float* queries, size_t k, float* distances,
                        int64_t* template_ids, int64_t* user_ids = nullptr) const = 0;

  // Exact k nearest distinct users: each user ranked by its nearest template (whose id goes to
  // template_ids, which may be null). k = 2 gives the best and second-best identity.
  // k is at most 1024.
  virtual Status SearchUsers(size_t n_queries, const float* queries, size_t k, float* distances,
                             int64_t* user_ids, int64_t* template_ids = nullptr) const = 0;

  // Bounds-checked forms: InvalidArgument when queries.size() is not a multiple of dim() or an
  // output span is shorter than n_queries * k.
  Status Search(std::span<const float> queries, size_t k, std::span<float> distances,
                std::span<int64_t> template_ids) const;
  Result<IdentityMatch> Identify(std::span<const float> query) const;

  // Rewrites the matrix without removed rows now (the background thread does it on its own
  // past compact_dead_fraction). Searches continue meanwhile; writers wait only for the final
  // reconciliation step.
  virtual Status Compact() = 0;

 protected:
  TemplateIndex() = default;
};

}  // namespace facegate::index
