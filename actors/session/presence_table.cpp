#include "actors/session/presence_table.hpp"

#include <iterator>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace wsvisor {

std::size_t presence_table::members(const std::string& channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.size();
}

bool presence_table::has(const std::string& channel, std::string_view member) const {
  return find(channel, member) != nullptr;
}

const presence_table::row* presence_table::find(const std::string& channel,
                                                std::string_view member) const {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return nullptr;
  auto r = it->second.find(member);
  return r == it->second.end() ? nullptr : &r->second;
}

bool presence_table::apply(const std::string& channel, std::string_view member,
                           std::string_view subject_json, proto::presence_state state,
                           std::uint64_t origin, std::uint64_t counter) {
  auto& rows = channels_[channel];
  auto it = rows.find(member);
  if (it != rows.end() && it->second.origin == origin && it->second.counter > counter) {
    if (rows.empty()) channels_.erase(channel);
    return false;
  }
  if (state == proto::presence_state::gone) {
    if (it == rows.end()) {
      if (rows.empty()) channels_.erase(channel);
      return false;
    }
    rows.erase(it);
    --rows_;
    if (rows.empty()) channels_.erase(channel);
    return true;
  }
  bool changed = it == rows.end() || it->second.state != state;
  if (it == rows.end()) {
    it = rows.emplace(std::string{member}, row{}).first;
    ++rows_;
  }
  it->second = row{std::string{subject_json}, state, origin, counter};
  return changed;
}

std::vector<proto::shared_body> presence_table::rows_from(const std::string& channel,
                                                          std::uint64_t origin) const {
  std::vector<proto::shared_body> out;
  auto it = channels_.find(channel);
  if (it == channels_.end()) return out;
  for (auto& [member, r] : it->second)
    if (r.origin == origin)
      out.push_back(proto::encode_presence_body(channel, member, r.subject_json, r.state));
  return out;
}

void presence_table::merge(const std::string& channel, std::uint64_t origin, std::uint64_t taken_at,
                           const std::vector<std::string>& bodies) {
  std::set<std::string, std::less<>> listed;
  for (auto& body : bodies) {
    auto f = proto::read_presence_body(body);
    if (!f || f->channel != channel || f->state == proto::presence_state::gone) continue;
    listed.emplace(f->member);
    apply(channel, f->member, f->subject_json, f->state, origin, taken_at);
  }
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  for (auto r = it->second.begin(); r != it->second.end();) {
    bool stale =
        r->second.origin == origin && r->second.counter <= taken_at && listed.count(r->first) == 0;
    if (stale) {
      r = it->second.erase(r);
      --rows_;
    } else {
      ++r;
    }
  }
  if (it->second.empty()) channels_.erase(it);
}

std::string presence_table::members_json(const std::string& channel) const {
  std::string out = "[";
  if (auto it = channels_.find(channel); it != channels_.end())
    for (auto& [member, r] : it->second) {
      if (out.size() > 1) out += ',';
      out += R"({"member":")";
      out += member;
      out += R"(","subject":)";
      out += r.subject_json;
      out += R"(,"state":")";
      out += proto::to_string(r.state);
      out += R"("})";
    }
  out += ']';
  return out;
}

std::vector<presence_table::change> presence_table::away_from(std::uint64_t origin) {
  std::vector<change> changed;
  for (auto& [channel, rows] : channels_)
    for (auto& [member, r] : rows)
      if (r.origin == origin && r.state != proto::presence_state::away) {
        r.state = proto::presence_state::away;
        changed.push_back({channel, member, r.subject_json});
      }
  return changed;
}

std::vector<presence_table::change> presence_table::drop_from(std::uint64_t origin) {
  std::vector<change> dropped;
  for (auto c = channels_.begin(); c != channels_.end();) {
    auto& rows = c->second;
    for (auto r = rows.begin(); r != rows.end();) {
      if (r->second.origin == origin && r->second.state == proto::presence_state::away) {
        dropped.push_back({c->first, r->first, r->second.subject_json});
        r = rows.erase(r);
        --rows_;
      } else {
        ++r;
      }
    }
    c = rows.empty() ? channels_.erase(c) : std::next(c);
  }
  return dropped;
}

}  // namespace wsvisor
