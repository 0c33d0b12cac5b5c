#include "metrics/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <type_traits>

namespace wsvisor::metrics {

histogram::histogram(std::vector<double> bounds_seconds)
    : bounds_(std::move(bounds_seconds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
  for (auto b : bounds_) bounds_ns_.push_back(static_cast<std::int64_t>(std::llround(b * 1e9)));
}

void histogram::observe(std::chrono::nanoseconds d) {
  auto ns = std::max<std::int64_t>(d.count(), 0);
  auto it = std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns);
  buckets_[static_cast<std::size_t>(it - bounds_ns_.begin())].fetch_add(1,
                                                                        std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s{.bounds = bounds_};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // The count is the +Inf bucket, so the two always agree in one scrape even
  // while observations race with it; the sum may run a little ahead.
  s.count = running;
  s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

template <class T>
T& registry::add(std::string name, std::string help, std::unique_ptr<T> metric) {
  auto& ref = *metric;
  entries_.push_back(entry{std::move(name), std::move(help), std::move(metric)});
  return ref;
}

counter& registry::add_counter(std::string name, std::string help) {
  return add(std::move(name), std::move(help), std::make_unique<counter>());
}

gauge& registry::add_gauge(std::string name, std::string help) {
  return add(std::move(name), std::move(help), std::make_unique<gauge>());
}

histogram& registry::add_histogram(std::string name, std::string help,
                                   std::vector<double> bounds_seconds) {
  return add(std::move(name), std::move(help),
             std::make_unique<histogram>(std::move(bounds_seconds)));
}

family<counter>& registry::add_counter_family(std::string name, std::string help,
                                              std::vector<std::string> label_names) {
  return add(std::move(name), std::move(help),
             std::make_unique<family<counter>>(std::move(label_names)));
}

family<gauge>& registry::add_gauge_family(std::string name, std::string help,
                                          std::vector<std::string> label_names) {
  return add(std::move(name), std::move(help),
             std::make_unique<family<gauge>>(std::move(label_names)));
}

void registry::add_callback_gauge(std::string name, std::string help,
                                  std::function<double()> read) {
  entries_.push_back(entry{std::move(name), std::move(help), std::move(read)});
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest form that reads back as the same double, never in exponent
  // notation: bucket bounds read as people write them (0.0001, not 1e-04).
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (ec != std::errc{}) return "NaN";
  return std::string(buf, end);
}

namespace {

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// {a="x",b="y"}, or nothing without labels; `extra` is appended (le="...").
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i] + "=\"" + escape_label_value(values[i]) + '"';
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  return out + '}';
}

void header(std::string& out, const std::string& name, const std::string& help,
            std::string_view type) {
  out += "# HELP " + name + ' ' + escape_help(help) + '\n';
  out += "# TYPE " + name + ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, const std::string& labels,
            const std::string& value) {
  out += name + labels + ' ' + value + '\n';
}

}  // namespace

std::string registry::expose() const {
  std::string out;
  for (const auto& e : entries_) {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, std::unique_ptr<counter>>) {
            header(out, e.name, e.help, "counter");
            sample(out, e.name, {}, std::to_string(m->value()));
          } else if constexpr (std::is_same_v<T, std::unique_ptr<gauge>>) {
            header(out, e.name, e.help, "gauge");
            sample(out, e.name, {}, std::to_string(m->value()));
          } else if constexpr (std::is_same_v<T, std::function<double()>>) {
            header(out, e.name, e.help, "gauge");
            sample(out, e.name, {}, format_value(m()));
          } else if constexpr (std::is_same_v<T, std::unique_ptr<histogram>>) {
            header(out, e.name, e.help, "histogram");
            auto s = m->read();
            for (std::size_t i = 0; i < s.bounds.size(); ++i)
              sample(out, e.name + "_bucket",
                     label_set({}, {}, "le=\"" + format_value(s.bounds[i]) + '"'),
                     std::to_string(s.cumulative[i]));
            sample(out, e.name + "_bucket", "{le=\"+Inf\"}", std::to_string(s.cumulative.back()));
            sample(out, e.name + "_sum", {}, format_value(s.sum));
            sample(out, e.name + "_count", {}, std::to_string(s.count));
          } else {
            bool is_counter = std::is_same_v<T, std::unique_ptr<family<counter>>>;
            header(out, e.name, e.help, is_counter ? "counter" : "gauge");
            m->for_each([&](const std::vector<std::string>& values, const auto& series) {
              sample(out, e.name, label_set(m->label_names(), values),
                     std::to_string(series.value()));
            });
          }
        },
        e.metric);
  }
  return out;
}

}  // namespace wsvisor::metrics
