#include "facegate/core/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace facegate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kThreads = 4;
constexpr int kPerThread = 100000;

template <typename Fn>
void RunOnThreads(Fn fn) {
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&fn, t] { fn(t); });
  for (std::thread& thread : threads) thread.join();
}

TEST(MetricsRenderTest, SmallRegistryRendersExactly) {
  MetricsRegistry registry;
  // Registered out of order: families sort by name, series by label values.
  Histogram* latency = registry.GetHistogram("fg_request_seconds", "Request latency.",
                                             {0.005, 0.5, 1}, {"route"}, {"/match"});
  registry
      .GetCounter("fg_requests_total", "Requests handled.", {"method", "code"}, {"POST", "500"})
      ->Increment();
  registry.GetCounter("fg_requests_total", "Requests handled.", {"method", "code"}, {"GET", "200"})
      ->Increment(3);
  registry.GetGauge("fg_enrolled_faces", "Faces in the gallery.")->Set(42);
  registry.GetGauge("fg_cpu_temperature_celsius", "CPU temperature.")->Set(-2.5);

  // Dyadic values keep the sum exact: 0.00390625 + 0.5 + 0.75 + 4.
  latency->Observe(0.00390625);  // le=0.005
  latency->Observe(0.5);         // exactly on a bound: counts in le=0.5
  latency->Observe(0.75);        // le=1
  latency->Observe(4);           // above every bound: only +Inf

  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP fg_cpu_temperature_celsius CPU temperature.\n"
            "# TYPE fg_cpu_temperature_celsius gauge\n"
            "fg_cpu_temperature_celsius -2.5\n"
            "# HELP fg_enrolled_faces Faces in the gallery.\n"
            "# TYPE fg_enrolled_faces gauge\n"
            "fg_enrolled_faces 42\n"
            "# HELP fg_request_seconds Request latency.\n"
            "# TYPE fg_request_seconds histogram\n"
            "fg_request_seconds_bucket{route=\"/match\",le=\"0.005\"} 1\n"
            "fg_request_seconds_bucket{route=\"/match\",le=\"0.5\"} 2\n"
            "fg_request_seconds_bucket{route=\"/match\",le=\"1\"} 3\n"
            "fg_request_seconds_bucket{route=\"/match\",le=\"+Inf\"} 4\n"
            "fg_request_seconds_sum{route=\"/match\"} 5.25390625\n"
            "fg_request_seconds_count{route=\"/match\"} 4\n"
            "# HELP fg_requests_total Requests handled.\n"
            "# TYPE fg_requests_total counter\n"
            "fg_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "fg_requests_total{method=\"POST\",code=\"500\"} 1\n");
}

TEST(MetricsRenderTest, HistogramWithoutLabelsHasOnlyLe) {
  MetricsRegistry registry;
  registry.GetHistogram("h", "H.", {1})->Observe(2);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP h H.\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum 2\n"
            "h_count 1\n");
}

TEST(MetricsRenderTest, GaugeValuesUseShortestRoundTripAndSpecialSpellings) {
  MetricsRegistry registry;
  const std::vector<std::string> labels = {"case"};
  registry.GetGauge("g", "G.", labels, {"a_tenth"})->Set(0.1);
  registry.GetGauge("g", "G.", labels, {"b_big"})->Set(1e20);
  registry.GetGauge("g", "G.", labels, {"c_pos_inf"})->Set(std::numeric_limits<double>::infinity());
  registry.GetGauge("g", "G.", labels, {"d_neg_inf"})
      ->Set(-std::numeric_limits<double>::infinity());
  registry.GetGauge("g", "G.", labels, {"e_nan"})->Set(std::nan(""));
  registry.GetGauge("g", "G.", labels, {"f_zero"})->Set(0);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP g G.\n"
            "# TYPE g gauge\n"
            "g{case=\"a_tenth\"} 0.1\n"
            "g{case=\"b_big\"} 1e+20\n"
            "g{case=\"c_pos_inf\"} +Inf\n"
            "g{case=\"d_neg_inf\"} -Inf\n"
            "g{case=\"e_nan\"} NaN\n"
            "g{case=\"f_zero\"} 0\n");
}

TEST(MetricsRenderTest, LatencyBoundsPrintShortest) {
  MetricsRegistry registry;
  registry.GetHistogram("lat", "L.", MetricsRegistry::LatencyBucketsSeconds());
  const std::string text = registry.RenderPrometheus();
  for (const char* le : {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.2", "0.3",
                         "0.5", "0.75", "1", "1.5", "2", "5", "10", "+Inf"}) {
    EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"" + std::string(le) + "\"} 0\n")) << le;
  }
  EXPECT_THAT(text, HasSubstr("lat_sum 0\nlat_count 0\n"));
}

TEST(MetricsEscapingTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  MetricsRegistry registry;
  registry.GetCounter("c_total", "C.", {"path"}, {"a\\b\"c\nd"})->Increment();
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP c_total C.\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsEscapingTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  MetricsRegistry registry;
  registry.GetGauge("g", "first line\nC:\\faces \"quoted\"")->Set(1);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP g first line\\nC:\\\\faces \"quoted\"\n"
            "# TYPE g gauge\n"
            "g 1\n");
}

TEST(MetricsRegistryTest, SameLabelsReturnSamePointer) {
  MetricsRegistry registry;
  Counter* a = registry.GetCounter("c_total", "C.", {"door"}, {"front"});
  Counter* b = registry.GetCounter("c_total", "C.", {"door"}, {"back"});
  EXPECT_NE(a, b);
  // Many more children must not move the ones already handed out.
  for (int i = 0; i < 1000; ++i) {
    registry.GetCounter("c_total", "C.", {"door"}, {"door" + std::to_string(i)});
  }
  EXPECT_EQ(registry.GetCounter("c_total", "C.", {"door"}, {"front"}), a);
  EXPECT_EQ(registry.GetCounter("c_total", "C.", {"door"}, {"back"}), b);

  Gauge* g = registry.GetGauge("g", "G.");
  EXPECT_EQ(registry.GetGauge("g", "G."), g);
  Histogram* h = registry.GetHistogram("h", "H.", {1, 2}, {"x"}, {"y"});
  EXPECT_EQ(registry.GetHistogram("h", "H.", {1, 2}, {"x"}, {"y"}), h);
}

TEST(MetricsRegistryTest, AcceptsValidPrometheusNames) {
  MetricsRegistry registry;
  EXPECT_NE(registry.GetCounter("fg:rule_x9_total", "C.", {"_a", "B9"}, {"1", "2"}), nullptr);
  EXPECT_NE(registry.GetCounter("_x", "C."), nullptr);
}

TEST(MetricsHistogramTest, BucketsUseLessOrEqualAndIgnoreNaN) {
  Histogram h({1, 2, 4});
  h.Observe(-7);  // below everything: first bucket
  h.Observe(1);   // on a bound: that bound's bucket
  h.Observe(1.5);
  h.Observe(2);
  h.Observe(4);
  h.Observe(4.0000001);
  h.Observe(std::numeric_limits<double>::infinity());
  h.Observe(std::nan(""));  // ignored: no count, no sum
  const Histogram::Snapshot s = h.Take();
  EXPECT_THAT(s.upper_bounds, ElementsAre(1, 2, 4));
  EXPECT_THAT(s.cumulative_counts, ElementsAre(2, 4, 5, 7));
  EXPECT_EQ(s.count, 7u);
  EXPECT_TRUE(std::isinf(s.sum));
}

TEST(MetricsHistogramTest, SumAndTrailingInfBound) {
  Histogram h({0.5, std::numeric_limits<double>::infinity()});  // +Inf is implicit
  h.Observe(0.25);
  h.Observe(3);
  const Histogram::Snapshot s = h.Take();
  EXPECT_THAT(s.upper_bounds, ElementsAre(0.5));
  EXPECT_THAT(s.cumulative_counts, ElementsAre(1, 2));
  EXPECT_EQ(s.sum, 3.25);
}

TEST(MetricsGaugeTest, AddAccumulates) {
  Gauge g;
  g.Add(2.5);
  g.Add(-1);
  EXPECT_EQ(g.Value(), 1.5);
  g.Set(10);
  g.Add(0.5);
  EXPECT_EQ(g.Value(), 10.5);
}

TEST(MetricsConcurrencyTest, CounterIncrementsSumExactly) {
  MetricsRegistry registry;
  RunOnThreads([&](int) {
    // Each thread looks the series up itself, so creation races too.
    Counter* c = registry.GetCounter("c_total", "C.", {"k"}, {"v"});
    for (int i = 0; i < kPerThread; ++i) c->Increment();
  });
  EXPECT_EQ(registry.GetCounter("c_total", "C.", {"k"}, {"v"})->Value(),
            static_cast<uint64_t>(kThreads) * kPerThread);
}

TEST(MetricsConcurrencyTest, GaugeAddsSumExactly) {
  Gauge g;
  RunOnThreads([&](int) {
    for (int i = 0; i < kPerThread; ++i) g.Add(1);
  });
  EXPECT_EQ(g.Value(), static_cast<double>(kThreads) * kPerThread);
}

TEST(MetricsConcurrencyTest, HistogramObservationsCountExactly) {
  MetricsRegistry registry;
  RunOnThreads([&](int t) {
    Histogram* h = registry.GetHistogram("h", "H.", {1, 2});
    // Threads observe 0.5, 1 (on a bound), 1.5 and 2.5: le=1, le=1, le=2, +Inf.
    const double value = t == 3 ? 2.5 : 0.5 + t * 0.5;
    for (int i = 0; i < kPerThread; ++i) h->Observe(value);
  });
  const Histogram::Snapshot s = registry.GetHistogram("h", "H.", {1, 2})->Take();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads) * kPerThread);
  EXPECT_THAT(s.cumulative_counts, ElementsAre(2u * kPerThread, 3u * kPerThread, 4u * kPerThread));
  // Every partial sum is a multiple of 0.5 below 2^53, so a lost update would show.
  EXPECT_EQ(s.sum, (0.5 + 1 + 1.5 + 2.5) * kPerThread);
}

class MetricsDeathTest : public ::testing::Test {
 protected:
  // The child re-executes the binary instead of forking a process that may have threads.
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(MetricsDeathTest, TypeMismatchAborts) {
  MetricsRegistry registry;
  registry.GetCounter("x_total", "X.");
  EXPECT_DEATH(registry.GetGauge("x_total", "X."),
               "metric 'x_total' is registered as a counter, requested as a gauge");
  EXPECT_DEATH(registry.GetHistogram("x_total", "X.", {1}),
               "registered as a counter, requested as a histogram");
}

TEST_F(MetricsDeathTest, WrongLabelCountAborts) {
  MetricsRegistry registry;
  EXPECT_DEATH(registry.GetCounter("x_total", "X.", {"a", "b"}, {"1"}),
               "got 1 label values \\[1\\] for 2 label names \\[a, b\\]");
  registry.GetCounter("y_total", "Y.", {"a"}, {"1"});
  EXPECT_DEATH(registry.GetCounter("y_total", "Y.", {"a"}, {}), "got 0 label values");
}

TEST_F(MetricsDeathTest, LabelNamesMismatchAborts) {
  MetricsRegistry registry;
  registry.GetCounter("x_total", "X.", {"a"}, {"1"});
  EXPECT_DEATH(registry.GetCounter("x_total", "X.", {"b"}, {"1"}),
               "registered with label names \\[a\\], requested with \\[b\\]");
}

TEST_F(MetricsDeathTest, HistogramBoundsMismatchAborts) {
  MetricsRegistry registry;
  registry.GetHistogram("h", "H.", {1, 2});
  EXPECT_DEATH(registry.GetHistogram("h", "H.", {1, 3}),
               "registered with bounds \\[1, 2\\], requested with \\[1, 3\\]");
}

TEST_F(MetricsDeathTest, InvalidNamesAbort) {
  MetricsRegistry registry;
  EXPECT_DEATH(registry.GetCounter("9lives", "X."), "invalid metric name '9lives'");
  EXPECT_DEATH(registry.GetCounter("has-dash", "X."), "invalid metric name");
  EXPECT_DEATH(registry.GetCounter("", "X."), "invalid metric name");
  EXPECT_DEATH(registry.GetCounter("x", "X.", {"__reserved"}, {"v"}),
               "invalid label name '__reserved'");
  EXPECT_DEATH(registry.GetCounter("x", "X.", {"a:b"}, {"v"}), "invalid label name 'a:b'");
  EXPECT_DEATH(registry.GetCounter("x", "X.", {"1a"}, {"v"}), "invalid label name '1a'");
  EXPECT_DEATH(registry.GetCounter("x", "X.", {"a", "a"}, {"1", "2"}), "duplicate label name");
  EXPECT_DEATH(registry.GetHistogram("h", "H.", {1}, {"le"}, {"1"}), "'le' is reserved");
}

TEST_F(MetricsDeathTest, UnsortedBoundsAbort) {
  EXPECT_DEATH(Histogram({2, 1}), "strictly ascending");
  EXPECT_DEATH(Histogram({1, 1}), "strictly ascending");
  EXPECT_DEATH(Histogram({std::nan("")}), "NaN");
}

}  // namespace
}  // namespace facegate
