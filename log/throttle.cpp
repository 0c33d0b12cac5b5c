#include "log/throttle.hpp"

namespace wsvisor::log {

std::optional<repeats> throttle::admit(clock::time_point now, std::chrono::milliseconds interval) {
  if (open_ && now < until_) {
    ++held_;
    return std::nullopt;
  }
  repeats before{held_, window_};
  held_ = 0;
  open_ = true;
  until_ = now + interval;
  window_ = interval;
  return before;
}

std::optional<repeats> throttle::flush() {
  open_ = false;
  if (held_ == 0) return std::nullopt;
  repeats before{held_, window_};
  held_ = 0;
  return before;
}

}  // namespace wsvisor::log
