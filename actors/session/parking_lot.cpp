#include "actors/session/parking_lot.hpp"

#include <algorithm>
#include <utility>

namespace wsvisor {

void parking_lot::file(parked_entry& e) {
  if (e.filed) return;
  for (auto& channel : e.rec.channels) by_channel_[channel].push_back(&e);
  e.filed = true;
}

void parking_lot::unfile(parked_entry& e) {
  if (!e.filed) return;
  for (auto& channel : e.rec.channels) {
    auto it = by_channel_.find(channel);
    if (it == by_channel_.end()) continue;
    auto& list = it->second;
    // Order within a channel does not matter: swap with the last, pop.
    if (auto pos = std::find(list.begin(), list.end(), &e); pos != list.end()) {
      *pos = list.back();
      list.pop_back();
    }
    if (list.empty()) by_channel_.erase(it);
  }
  e.filed = false;
}

const std::vector<parked_entry*>& parking_lot::on(const std::string& channel) const {
  static const std::vector<parked_entry*> none;
  auto it = by_channel_.find(channel);
  return it == by_channel_.end() ? none : it->second;
}

void parking_lot::queue(parked_entry& e) {
  if (e.queued != parked_entry::not_queued) return;
  e.queued = heap_.size();
  heap_.push_back(&e);
  sift_up(e.queued);
}

void parking_lot::unqueue(parked_entry& e) {
  auto i = e.queued;
  if (i == parked_entry::not_queued) return;
  auto last = heap_.size() - 1;
  if (i != last) swap_at(i, last);
  heap_.pop_back();
  e.queued = parked_entry::not_queued;
  if (i < heap_.size()) {
    // The former last entry now sits at i: it may belong above or below.
    auto* moved = heap_[i];
    sift_up(i);
    sift_down(moved->queued);
  }
  if (heap_.empty()) heap_.shrink_to_fit();
}

void parking_lot::swap_at(std::size_t a, std::size_t b) {
  std::swap(heap_[a], heap_[b]);
  heap_[a]->queued = a;
  heap_[b]->queued = b;
}

void parking_lot::sift_up(std::size_t i) {
  while (i > 0) {
    auto parent = (i - 1) / 2;
    if (!earlier(i, parent)) return;
    swap_at(i, parent);
    i = parent;
  }
}

void parking_lot::sift_down(std::size_t i) {
  for (;;) {
    auto smallest = i;
    auto left = 2 * i + 1;
    auto right = left + 1;
    if (left < heap_.size() && earlier(left, smallest)) smallest = left;
    if (right < heap_.size() && earlier(right, smallest)) smallest = right;
    if (smallest == i) return;
    swap_at(i, smallest);
    i = smallest;
  }
}

}  // namespace wsvisor
