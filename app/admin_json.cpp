// The admin API's JSON (docs/api.md): pure functions of app/admin.hpp,
// safe from any thread; their field names are the API's contract.

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "actors/cluster/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"
#include "app/admin.hpp"
#include "config/units.hpp"

namespace wsvisor {

namespace json = boost::json;

namespace {

json::value text_or_null(const std::string& s) {
  // Parentheses: json::value{x} would be an array holding x.
  return s.empty() ? json::value{} : json::value(json::string{s});
}

json::value connection_node_of(const session_info& s, const std::string& node,
                               const node_names& names) {
  if (!s.attached) return nullptr;
  if (s.connection_node.empty()) return json::string{node};
  auto it = names.find(s.connection_node);
  return json::string{it == names.end() ? s.connection_node : it->second};
}

json::object session_object(const session_info& s, const std::string& node,
                            const node_names& names) {
  json::array channels;
  for (auto& c : s.channels) channels.emplace_back(json::string{c});
  json::object replay{{"messages", s.buffered},
                      {"bytes", s.buffered_bytes},
                      {"max_messages", s.buffer_max},
                      {"max_bytes", s.buffer_max_bytes}};
  return {{"id", s.id},
          {"state", s.attached ? "attached" : "detached"},
          {"node", node},
          {"subject", text_or_null(s.subject)},
          {"subscriptions", std::move(channels)},
          {"seq", s.seq},
          {"acked", s.acked},
          {"replay", std::move(replay)},
          {"since_ms", s.since_ms},
          {"expires_ms", s.attached ? json::value{} : json::value(s.expires_ms)},
          {"remote", s.attached ? text_or_null(s.peer) : json::value{}},
          {"connection_node", connection_node_of(s, node, names)},
          {"replica", s.replica.empty() ? json::value{}
                                        : json::value(json::object{{"node", s.replica},
                                                                   {"seq", s.replica_seq}})}};
}

json::object tree_object(const supervision_node& n, std::chrono::system_clock::time_point now) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  json::array children;
  for (std::size_t i = 0; i < n.tree.children.size(); ++i) {
    auto& c = n.tree.children[i];
    json::value restart_at, restart_in;
    if (c.restart_at) {
      restart_at = duration_cast<milliseconds>(c.restart_at->time_since_epoch()).count();
      restart_in =
          std::max<std::int64_t>(0, duration_cast<milliseconds>(*c.restart_at - now).count());
    }
    json::value nested;
    // A nested supervisor that did not answer has no tree (and no name).
    if (i < n.nested.size() && n.nested[i] && !n.nested[i]->tree.name.empty())
      nested = tree_object(*n.nested[i], now);
    children.emplace_back(json::object{{"name", c.name},
                                       {"state", to_string(c.state)},
                                       {"restart", to_string(c.restart)},
                                       {"policy", c.policy},
                                       {"max_restarts", c.max_restarts},
                                       {"restart_window_ms", c.restart_window.count()},
                                       {"restarts", c.restarts},
                                       {"last_exit_reason", text_or_null(c.last_exit_reason)},
                                       {"restart_at_ms", restart_at},
                                       {"restart_in_ms", restart_in},
                                       {"supervisor", std::move(nested)}});
  }
  return {{"name", n.tree.name},
          {"strategy", to_string(n.tree.strategy)},
          {"children", std::move(children)}};
}

}  // namespace

std::string session_json(const session_info& s, const std::string& node, const node_names& names) {
  return json::serialize(session_object(s, node, names));
}

std::string sessions_json(const std::vector<session_info>& page, const std::string& node,
                          const std::string& next, const node_names& names) {
  json::array sessions;
  for (auto& s : page) sessions.emplace_back(session_object(s, node, names));
  return json::serialize(json::object{
      {"node", node}, {"sessions", std::move(sessions)}, {"next", text_or_null(next)}});
}

std::string supervision_json(const supervision_node& root, const std::string& node,
                             std::chrono::system_clock::time_point now) {
  return json::serialize(json::object{{"node", node}, {"supervisor", tree_object(root, now)}});
}

std::string channels_json(const std::vector<channel_info>& page,
                          const std::vector<std::string>& upstreams, const std::string& node,
                          const std::string& next) {
  json::array channels;
  for (std::size_t i = 0; i < page.size(); ++i) {
    auto& c = page[i];
    auto owner = i < upstreams.size() ? upstreams[i] : std::string{};
    channels.emplace_back(json::object{{"name", c.name},
                                       {"subscribers", c.subscribers},
                                       {"peers", c.peers},
                                       {"owned", c.owned},
                                       {"upstream", text_or_null(owner)}});
  }
  return json::serialize(json::object{
      {"node", node}, {"channels", std::move(channels)}, {"next", text_or_null(next)}});
}

std::string merge_cluster_pages(net::admin_request::kind what, const std::vector<node_page>& pages,
                                std::uint64_t limit, const std::string& node) {
  bool sessions = what == net::admin_request::kind::list_sessions;
  std::string_view list = sessions ? "sessions" : "channels";
  std::string_view key = sessions ? "id" : "name";
  json::array answered, missing;
  // (key, node, row) of every answer; the end of the shortest page that has more.
  std::vector<std::tuple<std::string, std::string, json::object>> rows;
  std::optional<std::string> bound;
  for (auto& page : pages) {
    json::value parsed;
    if (!page.body.empty()) {
      boost::system::error_code ec;
      parsed = json::parse(page.body, ec);
      if (ec || !parsed.is_object()) parsed = nullptr;
    }
    if (!parsed.is_object()) {
      missing.emplace_back(json::object{
          {"node", page.node},
          {"error", page.error.empty() ? std::string{"internal"} : page.error},
          {"message",
           page.error.empty() ? std::string{"the node's answer was not JSON"} : page.message}});
      continue;
    }
    answered.emplace_back(json::string{page.node});
    auto& obj = parsed.as_object();
    if (auto* next = obj.if_contains("next"); next && next->is_string()) {
      std::string end{next->as_string()};
      if (!bound || end < *bound) bound = end;
    }
    if (auto* items = obj.if_contains(list); items && items->is_array())
      for (auto& item : items->as_array()) {
        if (!item.is_object()) continue;
        auto row = item.as_object();
        auto* k = row.if_contains(key);
        if (!k || !k->is_string()) continue;
        std::string sort_key{k->as_string()};  // before the insertion below moves it
        row["node"] = page.node;
        rows.emplace_back(std::move(sort_key), page.node, std::move(row));
      }
  }
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  json::array out;
  std::string next;
  std::uint64_t keys = 0;
  std::string last_key;
  for (auto& [k, n, row] : rows) {
    if (bound && k > *bound) break;  // the next page of a node that has more
    if (out.empty() || k != last_key) {
      if (keys == limit) {
        next = last_key;
        break;
      }
      ++keys;
      last_key = k;
    }
    out.emplace_back(std::move(row));
  }
  if (next.empty() && bound) next = *bound;
  json::object body{{"node", node},
                    {"scope", "cluster"},
                    {"answered", std::move(answered)},
                    {"missing", std::move(missing)}};
  body[list] = std::move(out);
  body["next"] = text_or_null(next);
  return json::serialize(body);
}

std::string cluster_json(const admin_context& ctx,
                         const std::vector<cluster_member_info>& members) {
  json::array rows;
  for (auto& m : members)
    rows.emplace_back(json::object{
        {"node", text_or_null(m.node)},
        {"address", text_or_null(m.address)},
        {"public_url", text_or_null(m.public_url)},
        {"state", m.state},
        {"since_ms", m.since_ms == 0 ? json::value{} : json::value(m.since_ms)},
        {"last_seen_ms", m.last_seen_ms == 0 ? json::value{} : json::value(m.last_seen_ms)}});
  return json::serialize(
      json::object{{"node", ctx.node},
                   {"enabled", ctx.cluster},
                   {"address", ctx.cluster ? text_or_null(ctx.address) : json::value{}},
                   {"public_url", ctx.cluster ? text_or_null(ctx.public_url) : json::value{}},
                   {"members", std::move(rows)}});
}

}  // namespace wsvisor
