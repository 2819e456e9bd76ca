// face_bench: the face engine's stages and throughput on this machine.
//
// Inputs: a 640x480 capture with one face (tests/face/data/reference/capture_640x480.jpg, the
// same file the Node peer times; made from models/demo/sample3.jpg when absent) and a
// 1920x1280 group photo (models/demo/sample1.jpg, three faces). Per stage: decode, detect,
// landmarks, chip, quality, embed; then a whole capture on one worker (median and p90 per
// capture) and the engine's throughput with one and two workers (captures/s).
// Models are found in $FACEGATE_MODELS or <source>/models.
//
//   build-face/bench/face/face_bench --benchmark_filter=Stage
//   build-face/bench/face/face_bench --benchmark_filter='Capture|Engine'
//   build-face/bench/face/face_bench --benchmark_filter=PeakRss   (alone: reads ru_maxrss)
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <opencv2/imgcodecs.hpp>

#include "face/blas.h"
#include "face/pipeline.h"
#include "face/quality.h"
#include "facegate/core/files.h"
#include "facegate/face/face_engine.h"

namespace facegate::face {
namespace {

std::filesystem::path SourceDir() { return FACEGATE_SOURCE_DIR; }

std::filesystem::path ModelsDir() {
  const char* env = std::getenv("FACEGATE_MODELS");
  return env && *env ? std::filesystem::path(env) : SourceDir() / "models";
}

FaceOptions BenchOptions(int workers = 1) {
  FaceOptions o;
  o.models_dir = ModelsDir();
  o.workers = workers;
  o.queue_size = 256;
  o.queue_timeout_ms = 600000;
  return o;
}

std::string MustRead(const std::filesystem::path& p) {
  auto data = ReadFile(p);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    std::exit(1);
  }
  return *data;
}

const std::string& CaptureBytes() {
  static const std::string bytes = [] {
    const auto ref = SourceDir() / "tests/face/data/reference/capture_640x480.jpg";
    if (std::filesystem::exists(ref)) return MustRead(ref);
    // The same window of sample3.jpg the reference capture is cut from.
    const std::string photo = MustRead(ModelsDir() / "demo/sample3.jpg");
    cv::Mat img = cv::imdecode(
        cv::Mat(1, static_cast<int>(photo.size()), CV_8U, const_cast<char*>(photo.data())),
        cv::IMREAD_COLOR);
    std::vector<uchar> out;
    cv::imencode(".jpg", img(cv::Rect(365, 225, 640, 480)), out, {cv::IMWRITE_JPEG_QUALITY, 90});
    return std::string(out.begin(), out.end());
  }();
  return bytes;
}

const std::string& PhotoBytes() {
  static const std::string bytes = MustRead(ModelsDir() / "demo/sample1.jpg");
  return bytes;
}

const std::string& Input(int which) { return which == 0 ? CaptureBytes() : PhotoBytes(); }
const char* InputName(int which) { return which == 0 ? "capture_640x480" : "photo_1920x1280"; }

std::shared_ptr<const SharedModels> Models() {
  static std::shared_ptr<const SharedModels> models = [] {
    LimitBlasThreads();
    auto m = LoadSharedModels(BenchOptions());
    if (!m.ok()) {
      std::fprintf(stderr, "%s (run scripts/setup)\n", m.status().ToString().c_str());
      std::exit(1);
    }
    return *m;
  }();
  return models;
}

Pipeline& SharedPipeline() {
  static Pipeline pipeline(Models(), BenchOptions());
  return pipeline;
}

// Intermediate results of one input, computed once.
struct Prepared {
  cv::Mat bgr, gray;
  std::vector<Detection> faces;
  std::vector<dlib::full_object_detection> shapes;
  std::vector<Chip> chips;
};

const Prepared& Prepare(int which) {
  static Prepared prepared[2];
  Prepared& p = prepared[which];
  if (p.bgr.empty()) {
    Pipeline& pl = SharedPipeline();
    p.bgr = pl.Decode(Input(which)).bgr;
    p.gray = Pipeline::ToGray(p.bgr);
    bool reduced = false;
    p.faces = pl.Detect(p.gray, &reduced);
    for (const auto& f : p.faces) {
      p.shapes.push_back(pl.Landmarks(p.gray, f.rect));
      p.chips.push_back(pl.ExtractChip(p.bgr, p.shapes.back()));
    }
  }
  return p;
}

void Label(benchmark::State& state, int which) {
  state.SetLabel(std::string(InputName(which)) + ", " +
                 std::to_string(Prepare(which).faces.size()) + " face(s)");
}

// Times each iteration of `body` and reports the median and the best (least disturbed)
// iteration in milliseconds: on a shared host the best is the closest to an idle machine.
template <typename Body>
void TimeIterations(benchmark::State& state, Body body) {
  std::vector<double> ms;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    body();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    state.counters["median_ms"] = ms[ms.size() / 2];
    state.counters["best_ms"] = ms.front();
  }
}

void BM_Stage_Decode(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  Pipeline& pl = SharedPipeline();
  TimeIterations(state, [&] { benchmark::DoNotOptimize(pl.Decode(Input(which))); });
  Label(state, which);
}

// Grey conversion + detection as the engine runs it (reduced copy first).
void BM_Stage_Detect(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const Prepared& p = Prepare(which);
  Pipeline& pl = SharedPipeline();
  bool reduced = false;
  TimeIterations(state, [&] {
    cv::Mat gray = Pipeline::ToGray(p.bgr);
    benchmark::DoNotOptimize(pl.Detect(gray, &reduced));
  });
  Label(state, which);
  state.counters["reduced_copy"] = reduced;
}

// Detection at full size only (what a photo with small faces costs).
void BM_Stage_DetectFullSize(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const Prepared& p = Prepare(which);
  FaceDetector detector;
  TimeIterations(state, [&] { benchmark::DoNotOptimize(detector.DetectFullSize(p.gray, 0.25)); });
  Label(state, which);
}

// Per image: all its faces.
void BM_Stage_Landmarks(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const Prepared& p = Prepare(which);
  Pipeline& pl = SharedPipeline();
  TimeIterations(state, [&] {
    for (const auto& f : p.faces) benchmark::DoNotOptimize(pl.Landmarks(p.gray, f.rect));
  });
  Label(state, which);
}

void BM_Stage_Chip(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const Prepared& p = Prepare(which);
  Pipeline& pl = SharedPipeline();
  TimeIterations(state, [&] {
    for (const auto& s : p.shapes) benchmark::DoNotOptimize(pl.ExtractChip(p.bgr, s));
  });
  Label(state, which);
}

void BM_Stage_Quality(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const Prepared& p = Prepare(which);
  TimeIterations(state, [&] {
    for (size_t i = 0; i < p.chips.size(); ++i) {
      FaceQuality q;
      MeasureFace(p.shapes[i], Pipeline::ChipToGray(p.chips[i]), &q);
      benchmark::DoNotOptimize(q);
    }
  });
  Label(state, which);
}

void BM_Stage_Embed(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const Prepared& p = Prepare(which);
  Pipeline& pl = SharedPipeline();
  TimeIterations(state, [&] {
    for (const auto& c : p.chips) benchmark::DoNotOptimize(pl.Embed(c));
  });
  Label(state, which);
}

// One face's embedding, for the per-face figure.
void BM_Stage_EmbedOneChip(benchmark::State& state) {
  const Prepared& p = Prepare(0);
  Pipeline& pl = SharedPipeline();
  TimeIterations(state, [&] { benchmark::DoNotOptimize(pl.Embed(p.chips[0])); });
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

// The whole job on one worker: decode to template (capture) or to every face's template
// (photo). Counters: median and p90 milliseconds per job.
void BM_Capture_SingleWorker(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  Pipeline& pl = SharedPipeline();
  RunParams params;
  params.templates_for_all_faces = which == 1;
  params.multiple_faces = MultiFacePolicy::kLargest;
  std::vector<double> ms;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    FaceAnalysis a = pl.Run(Input(which), params);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    if (which == 0 && !a.accepted()) state.SkipWithError("the capture was not accepted");
  }
  Label(state, which);
  state.counters["median_ms"] = Percentile(ms, 0.5);
  state.counters["p90_ms"] = Percentile(ms, 0.9);
  state.counters["best_ms"] = Percentile(ms, 0.0);
}

// Throughput of the engine (its queue and workers): each iteration submits a batch of
// captures and waits for all of them.
void BM_Engine_Throughput(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  constexpr int kBatch = 24;
  Models();  // load outside the timing
  auto engine = FaceEngine::Open(BenchOptions(workers));
  if (!engine.ok()) {
    state.SkipWithError(engine.status().ToString().c_str());
    return;
  }
  std::vector<double> latency;
  std::mutex mu;
  for (auto _ : state) {
    std::condition_variable cv;
    int left = kBatch;
    for (int i = 0; i < kBatch; ++i) {
      AnalyzeRequest r;
      r.image = CaptureBytes();
      const auto submitted = std::chrono::steady_clock::now();
      Status s = (*engine)->Submit(std::move(r), [&, submitted](Result<FaceAnalysis> a) {
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - submitted)
                .count();
        std::lock_guard<std::mutex> lock(mu);
        if (!a.ok() || !a->accepted()) std::fprintf(stderr, "capture not accepted\n");
        latency.push_back(ms);
        if (--left == 0) cv.notify_one();
      });
      if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return left == 0; });
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["captures_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
  state.counters["latency_median_ms"] = Percentile(latency, 0.5);
  state.counters["latency_p90_ms"] = Percentile(latency, 0.9);
  state.SetLabel(std::to_string(workers) + " worker(s), batches of " + std::to_string(kBatch) +
                 " captures (latency includes queueing)");
}

// Peak RSS of a process holding the engine (two workers) after captures and one photo.
// Run it alone: ru_maxrss is per process.
void BM_PeakRss_Engine2Workers(benchmark::State& state) {
  for (auto _ : state) {
    auto engine = FaceEngine::Open(BenchOptions(2));
    if (!engine.ok()) {
      state.SkipWithError(engine.status().ToString().c_str());
      return;
    }
    for (int i = 0; i < 8; ++i) {
      AnalyzeRequest r;
      r.image = CaptureBytes();
      benchmark::DoNotOptimize((*engine)->Analyze(std::move(r)));
    }
    AnalyzeRequest photo;
    photo.image = PhotoBytes();
    photo.templates_for_all_faces = true;
    benchmark::DoNotOptimize((*engine)->Analyze(std::move(photo)));
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  state.counters["peak_rss_mib"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
}

BENCHMARK(BM_Stage_Decode)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stage_Detect)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stage_DetectFullSize)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stage_Landmarks)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stage_Chip)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stage_Quality)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stage_Embed)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Stage_EmbedOneChip)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Capture_SingleWorker)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Engine_Throughput)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PeakRss_Engine2Workers)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace facegate::face

BENCHMARK_MAIN();
