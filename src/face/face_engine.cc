#include "facegate/face/face_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "face/blas.h"
#include "face/pipeline.h"

namespace facegate::face {

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kOk:
      return "ok";
    case Reason::kEmptyImage:
      return "empty_image";
    case Reason::kUnsupportedFormat:
      return "unsupported_format";
    case Reason::kCorruptImage:
      return "corrupt_image";
    case Reason::kImageTooLarge:
      return "image_too_large";
    case Reason::kNoFace:
      return "no_face";
    case Reason::kMultipleFaces:
      return "multiple_faces";
    case Reason::kFaceTooSmall:
      return "face_too_small";
    case Reason::kTooBlurred:
      return "too_blurred";
    case Reason::kPose:
      return "pose";
    case Reason::kTooDark:
      return "too_dark";
    case Reason::kOverexposed:
      return "overexposed";
  }
  return "unknown";
}

std::string_view ReasonCategory(Reason reason) {
  switch (reason) {
    case Reason::kOk:
      return "ok";
    case Reason::kEmptyImage:
    case Reason::kUnsupportedFormat:
      return "unsupported_format";
    case Reason::kCorruptImage:
    case Reason::kImageTooLarge:
      return "corrupt_image";
    case Reason::kNoFace:
      return "no_face";
    case Reason::kMultipleFaces:
      return "multiple_faces";
    default:
      return "low_quality";
  }
}

Result<FaceTemplate> FaceAnalysis::AcceptedTemplate() const {
  if (verdict != Reason::kOk || selected < 0 || selected >= static_cast<int>(faces.size()) ||
      !faces[selected].has_template) {
    return Status::FailedPrecondition(std::string(ReasonName(verdict)) +
                                      (message.empty() ? "" : ": " + message));
  }
  return faces[selected].face_template;
}

namespace {

constexpr int kPriorities = 3;
constexpr std::array<const char*, kPriorities> kPriorityNames = {"capture", "enrollment", "bulk"};

struct Job {
  AnalyzeRequest request;
  AnalyzeCallback done;
  Clock::MonoTime submitted;
  Clock::MonoTime deadline;
};

// Metric series, all optional.
struct EngineMetrics {
  std::array<Counter*, kPriorities> accepted{}, refused_quality{}, refused_busy{};
  Histogram* queue_seconds = nullptr;
  std::array<Histogram*, 7> stage_seconds{};  // decode detect landmarks chip quality embed total
  Gauge* queue_depth = nullptr;

  void Register(MetricsRegistry* r) {
    if (r == nullptr) return;
    const char* jobs_help = "Face jobs by priority and outcome";
    for (int p = 0; p < kPriorities; ++p) {
      accepted[p] = r->GetCounter("facegate_face_jobs_total", jobs_help, {"priority", "outcome"},
                                  {kPriorityNames[p], "accepted"});
      refused_quality[p] = r->GetCounter("facegate_face_jobs_total", jobs_help,
                                         {"priority", "outcome"}, {kPriorityNames[p], "quality"});
      refused_busy[p] = r->GetCounter("facegate_face_jobs_total", jobs_help,
                                      {"priority", "outcome"}, {kPriorityNames[p], "busy"});
    }
    const auto buckets = MetricsRegistry::LatencyBucketsSeconds();
    queue_seconds = r->GetHistogram("facegate_face_queue_seconds",
                                    "Time face jobs waited for a worker", buckets);
    const char* stages[] = {"decode", "detect", "landmarks", "chip", "quality", "embed", "total"};
    for (size_t i = 0; i < stage_seconds.size(); ++i) {
      stage_seconds[i] =
          r->GetHistogram("facegate_face_stage_seconds", "Time per face pipeline stage", buckets,
                          {"stage"}, {stages[i]});
    }
    queue_depth = r->GetGauge("facegate_face_queue_depth", "Face jobs waiting for a worker");
  }

  void Observe(const StageTimings& t) {
    if (queue_seconds == nullptr) return;
    const double ms[] = {t.decode_ms,  t.detect_ms, t.landmarks_ms, t.chip_ms,
                         t.quality_ms, t.embed_ms,  t.total_ms};
    for (size_t i = 0; i < stage_seconds.size(); ++i) stage_seconds[i]->Observe(ms[i] / 1000);
    queue_seconds->Observe(t.queue_ms / 1000);
  }
};

class FaceEngineImpl final : public FaceEngine {
 public:
  FaceEngineImpl(const FaceOptions& options, const Clock* clock, MetricsRegistry* metrics,
                 std::shared_ptr<const SharedModels> models)
      : options_(options), clock_(clock), models_(std::move(models)) {
    metrics_.Register(metrics);
    info_.workers = options.workers;
    info_.queue_size = options.queue_size;
    info_.blas = DescribeBlas();
    info_.recognition_manifest = models_->recognition_manifest;
    info_.landmarks_model = models_->landmarks_model;
  }

  // Builds every worker's pipeline here, so that a failure shows before any thread starts.
  void Start() {
    std::vector<std::unique_ptr<Pipeline>> pipelines;
    for (int i = 0; i < options_.workers; ++i) {
      pipelines.push_back(std::make_unique<Pipeline>(models_, options_));
    }
    for (auto& p : pipelines) {
      workers_.emplace_back([this, pipeline = std::move(p)]() mutable { WorkerLoop(*pipeline); });
    }
    watcher_ = std::thread([this] { WatchDeadlines(); });
  }

  ~FaceEngineImpl() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    watch_cv_.notify_all();
    for (auto& t : workers_) t.join();
    watcher_.join();
    std::vector<Job> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& q : queues_) {
        for (auto& j : q) left.push_back(std::move(j));
        q.clear();
      }
      for (auto& j : to_refuse_) left.push_back(std::move(j.first));
      to_refuse_.clear();
    }
    for (auto& j : left) j.done(Status::Unavailable("the face engine is shutting down"));
  }

  Status Submit(AnalyzeRequest request, AnalyzeCallback done) override {
    const int prio = static_cast<int>(request.priority);
    if (prio < 0 || prio >= kPriorities) return Status::InvalidArgument("bad job priority");
    Job job;
    job.submitted = clock_->Monotonic();
    job.deadline = request.start_deadline.value_or(
        job.submitted + std::chrono::milliseconds(options_.queue_timeout_ms));
    job.request = std::move(request);
    job.done = std::move(done);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return Status::Unavailable("the face engine is shutting down");
      // A job that would only start after its deadline is refused now, not when the deadline
      // passes: under overload a terminal hears 503 in milliseconds instead of after the
      // whole budget, and the queue holds only work that will be done.
      // The prediction is a mean: with the queue held at its deadline's edge, about half the
      // jobs predicted just in time would miss it, so it is taken 15 % pessimistic.
      const double wait_ms = PredictedStartWaitMsLocked(prio);
      if (wait_ms > 0 &&
          job.submitted + std::chrono::microseconds(static_cast<int64_t>(wait_ms * 1150)) >
              job.deadline) {
        if (metrics_.refused_busy[prio]) metrics_.refused_busy[prio]->Increment();
        char why[160];
        std::snprintf(why, sizeof why,
                      "the face workers cannot start it before its deadline (about %.0f ms of "
                      "queued work ahead of it)",
                      wait_ms);
        return Status::ResourceExhausted(why);
      }
      if (queued_ >= options_.queue_size) {
        // Full: a job may displace the newest job of a lower priority, never an equal one.
        int lowest = kPriorities - 1;
        while (lowest > prio && queues_[lowest].empty()) --lowest;
        if (lowest <= prio) {
          if (metrics_.refused_busy[prio]) metrics_.refused_busy[prio]->Increment();
          return Status::ResourceExhausted("face queue full (" +
                                           std::to_string(options_.queue_size) + " jobs waiting)");
        }
        to_refuse_.emplace_back(std::move(queues_[lowest].back()),
                                "displaced from the full face queue by a higher-priority job");
        queues_[lowest].pop_back();
        --queued_;
      }
      queues_[prio].push_back(std::move(job));
      ++queued_;
      if (metrics_.queue_depth) metrics_.queue_depth->Set(queued_);
    }
    work_cv_.notify_one();
    watch_cv_.notify_one();
    return Status::Ok();
  }

  Result<FaceAnalysis> Analyze(AnalyzeRequest request) override {
    auto promise = std::make_shared<std::promise<Result<FaceAnalysis>>>();
    auto future = promise->get_future();
    Status s = Submit(std::move(request),
                      [promise](Result<FaceAnalysis> r) { promise->set_value(std::move(r)); });
    if (!s.ok()) return s;
    return future.get();
  }

  const FaceOptions& options() const override { return options_; }
  EngineInfo Info() const override { return info_; }
  int QueueDepth() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_;
  }

 private:
  // Takes the next job that may still start, answering expired ones on the way. False when
  // stopping.
  bool NextJob(Job* out) {
    std::vector<Job> expired;
    bool got = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!got) {
        work_cv_.wait(lock, [&] { return stopping_ || queued_ > 0; });
        if (stopping_) break;
        const auto now = clock_->Monotonic();
        for (auto& q : queues_) {
          while (!q.empty()) {
            Job j = std::move(q.front());
            q.pop_front();
            --queued_;
            if (j.deadline < now) {
              expired.push_back(std::move(j));
              continue;
            }
            *out = std::move(j);
            got = true;
            ++busy_;
            break;
          }
          if (got) break;
        }
      }
      if (metrics_.queue_depth) metrics_.queue_depth->Set(queued_);
    }
    for (auto& j : expired) Refuse(j, "not started before its deadline: the face workers are busy");
    return got;
  }

  // How long a job of priority `prio` submitted now would wait for a worker: the jobs that
  // start before it (queued at its priority or above) beyond the idle workers, at the mean
  // service time per worker, the running ones taken as half done. 0 while nothing has been
  // measured yet or a worker is free for it.
  double PredictedStartWaitMsLocked(int prio) const {
    if (service_ms_mean_ <= 0) return 0;
    int ahead = 0;
    for (int p = 0; p <= prio; ++p) ahead += static_cast<int>(queues_[p].size());
    const int workers = std::max(1, options_.workers);
    const int idle = workers - busy_;
    if (ahead < idle) return 0;
    return (ahead - idle + 0.5) * service_ms_mean_ / workers;
  }

  void Refuse(Job& job, const std::string& why) {
    const int prio = static_cast<int>(job.request.priority);
    if (metrics_.refused_busy[prio]) metrics_.refused_busy[prio]->Increment();
    job.done(Status::ResourceExhausted(why));
  }

  void WorkerLoop(Pipeline& pipeline) {
    LimitBlasThreads();
    Job job;
    while (NextJob(&job)) {
      const double queue_ms =
          std::chrono::duration<double, std::milli>(clock_->Monotonic() - job.submitted).count();
      RunParams params;
      params.templates_for_all_faces = job.request.templates_for_all_faces;
      params.multiple_faces = job.request.multiple_faces.value_or(options_.quality.multiple_faces);
      const auto started = clock_->Monotonic();
      FaceAnalysis analysis = pipeline.Run(job.request.image, params);
      const double service_ms =
          std::chrono::duration<double, std::milli>(clock_->Monotonic() - started).count();
      {
        std::lock_guard<std::mutex> lock(mu_);
        --busy_;
        // A moving mean over roughly the last 20 jobs: it follows the load on the machine.
        service_ms_mean_ =
            service_ms_mean_ <= 0 ? service_ms : 0.95 * service_ms_mean_ + 0.05 * service_ms;
      }
      analysis.timings.queue_ms = queue_ms;
      metrics_.Observe(analysis.timings);
      const int prio = static_cast<int>(job.request.priority);
      Counter* c = analysis.accepted() ? metrics_.accepted[prio] : metrics_.refused_quality[prio];
      if (c) c->Increment();
      job.request.image.clear();
      job.done(std::move(analysis));
      job = Job{};
    }
  }

  // Answers jobs whose start deadline passes while every worker is busy, so that callers
  // learn it then and not when a worker frees up; and jobs displaced from a full queue.
  void WatchDeadlines() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      std::vector<std::pair<Job, std::string>> refuse;
      refuse.swap(to_refuse_);
      const auto now = clock_->Monotonic();
      std::optional<Clock::MonoTime> next;
      for (auto& q : queues_) {
        for (auto it = q.begin(); it != q.end();) {
          if (it->deadline < now) {
            refuse.emplace_back(std::move(*it),
                                "not started before its deadline: the face workers are busy");
            it = q.erase(it);
            --queued_;
          } else {
            if (!next || it->deadline < *next) next = it->deadline;
            ++it;
          }
        }
      }
      if (!refuse.empty()) {
        if (metrics_.queue_depth) metrics_.queue_depth->Set(queued_);
        lock.unlock();
        for (auto& [job, why] : refuse) Refuse(job, why);
        lock.lock();
        continue;
      }
      if (next) {
        // Clock's monotonic time may be simulated: wait the remaining span, then look again.
        watch_cv_.wait_for(lock, *next - now + std::chrono::milliseconds(1));
      } else {
        watch_cv_.wait(lock);
      }
    }
  }

  const FaceOptions options_;
  const Clock* clock_;
  std::shared_ptr<const SharedModels> models_;
  EngineMetrics metrics_;
  EngineInfo info_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable watch_cv_;
  std::array<std::deque<Job>, kPriorities> queues_;     // GUARDED_BY(mu_)
  std::vector<std::pair<Job, std::string>> to_refuse_;  // GUARDED_BY(mu_)
  int queued_ = 0;                                      // GUARDED_BY(mu_)
  int busy_ = 0;                // workers running a pipeline; GUARDED_BY(mu_)
  double service_ms_mean_ = 0;  // a job's pipeline time, moving mean; GUARDED_BY(mu_)
  bool stopping_ = false;       // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
  std::thread watcher_;
};

}  // namespace

Result<std::unique_ptr<FaceEngine>> FaceEngine::Open(const FaceOptions& options, const Clock* clock,
                                                     MetricsRegistry* metrics) {
  if (options.workers < 1 || options.queue_size < 1) {
    return Status::InvalidArgument("face engine: workers and queue_size must be at least 1");
  }
  LimitBlasThreads();
  auto models = LoadSharedModels(options);
  if (!models.ok()) return models.status();
  auto engine = std::make_unique<FaceEngineImpl>(options, clock ? clock : &SystemClock::Instance(),
                                                 metrics, std::move(models).value());
  engine->Start();
  spdlog::info("face engine ready: workers={} queue_size={} blas=\"{}\"", options.workers,
               options.queue_size, engine->Info().blas);
  return std::unique_ptr<FaceEngine>(std::move(engine));
}

}  // namespace facegate::face
