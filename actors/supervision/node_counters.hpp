#pragma once

/// The node's metrics (metrics/node_metrics.hpp) as a supervisor's counters
/// (supervisor_options::counters): the one place where the reusable
/// supervisor meets the session server's measurements. Header-only; whoever
/// includes it links wsvisor_metrics.

#include <memory>
#include <string>
#include <utility>

#include "actors/supervision/supervisor.hpp"
#include "metrics/node_metrics.hpp"

namespace wsvisor {

/// Counters that add to `metrics`' supervisor families; null when `metrics` is.
inline supervisor_counters_ptr counters_of(node_metrics_ptr metrics) {
  class node_counters final : public supervisor_counters {
   public:
    explicit node_counters(node_metrics_ptr m) : m_(std::move(m)) {}
    void restarted(const std::string& supervisor, const std::string& child,
                   const std::string& policy) override {
      m_->supervisor_restarts.with({supervisor, child, policy}).inc();
    }
    void given_up(const std::string& supervisor, const std::string& child,
                  const std::string& policy) override {
      m_->supervisor_give_ups.with({supervisor, child, policy}).inc();
    }

   private:
    node_metrics_ptr m_;
  };
  if (!metrics) return nullptr;
  return std::make_shared<node_counters>(std::move(metrics));
}

}  // namespace wsvisor
