// Metrics: counters, gauges and histograms rendered in the Prometheus text format (0.0.4).
//
// A MetricsRegistry owns metric families; a family has a name, help text, a type and a fixed
// list of label names; each distinct set of label values is one child series. Updating a
// series is lock-free (atomics); creating a series or rendering takes the registry's mutex.
// Pointers returned by the registry stay valid for the registry's lifetime.
// Thread-safety: every method is safe to call from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace facegate {

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `upper_bounds` strictly ascending, no NaN (aborts otherwise); an implicit +Inf bucket
  // follows, so a trailing +Inf bound is dropped. NaN observations are ignored.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Take() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
  // No separate count: Take() derives it from the buckets, so _count always equals the +Inf
  // bucket even while other threads observe.
};

class MetricsRegistry {
 public:
  // Out of line: Family is only complete in metrics.cc.
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the series for `label_values` (same order as the family's label names), creating
  // the family on first use (the first help text wins). Asking for an existing name with
  // another type, other label names or (histograms) other bounds, passing a different number
  // of label values than label names, or using a name Prometheus does not accept is a
  // programming error: it prints a message to stderr and aborts, in release builds too.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const std::vector<std::string>& label_names = {},
                      const std::vector<std::string>& label_values = {});
  Gauge* GetGauge(const std::string& name, const std::string& help,
                  const std::vector<std::string>& label_names = {},
                  const std::vector<std::string>& label_values = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& upper_bounds,
                          const std::vector<std::string>& label_names = {},
                          const std::vector<std::string>& label_values = {});

  // The whole registry in the Prometheus text exposition format, families sorted by name.
  std::string RenderPrometheus() const;

  // Latency buckets in seconds suited to request handling (1 ms .. 10 s).
  static std::vector<double> LatencyBucketsSeconds();

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family;
  // Finds or creates the family; aborts on a mismatch or an invalid name. Requires mu_ held.
  // `upper_bounds` is only meaningful for histograms (already normalized).
  Family& GetFamily(const std::string& name, const std::string& help, Type type,
                    const std::vector<std::string>& label_names,
                    const std::vector<std::string>& label_values,
                    const std::vector<double>& upper_bounds);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;  // GUARDED_BY(mu_)
};

}  // namespace facegate
