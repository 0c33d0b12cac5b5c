#pragma once

/// Metric primitives and a registry that writes them in the Prometheus text
/// exposition format 0.0.4 (docs/metrics.md).
///
/// Thread-safety: counters, gauges and histograms are updated with relaxed
/// atomic operations from any thread, without locks; they are meant for hot
/// paths. A family's `with(labels)` takes a mutex (find or create the series):
/// call it on rare events, or once and keep the reference (series live as long
/// as the registry). Metrics are registered on one thread before they are
/// shared; `expose` may then run on any thread, concurrently with updates.
///
/// Names and help texts are ours and are not escaped beyond the format's rules;
/// label values may be anything and are escaped.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

namespace wsvisor::metrics {

/// A monotonically increasing count.
class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down.
class gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d = 1) { value_.fetch_add(d, std::memory_order_relaxed); }
  void sub(std::int64_t d = 1) { value_.fetch_sub(d, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

/// Durations counted into fixed buckets (upper bounds in seconds, ascending).
class histogram {
 public:
  explicit histogram(std::vector<double> bounds_seconds);

  /// Counts `d` into the first bucket whose bound is >= d (negative: 0).
  void observe(std::chrono::nanoseconds d);

  struct snapshot {
    std::vector<double> bounds;             // seconds, ascending, without +Inf
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    std::uint64_t count = 0;
    double sum = 0;  // seconds
  };
  snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::int64_t> bounds_ns_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (last: above all)
  std::atomic<std::uint64_t> sum_ns_{0};
};

/// Series of one metric told apart by label values (one per label name, in
/// the family's order).
template <class T>
class family {
 public:
  explicit family(std::vector<std::string> label_names) : names_(std::move(label_names)) {}

  /// The series for `values`, created at 0 on first use. Stable reference.
  T& with(const std::vector<std::string>& values) {
    std::lock_guard guard{mutex_};
    auto& slot = series_[values];
    if (!slot) slot = std::make_unique<T>();
    return *slot;
  }

  const std::vector<std::string>& label_names() const { return names_; }

  /// Removes the series whose label values satisfy `pred`: a scrape no
  /// longer shows them. A reference from `with` to one of them must not be
  /// used afterwards.
  template <class Pred>
  void remove_if(Pred pred) {
    std::lock_guard guard{mutex_};
    std::erase_if(series_, [&pred](const auto& entry) { return pred(entry.first); });
  }

  /// Calls f(values, series) for each series, in label-value order.
  template <class F>
  void for_each(F&& f) const {
    std::lock_guard guard{mutex_};
    for (const auto& [values, series] : series_) f(values, *series);
  }

 private:
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
};

/// The metrics of one node, in registration order.
class registry {
 public:
  counter& add_counter(std::string name, std::string help);
  gauge& add_gauge(std::string name, std::string help);
  histogram& add_histogram(std::string name, std::string help, std::vector<double> bounds_seconds);
  family<counter>& add_counter_family(std::string name, std::string help,
                                      std::vector<std::string> label_names);
  family<gauge>& add_gauge_family(std::string name, std::string help,
                                  std::vector<std::string> label_names);
  /// A gauge read at scrape time; `read` runs on the scraping thread.
  void add_callback_gauge(std::string name, std::string help, std::function<double()> read);

  /// Every metric in the text exposition format 0.0.4.
  std::string expose() const;

 private:
  using body = std::variant<std::unique_ptr<counter>, std::unique_ptr<gauge>,
                            std::unique_ptr<histogram>, std::unique_ptr<family<counter>>,
                            std::unique_ptr<family<gauge>>, std::function<double()>>;
  struct entry {
    std::string name;
    std::string help;
    body metric;
  };
  template <class T>
  T& add(std::string name, std::string help, std::unique_ptr<T> metric);
  std::vector<entry> entries_;
};

/// A label value escaped for the exposition format (\\, \" and \n).
std::string escape_label_value(std::string_view value);

/// A sample value as the exposition format writes it: integers without a
/// fraction, +Inf, -Inf, NaN.
std::string format_value(double v);

}  // namespace wsvisor::metrics
