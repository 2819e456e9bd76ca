#include "facegate/gallery/gallery.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace facegate::gallery {

void ParseGalleryOptions(ConfigSection& s, GalleryOptions* o) {
  std::string storage = o->storage == index::Storage::kInt8 ? "int8" : "float32";
  s.GetEnum("storage", &storage, {"float32", "int8"});
  o->storage = storage == "int8" ? index::Storage::kInt8 : index::Storage::kFloat32;
  s.Get("threads", &o->threads, 0, 256);
  s.Get("sync_interval_ms", &o->sync_interval_ms, 10, 3600000);
  s.Get("sync_batch", &o->sync_batch, 1, 1000000);
  s.Get("prune_after_s", &o->prune_after_s, 0, 30 * 86400);
}

namespace {

class GalleryImpl final : public Gallery {
 public:
  GalleryImpl(store::Store* store, const GalleryOptions& options, std::string model_version,
              const face::MatchingOptions& matching, const Clock& clock, MetricsRegistry* metrics)
      : store_(store),
        options_(options),
        model_version_(std::move(model_version)),
        matching_(matching),
        clock_(clock) {
    if (metrics) {
      templates_gauge_ = metrics->GetGauge("facegate_gallery_templates",
                                           "Face templates searchable in the 1:N index");
      identities_gauge_ = metrics->GetGauge("facegate_gallery_identities",
                                            "People with at least one searchable template");
      load_gauge_ = metrics->GetGauge("facegate_gallery_load_seconds",
                                      "Time the start-up load of the index took");
      risk_gauge_ = metrics->GetGauge(
          "facegate_gallery_stranger_false_match_probability",
          "Chance that a person not enrolled matches somebody, at the gallery size and level");
      risk_above_gauge_ =
          metrics->GetGauge("facegate_gallery_stranger_risk_above_bound",
                            "1 when the stranger false-match probability exceeds face.matching."
                            "max_stranger_probability");
      sync_errors_ = metrics->GetCounter("facegate_gallery_sync_errors_total",
                                         "Failed attempts to follow the template change log");
    }
  }

  ~GalleryImpl() override {
    {
      std::lock_guard lock(stop_mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (sync_thread_.joinable()) sync_thread_.join();
  }

  Status Load() {
    index::IndexOptions io;
    io.dim = face::kTemplateSize;
    io.storage = options_.storage;
    io.threads = options_.threads;
    auto created = index::TemplateIndex::Create(io);
    if (!created.ok()) return created.status();
    index_ = std::move(created).value();

    const auto start = clock_.Monotonic();
    auto matrix = store_->LoadTemplatesForIndex(model_version_);
    if (!matrix.ok()) return matrix.status().WithContext("loading the face templates");
    if (matrix->size() > 0 && matrix->dimension != face::kTemplateSize) {
      return Status::Corruption("templates of model " + model_version_ + " have dimension " +
                                std::to_string(matrix->dimension) + ", expected " +
                                std::to_string(face::kTemplateSize));
    }
    if (matrix->size() > 0) {
      FACEGATE_RETURN_IF_ERROR(index_->AddBatch(matrix->size(), matrix->values.data(),
                                                matrix->template_ids.data(),
                                                matrix->user_ids.data()));
    }
    {
      std::lock_guard lock(sync_mu_);
      templates_per_user_.reserve(matrix->size());
      for (int64_t user : matrix->user_ids) ++templates_per_user_[user];
      position_ = matrix->last_change_id;
      prune_candidate_ = position_;
      prune_candidate_at_ = clock_.Monotonic();
      PublishLocked();
    }
    load_seconds_ = std::chrono::duration<double>(clock_.Monotonic() - start).count();
    if (load_gauge_) load_gauge_->Set(load_seconds_);
    // The decrypted copy goes now, not when the caller's frame ends.
    std::fill(matrix->values.begin(), matrix->values.end(), 0.0f);
    spdlog::info("gallery loaded: templates={} identities={} model={} storage={} seconds={:.3f}",
                 index_->size(), identities_.load(), model_version_,
                 options_.storage == index::Storage::kInt8 ? "int8" : "float32", load_seconds_);
    // A count, not the list: the list joins users and sorts, seconds at a million rows.
    auto all = store_->CountTemplates();
    if (all.ok() && static_cast<size_t>(*all) > index_->size()) {
      spdlog::warn(
          "{} templates were made by another face model and are not matched: enroll those "
          "people again (facegatectl store status lists them)",
          static_cast<size_t>(*all) - index_->size());
    }
    return Status::Ok();
  }

  Status Sync() override {
    std::lock_guard lock(sync_mu_);
    Status s = SyncLocked();
    if (!s.ok() && sync_errors_) sync_errors_->Increment();
    return s;
  }

  void StartBackgroundSync() override {
    if (sync_thread_.joinable()) return;
    sync_thread_ = std::thread([this] {
      std::unique_lock lock(stop_mu_);
      while (!stopping_) {
        stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.sync_interval_ms),
                          [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        Status s = Sync();
        if (!s.ok())
          spdlog::error("gallery: following the template changes failed: {}", s.ToString());
        lock.lock();
      }
    });
  }

  Result<face::MatchDecision> Identify(const face::FaceTemplate& probe,
                                       const face::MatchPolicy& policy) const override {
    auto m = index_->Identify(std::span<const float>(probe.data(), probe.size()));
    if (!m.ok()) return m.status();
    // The index ranks by squared L2; the policy speaks in L2.
    face::Candidate candidates[2];
    size_t n = 0;
    if (m->best_user != index::kNoId) {
      candidates[n++] = {m->best_user, std::sqrt(m->best_distance)};
    }
    if (m->second_user != index::kNoId) {
      candidates[n++] = {m->second_user, std::sqrt(m->second_distance)};
    }
    return face::DecideIdentification(std::span<const face::Candidate>(candidates, n), policy);
  }

  GalleryStats Stats() const override {
    GalleryStats st;
    index::IndexStats is = index_->Stats();
    st.templates = is.live_rows;
    st.identities = identities_.load();
    st.load_seconds = load_seconds_;
    st.change_position = position_atomic_.load();
    st.simd = std::string(index::SimdLevelName(is.simd));
    st.storage = options_.storage == index::Storage::kInt8 ? "int8" : "float32";
    st.security_level = matching_.security_level;
    st.stranger_risk = face::AssessStrangerRisk(matching_.security_level, st.identities,
                                                matching_.max_stranger_probability);
    return st;
  }

 private:
  Status SyncLocked() {
    for (;;) {
      auto changes = store_->TemplateChangesSince(position_, model_version_, options_.sync_batch);
      if (!changes.ok()) return changes.status();
      // Removals first: a template moved to another user is in both lists.
      for (size_t i = 0; i < changes->removed.size(); ++i) {
        Status s = index_->Remove(changes->removed[i]);
        if (s.ok()) {
          ForgetTemplateLocked(changes->removed_user_ids[i]);
        } else if (s.code() != StatusCode::kNotFound) {  // NotFound: another model's row
          return s;
        }
      }
      const store::TemplateMatrix& added = changes->added;
      for (size_t i = 0; i < added.size(); ++i) {
        const int64_t id = added.template_ids[i];
        if (index_->Contains(id)) continue;  // logged twice (moved back and forth)
        FACEGATE_RETURN_IF_ERROR(index_->Add(id, added.user_ids[i], added.row(i)));
        ++templates_per_user_[added.user_ids[i]];
      }
      std::vector<float> scrub = std::move(changes->added.values);
      std::fill(scrub.begin(), scrub.end(), 0.0f);
      const bool changed = changes->last_change_id != position_;
      position_ = changes->last_change_id;
      if (changed) PublishLocked();
      if (!changes->more) break;
    }
    MaybePruneLocked();
    return Status::Ok();
  }

  // One template of `user` left the index.
  void ForgetTemplateLocked(int64_t user) {
    auto count = templates_per_user_.find(user);
    if (count != templates_per_user_.end() && --count->second <= 0) {
      templates_per_user_.erase(count);
    }
  }

  // Deletes change log rows applied more than prune_after_s ago: another reader of the log
  // (none today) would still find the recent ones.
  void MaybePruneLocked() {
    const auto now = clock_.Monotonic();
    if (now - prune_candidate_at_ < std::chrono::seconds(options_.prune_after_s)) return;
    if (prune_candidate_ > pruned_up_to_) {
      auto pruned = store_->PruneTemplateChanges(prune_candidate_);
      if (pruned.ok()) {
        pruned_up_to_ = prune_candidate_;
      } else {
        spdlog::warn("gallery: pruning the template change log failed: {}",
                     pruned.status().ToString());
      }
    }
    prune_candidate_ = position_;
    prune_candidate_at_ = now;
  }

  void PublishLocked() {
    identities_.store(templates_per_user_.size());
    position_atomic_.store(position_);
    const size_t templates = index_->size();
    const face::StrangerRisk risk = face::AssessStrangerRisk(
        matching_.security_level, templates_per_user_.size(), matching_.max_stranger_probability);
    if (templates_gauge_) templates_gauge_->Set(static_cast<double>(templates));
    if (identities_gauge_) identities_gauge_->Set(static_cast<double>(templates_per_user_.size()));
    if (risk_gauge_) risk_gauge_->Set(risk.probability);
    if (risk_above_gauge_) risk_above_gauge_->Set(risk.above_bound ? 1 : 0);
    if (risk.above_bound && !warned_risk_) {
      spdlog::warn(
          "gallery: {} people at security level {}: a stranger matches somebody with "
          "probability {:.3f}, above the configured bound {:.3f}; raise "
          "face.matching.security_level or use 1:1 (claimed identity) at the doors "
          "(docs/face.md)",
          templates_per_user_.size(), face::SecurityLevelName(matching_.security_level),
          risk.probability, matching_.max_stranger_probability);
    }
    warned_risk_ = risk.above_bound;
  }

  store::Store* const store_;
  const GalleryOptions options_;
  const std::string model_version_;
  const face::MatchingOptions matching_;
  const Clock& clock_;
  std::unique_ptr<index::TemplateIndex> index_;
  double load_seconds_ = 0;

  std::mutex sync_mu_;  // guards the members below until the atomics
  int64_t position_ = 0;
  std::unordered_map<int64_t, int> templates_per_user_;
  int64_t prune_candidate_ = 0;
  int64_t pruned_up_to_ = 0;
  Clock::MonoTime prune_candidate_at_{};
  bool warned_risk_ = false;

  std::atomic<size_t> identities_{0};
  std::atomic<int64_t> position_atomic_{0};

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread sync_thread_;

  Gauge* templates_gauge_ = nullptr;
  Gauge* identities_gauge_ = nullptr;
  Gauge* load_gauge_ = nullptr;
  Gauge* risk_gauge_ = nullptr;
  Gauge* risk_above_gauge_ = nullptr;
  Counter* sync_errors_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Gallery>> Gallery::Open(store::Store* store, const GalleryOptions& options,
                                               std::string model_version,
                                               const face::MatchingOptions& matching,
                                               const Clock& clock, MetricsRegistry* metrics) {
  if (store == nullptr) return Status::InvalidArgument("gallery: no store");
  auto g = std::make_unique<GalleryImpl>(store, options, std::move(model_version), matching, clock,
                                         metrics);
  FACEGATE_RETURN_IF_ERROR(g->Load());
  return std::unique_ptr<Gallery>(std::move(g));
}

}  // namespace facegate::gallery
