#include "facegate/core/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

namespace facegate {
namespace {

// Misuse of the registry is a bug in the caller, not a run-time condition to recover from;
// unlike assert() this stays in release builds so a bad name never reaches a scrape.
[[noreturn]] void MetricsFatal(const std::string& message) {
  std::fprintf(stderr, "facegate metrics: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

// `message` is a callable returning the text, so the happy path builds no strings.
template <typename MessageFn>
void MetricsCheck(bool condition, MessageFn&& message) {
  if (!condition) MetricsFatal(message());
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = IsAsciiLetter(c) || c == '_' || c == ':' || (i > 0 && IsAsciiDigit(c));
    if (!ok) return false;
  }
  return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*, and names starting with "__" are reserved for Prometheus itself.
bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = IsAsciiLetter(c) || c == '_' || (i > 0 && IsAsciiDigit(c));
    if (!ok) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out = "[";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ", ";
    out += parts[i];
  }
  out += "]";
  return out;
}

// Shortest text that parses back to the same double ("0.005", "1", "1e+20"); the special
// values use the spellings the Prometheus text format expects.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

std::string FormatBoundsList(const std::vector<double>& bounds) {
  std::string out = "[";
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (i > 0) out += ", ";
    out += FormatDouble(bounds[i]);
  }
  out += "]";
  return out;
}

// Strictly ascending, no NaN; a trailing +Inf is implicit, so it is dropped rather than
// rendered twice.
std::vector<double> NormalizeBounds(std::vector<double> bounds) {
  if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity()) {
    bounds.pop_back();
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    MetricsCheck(!std::isnan(bounds[i]), [] { return std::string("histogram bound is NaN"); });
    MetricsCheck(i == 0 || bounds[i - 1] < bounds[i], [&] {
      return "histogram bounds must be strictly ascending: " + FormatBoundsList(bounds);
    });
  }
  return bounds;
}

// HELP text escapes backslash and newline.
std::string EscapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Label values also escape the double quote that delimits them.
std::string EscapeLabelValue(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}`, with an optional extra pair (histograms' `le`) last; empty when there are
// no pairs at all.
std::string FormatLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values, std::string_view extra_name = {},
                         std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += EscapeLabelValue(extra_value);
    out += '"';
  }
  out += '}';
  return out;
}

template <typename T, typename Make>
T* FindOrCreateChild(std::map<std::vector<std::string>, std::unique_ptr<T>>& children,
                     const std::vector<std::string>& label_values, Make make) {
  auto it = children.find(label_values);
  if (it == children.end()) it = children.emplace(label_values, make()).first;
  return it->second.get();
}

}  // namespace

// ---- Gauge ----------------------------------------------------------------------------------

void Gauge::Add(double d) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + d, std::memory_order_relaxed)) {
  }
}

// ---- Histogram ------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(NormalizeBounds(std::move(upper_bounds))),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  if (std::isnan(v)) return;
  // Prometheus buckets are "less than or equal": the first bound >= v; past the last bound
  // the index is bounds_.size(), the +Inf bucket.
  const size_t index =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  double current = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(current, current + v, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot snapshot;
  snapshot.upper_bounds = bounds_;
  snapshot.cumulative_counts.reserve(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

// ---- MetricsRegistry ------------------------------------------------------------------------

struct MetricsRegistry::Family {
  std::string help;
  Type type;
  std::vector<std::string> label_names;
  std::vector<double> upper_bounds;  // histograms only, normalized
  // Exactly one of these is used, per `type`. Children live behind unique_ptr so the
  // pointers handed out survive later insertions.
  std::map<std::vector<std::string>, std::unique_ptr<Counter>> counters;
  std::map<std::vector<std::string>, std::unique_ptr<Gauge>> gauges;
  std::map<std::vector<std::string>, std::unique_ptr<Histogram>> histograms;

  static const char* TypeName(Type t) {
    switch (t) {
      case Type::kCounter:
        return "counter";
      case Type::kGauge:
        return "gauge";
      case Type::kHistogram:
        return "histogram";
    }
    return "unknown";
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::GetFamily(const std::string& name,
                                                    const std::string& help, Type type,
                                                    const std::vector<std::string>& label_names,
                                                    const std::vector<std::string>& label_values,
                                                    const std::vector<double>& upper_bounds) {
  MetricsCheck(IsValidMetricName(name), [&] {
    return "invalid metric name '" + name + "' (must match [a-zA-Z_:][a-zA-Z0-9_:]*)";
  });
  auto it = families_.find(name);
  if (it == families_.end()) {
    std::set<std::string> seen;
    for (const std::string& label : label_names) {
      MetricsCheck(IsValidLabelName(label), [&] {
        return "metric '" + name + "': invalid label name '" + label +
               "' (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)";
      });
      MetricsCheck(type != Type::kHistogram || label != "le",
                   [&] { return "histogram '" + name + "': label name 'le' is reserved"; });
      MetricsCheck(seen.insert(label).second,
                   [&] { return "metric '" + name + "': duplicate label name '" + label + "'"; });
    }
    auto family = std::make_unique<Family>();
    family->help = help;
    family->type = type;
    family->label_names = label_names;
    family->upper_bounds = upper_bounds;
    it = families_.emplace(name, std::move(family)).first;
  }
  Family& family = *it->second;
  MetricsCheck(family.type == type, [&] {
    return "metric '" + name + "' is registered as a " + Family::TypeName(family.type) +
           ", requested as a " + Family::TypeName(type);
  });
  MetricsCheck(family.label_names == label_names, [&] {
    return "metric '" + name + "' is registered with label names " + Join(family.label_names) +
           ", requested with " + Join(label_names);
  });
  MetricsCheck(type != Type::kHistogram || family.upper_bounds == upper_bounds, [&] {
    return "histogram '" + name + "' is registered with bounds " +
           FormatBoundsList(family.upper_bounds) + ", requested with " +
           FormatBoundsList(upper_bounds);
  });
  MetricsCheck(label_values.size() == label_names.size(), [&] {
    return "metric '" + name + "': got " + std::to_string(label_values.size()) + " label values " +
           Join(label_values) + " for " + std::to_string(label_names.size()) + " label names " +
           Join(label_names);
  });
  return family;
}

Counter* MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names,
                                     const std::vector<std::string>& label_values) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = GetFamily(name, help, Type::kCounter, label_names, label_values, {});
  return FindOrCreateChild(family.counters, label_values,
                           [] { return std::make_unique<Counter>(); });
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& label_names,
                                 const std::vector<std::string>& label_values) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = GetFamily(name, help, Type::kGauge, label_names, label_values, {});
  return FindOrCreateChild(family.gauges, label_values, [] { return std::make_unique<Gauge>(); });
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::vector<double>& upper_bounds,
                                         const std::vector<std::string>& label_names,
                                         const std::vector<std::string>& label_values) {
  const std::vector<double> bounds = NormalizeBounds(upper_bounds);
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = GetFamily(name, help, Type::kHistogram, label_names, label_values, bounds);
  return FindOrCreateChild(family.histograms, label_values,
                           [&] { return std::make_unique<Histogram>(bounds); });
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family_ptr] : families_) {
    const Family& family = *family_ptr;
    out += "# HELP " + name + " " + EscapeHelp(family.help) + "\n";
    out += "# TYPE " + name + " " + Family::TypeName(family.type) + "\n";
    switch (family.type) {
      case Type::kCounter:
        for (const auto& [values, counter] : family.counters) {
          out += name + FormatLabels(family.label_names, values) + " " +
                 std::to_string(counter->Value()) + "\n";
        }
        break;
      case Type::kGauge:
        for (const auto& [values, gauge] : family.gauges) {
          out += name + FormatLabels(family.label_names, values) + " " +
                 FormatDouble(gauge->Value()) + "\n";
        }
        break;
      case Type::kHistogram:
        for (const auto& [values, histogram] : family.histograms) {
          const Histogram::Snapshot snapshot = histogram->Take();
          for (size_t i = 0; i < snapshot.upper_bounds.size(); ++i) {
            out += name + "_bucket" +
                   FormatLabels(family.label_names, values, "le",
                                FormatDouble(snapshot.upper_bounds[i])) +
                   " " + std::to_string(snapshot.cumulative_counts[i]) + "\n";
          }
          out += name + "_bucket" + FormatLabels(family.label_names, values, "le", "+Inf") + " " +
                 std::to_string(snapshot.cumulative_counts.back()) + "\n";
          const std::string labels = FormatLabels(family.label_names, values);
          out += name + "_sum" + labels + " " + FormatDouble(snapshot.sum) + "\n";
          out += name + "_count" + labels + " " + std::to_string(snapshot.count) + "\n";
        }
        break;
    }
  }
  return out;
}

std::vector<double> MetricsRegistry::LatencyBucketsSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10};
}

}  // namespace facegate
