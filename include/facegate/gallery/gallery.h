// Gallery: the enrolled face templates, searchable 1:N in memory and kept in step with the
// database.
//
// At start-up every template of the current model is decrypted from the store into a
// TemplateIndex (load time reported in the log and metrics). From then on the store's template
// change log is followed: every insert, delete, erasure or move of a template row, made by
// this process or another one on the host (facegatectl), reaches the index within
// sync_interval_ms, and at once when the writer calls Sync() after its commit.
// Identification answers the best and second-best identity with the margin rule, and the
// gallery reports the chance that a stranger matches somebody at the current size and level.
//
// Thread-safety: Identify() and Stats() may be called from any thread at any time and never
// wait for a sync (the index takes snapshots). Sync() calls are serialised among themselves.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "facegate/core/clock.h"
#include "facegate/core/config.h"
#include "facegate/core/metrics.h"
#include "facegate/core/status.h"
#include "facegate/face/face_options.h"
#include "facegate/face/matching.h"
#include "facegate/index/template_index.h"
#include "facegate/store/store.h"

namespace facegate::gallery {

// The "index" section of the configuration file.
struct GalleryOptions {
  index::Storage storage = index::Storage::kFloat32;  // "float32" or "int8" (exact either way)
  int threads = 0;             // scan threads including the caller; 0: one per core
  int sync_interval_ms = 500;  // how often the change log is polled
  int sync_batch = 10000;      // change log rows read per store call
  int prune_after_s = 600;     // applied change log rows are deleted after this long
};

// Reads the "index" section; problems go to the section's ConfigErrors.
void ParseGalleryOptions(ConfigSection& section, GalleryOptions* options);

struct GalleryStats {
  size_t templates = 0;   // searchable templates
  size_t identities = 0;  // distinct people with at least one template
  double load_seconds = 0;
  int64_t change_position = 0;  // last change log row applied
  std::string simd;             // kernel level the scans use
  std::string storage;          // "float32" or "int8"
  // The stranger false-match probability for `identities` people at the configured level.
  face::StrangerRisk stranger_risk;
  face::SecurityLevel security_level = face::SecurityLevel::kNormal;
};

class Gallery {
 public:
  // Loads the templates of `model_version` from `store` into a new index. `store`, `clock`
  // and `metrics` (may be null) must outlive the gallery. A template that fails to decrypt
  // fails the load (Corruption naming it): the daemon must not serve a partial gallery.
  static Result<std::unique_ptr<Gallery>> Open(store::Store* store, const GalleryOptions& options,
                                               std::string model_version,
                                               const face::MatchingOptions& matching,
                                               const Clock& clock,
                                               MetricsRegistry* metrics = nullptr);
  virtual ~Gallery() = default;

  // Applies the changes committed since the last sync. Call after a commit that the next
  // search must see.
  virtual Status Sync() = 0;
  // Polls the change log every sync_interval_ms on a thread of its own until destruction.
  virtual void StartBackgroundSync() = 0;

  // 1:N: the best identity and the runner-up, decided with `policy` (threshold and margin).
  // person_id in the answer is the store's user id.
  virtual Result<face::MatchDecision> Identify(const face::FaceTemplate& probe,
                                               const face::MatchPolicy& policy) const = 0;

  virtual GalleryStats Stats() const = 0;

 protected:
  Gallery() = default;
};

}  // namespace facegate::gallery
