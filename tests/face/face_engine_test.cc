// The engine's worker pool: results, priorities, a bounded queue, start deadlines, and
// identical templates from every worker.
#include "facegate/face/face_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include "face/face_test_util.h"

namespace facegate::face {
namespace {

using ::testing::HasSubstr;

// Holds a worker inside a callback until released, so that the test controls the queue.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void AwaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

std::string BlankJpeg() {
  return testing::EncodeJpeg(cv::Mat(120, 160, CV_8UC3, cv::Scalar(100, 100, 100)));
}

std::unique_ptr<FaceEngine> OpenEngine(int workers, int queue_size) {
  FaceOptions o = testing::TestOptions();
  o.workers = workers;
  o.queue_size = queue_size;
  auto engine = FaceEngine::Open(o);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

AnalyzeRequest Request(std::string image, Priority p = Priority::kCapture) {
  AnalyzeRequest r;
  r.image = std::move(image);
  r.priority = p;
  return r;
}

TEST(FaceEngineTest, AnalyzesACaptureAndReportsTimingsAndMetrics) {
  MetricsRegistry metrics;
  FaceOptions o = testing::TestOptions();
  o.workers = 1;
  auto opened = FaceEngine::Open(o, nullptr, &metrics);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& engine = *opened;
  EXPECT_THAT(engine->Info().blas, HasSubstr("OpenBLAS"));
  EXPECT_THAT(engine->Info().blas, HasSubstr("openblas"));

  const cv::Mat capture = testing::CaptureAround(testing::DemoImage(3), 675, 484);
  auto r = engine->Analyze(Request(testing::EncodeJpeg(capture)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->accepted()) << r->message;
  EXPECT_TRUE(r->AcceptedTemplate().ok());
  const StageTimings& t = r->timings;
  EXPECT_GT(t.decode_ms, 0);
  EXPECT_GT(t.detect_ms, 0);
  EXPECT_GT(t.landmarks_ms, 0);
  EXPECT_GT(t.chip_ms, 0);
  EXPECT_GT(t.embed_ms, 0);
  EXPECT_GE(t.total_ms, t.decode_ms + t.detect_ms + t.embed_ms);

  auto blank = engine->Analyze(Request(BlankJpeg()));
  ASSERT_TRUE(blank.ok());
  EXPECT_EQ(blank->verdict, Reason::kNoFace);
  EXPECT_FALSE(blank->AcceptedTemplate().ok());

  const std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text,
              HasSubstr("facegate_face_jobs_total{priority=\"capture\",outcome=\"accepted\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("facegate_face_jobs_total{priority=\"capture\",outcome=\"quality\"} 1"));
  EXPECT_THAT(text, HasSubstr("facegate_face_stage_seconds_count{stage=\"embed\"} 2"));
}

TEST(FaceEngineTest, ThreadsEmbeddingTheSameImageGiveBitIdenticalTemplates) {
  auto engine = OpenEngine(4, 64);
  ASSERT_NE(engine, nullptr);
  const std::string image =
      testing::EncodeJpeg(testing::CaptureAround(testing::DemoImage(6), 1273, 484));
  constexpr int kJobs = 16;
  std::vector<std::promise<Result<FaceAnalysis>>> results(kJobs);
  // Submitted from several threads at once, run by four workers.
  std::vector<std::thread> submitters;
  for (int s = 0; s < 4; ++s) {
    submitters.emplace_back([&, s] {
      for (int i = s; i < kJobs; i += 4) {
        AnalyzeRequest r = Request(image);
        r.start_deadline = SystemClock::Instance().Monotonic() + std::chrono::seconds(120);
        Status st = engine->Submit(std::move(r), [&results, i](Result<FaceAnalysis> a) {
          results[i].set_value(std::move(a));
        });
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    });
  }
  for (auto& t : submitters) t.join();
  std::vector<FaceTemplate> templates;
  for (auto& p : results) {
    auto r = p.get_future().get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto t = r->AcceptedTemplate();
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    templates.push_back(*t);
  }
  for (const auto& t : templates) {
    EXPECT_EQ(std::memcmp(t.data(), templates[0].data(), sizeof(FaceTemplate)), 0);
  }
}

TEST(FaceEngineTest, CapturesGoBeforeBulkJobs) {
  auto engine = OpenEngine(1, 16);
  ASSERT_NE(engine, nullptr);
  Gate gate;
  std::promise<void> first_done;
  ASSERT_TRUE(engine
                  ->Submit(Request(BlankJpeg()),
                           [&](Result<FaceAnalysis>) {
                             gate.Wait();
                             first_done.set_value();
                           })
                  .ok());
  gate.AwaitEntered();  // the only worker is now held; everything below queues

  std::mutex mu;
  std::vector<std::string> order;
  std::promise<void> all_done;
  std::atomic<int> left{5};
  auto record = [&](std::string name) {
    return [&, name](Result<FaceAnalysis> r) {
      EXPECT_TRUE(r.ok()) << name << ": " << r.status().ToString();
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(name);
      }
      if (--left == 0) all_done.set_value();
    };
  };
  ASSERT_TRUE(engine->Submit(Request(BlankJpeg(), Priority::kBulk), record("bulk1")).ok());
  ASSERT_TRUE(engine->Submit(Request(BlankJpeg(), Priority::kBulk), record("bulk2")).ok());
  ASSERT_TRUE(engine->Submit(Request(BlankJpeg(), Priority::kEnrollment), record("enrol")).ok());
  ASSERT_TRUE(engine->Submit(Request(BlankJpeg(), Priority::kCapture), record("capture1")).ok());
  ASSERT_TRUE(engine->Submit(Request(BlankJpeg(), Priority::kCapture), record("capture2")).ok());
  EXPECT_EQ(engine->QueueDepth(), 5);
  gate.Open();
  first_done.get_future().wait();
  all_done.get_future().wait();
  EXPECT_EQ(order, (std::vector<std::string>{"capture1", "capture2", "enrol", "bulk1", "bulk2"}));
}

TEST(FaceEngineTest, AFullQueueRefusesAndCapturesDisplaceBulkJobs) {
  auto engine = OpenEngine(1, 2);
  ASSERT_NE(engine, nullptr);
  Gate gate;
  ASSERT_TRUE(
      engine->Submit(Request(BlankJpeg()), [&](Result<FaceAnalysis>) { gate.Wait(); }).ok());
  gate.AwaitEntered();

  std::promise<Status> bulk2_result;
  ASSERT_TRUE(
      engine->Submit(Request(BlankJpeg(), Priority::kBulk), [](Result<FaceAnalysis>) {}).ok());
  ASSERT_TRUE(engine
                  ->Submit(Request(BlankJpeg(), Priority::kBulk),
                           [&](Result<FaceAnalysis> r) { bulk2_result.set_value(r.status()); })
                  .ok());
  // Full: another bulk job is refused at once, and its callback never runs.
  Status s = engine->Submit(Request(BlankJpeg(), Priority::kBulk),
                            [](Result<FaceAnalysis>) { ADD_FAILURE() << "called"; });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("queue full"));
  // A capture takes the newest bulk job's place; that job is told so.
  std::promise<Result<FaceAnalysis>> capture_result;
  ASSERT_TRUE(engine
                  ->Submit(Request(BlankJpeg()),
                           [&](Result<FaceAnalysis> r) { capture_result.set_value(std::move(r)); })
                  .ok());
  Status displaced = bulk2_result.get_future().get();
  EXPECT_EQ(displaced.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(displaced.message(), HasSubstr("displaced"));
  // Captures do not displace captures.
  ASSERT_TRUE(engine->Submit(Request(BlankJpeg()), [](Result<FaceAnalysis>) {}).ok());
  s = engine->Submit(Request(BlankJpeg()), [](Result<FaceAnalysis>) { ADD_FAILURE(); });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);

  gate.Open();
  auto r = capture_result.get_future().get();
  EXPECT_TRUE(r.ok());
}

TEST(FaceEngineTest, AJobThatCannotStartBeforeItsDeadlineIsRefusedWithoutWaiting) {
  auto engine = OpenEngine(1, 8);
  ASSERT_NE(engine, nullptr);
  Gate gate;
  ASSERT_TRUE(
      engine->Submit(Request(BlankJpeg()), [&](Result<FaceAnalysis>) { gate.Wait(); }).ok());
  gate.AwaitEntered();

  const auto start = std::chrono::steady_clock::now();
  AnalyzeRequest r = Request(BlankJpeg());
  r.start_deadline = SystemClock::Instance().Monotonic() + std::chrono::milliseconds(100);
  std::promise<Status> result;
  ASSERT_TRUE(
      engine->Submit(std::move(r), [&](Result<FaceAnalysis> a) { result.set_value(a.status()); })
          .ok());
  // Answered while the worker is still held: by the deadline, not when a worker frees up.
  Status s = result.get_future().get();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("deadline"));
  EXPECT_GE(ms, 95);
  EXPECT_LT(ms, 2000);
  EXPECT_EQ(engine->QueueDepth(), 0);

  // A deadline already past is refused as soon as it is looked at.
  AnalyzeRequest late = Request(BlankJpeg());
  late.start_deadline = SystemClock::Instance().Monotonic() - std::chrono::milliseconds(1);
  std::promise<Status> late_result;
  ASSERT_TRUE(engine
                  ->Submit(std::move(late),
                           [&](Result<FaceAnalysis> a) { late_result.set_value(a.status()); })
                  .ok());
  EXPECT_EQ(late_result.get_future().get().code(), StatusCode::kResourceExhausted);
  gate.Open();
}

// Once the engine knows what a job costs, a job that would only start after its deadline is
// refused by Submit itself (a terminal hears 503 at once, not when the budget is spent), and
// the jobs it takes are the ones that can start in time.
TEST(FaceEngineTest, AJobPredictedToStartAfterItsDeadlineIsRefusedAtSubmit) {
  auto engine = OpenEngine(1, 64);
  ASSERT_NE(engine, nullptr);
  const std::string face =
      testing::EncodeJpeg(testing::CaptureAround(testing::DemoImage(3), 675, 484));
  // Measure: a few real captures through the only worker.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(engine->Analyze(Request(face)).ok());

  // Forty at once, each with a deadline of 100 ms: whatever the machine, a capture's pipeline
  // takes well over 100 / 40 ms, so the later ones cannot start in time.
  constexpr int kJobs = 40;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, ran = 0, refused_at_submit = 0, taken = 0;
  for (int i = 0; i < kJobs; ++i) {
    AnalyzeRequest r = Request(face);
    r.start_deadline = SystemClock::Instance().Monotonic() + std::chrono::milliseconds(100);
    Status s = engine->Submit(std::move(r), [&](Result<FaceAnalysis> a) {
      std::lock_guard lock(mu);
      if (a.ok()) ++ran;
      ++answered;
      cv.notify_all();
    });
    if (s.ok()) {
      ++taken;
      continue;
    }
    EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
    EXPECT_THAT(s.message(), HasSubstr("cannot start it before its deadline"));
    ++refused_at_submit;
  }
  EXPECT_GT(refused_at_submit, 0);
  EXPECT_GT(taken, 0) << "the first job finds the worker free";
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return answered == taken; });
  EXPECT_GE(ran, 1);
  std::printf("%d of %d refused at submit, %d taken, %d ran\n", refused_at_submit, kJobs, taken,
              ran);
}

TEST(FaceEngineTest, ShutdownAnswersEveryQueuedJobExactlyOnce) {
  auto engine = OpenEngine(1, 8);
  ASSERT_NE(engine, nullptr);
  Gate gate;
  ASSERT_TRUE(
      engine->Submit(Request(BlankJpeg()), [&](Result<FaceAnalysis>) { gate.Wait(); }).ok());
  gate.AwaitEntered();
  constexpr int kQueued = 6;
  std::atomic<int> calls{0}, unavailable{0};
  for (int i = 0; i < kQueued; ++i) {
    AnalyzeRequest r = Request(BlankJpeg(), Priority::kBulk);
    r.start_deadline = SystemClock::Instance().Monotonic() + std::chrono::seconds(60);
    ASSERT_TRUE(engine
                    ->Submit(std::move(r),
                             [&](Result<FaceAnalysis> a) {
                               ++calls;
                               if (a.status().code() == StatusCode::kUnavailable) ++unavailable;
                               EXPECT_TRUE(a.ok() || a.status().code() == StatusCode::kUnavailable)
                                   << a.status().ToString();
                             })
                    .ok());
  }
  // Destroy while the worker is held; whichever jobs it does not reach are answered
  // Unavailable by the destructor.
  std::thread closer([&] { engine.reset(); });
  gate.Open();
  closer.join();
  EXPECT_EQ(calls.load(), kQueued);
  std::printf("%d of %d queued jobs answered unavailable at shutdown\n", unavailable.load(),
              kQueued);
}

}  // namespace
}  // namespace facegate::face
