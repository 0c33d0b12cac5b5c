#include "actors/session/answer_order.hpp"

#include <algorithm>

namespace wsvisor {

bool answer_order::awaiting(std::uint64_t cseq) const {
  return std::any_of(answers_.begin(), answers_.end(),
                     [cseq](const pending_answer& a) { return a.cseq == cseq; });
}

std::uint64_t answer_order::reserve(std::uint64_t cseq) {
  answers_.push_back({++last_ticket_, cseq, {}, {}});
  return last_ticket_;
}

void answer_order::reserve_undecided(std::string channel) {
  answers_.push_back({++last_ticket_, 0, {}, std::move(channel)});
}

void answer_order::queue(frame_text frame) {
  answers_.push_back({++last_ticket_, 0, std::move(frame), {}});
}

void answer_order::fill(std::uint64_t ticket, frame_text frame) {
  for (auto& a : answers_)
    if (a.ticket == ticket) {
      a.frame = std::move(frame);
      return;
    }
}

}  // namespace wsvisor
