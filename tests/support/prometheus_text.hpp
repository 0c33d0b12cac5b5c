#pragma once

/// A small reader of the Prometheus text exposition format (0.0.4) for tests:
/// enough to check what wsvisor writes, and strict about it (a malformed line
/// is reported, not skipped).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsvisor::test {

struct prom_sample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

struct prom_text {
  std::vector<prom_sample> samples;          // in order
  std::map<std::string, std::string> types;  // # TYPE name type
  std::map<std::string, std::string> help;   // # HELP name text (unescaped)
  std::vector<std::string> errors;           // lines that could not be read

  /// The value of the one sample with this name and exactly these labels.
  std::optional<double> value(std::string_view name,
                              const std::map<std::string, std::string>& labels = {}) const;

  /// value() or 0 when absent (a labelled series appears on first use).
  double count(std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
    return value(name, labels).value_or(0);
  }
};

prom_text parse_prom_text(std::string_view text);

}  // namespace wsvisor::test
