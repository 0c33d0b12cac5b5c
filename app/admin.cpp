#include "app/admin.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "actors/errors.hpp"
#include "config/units.hpp"

namespace wsvisor {

namespace json = boost::json;

namespace {

// Nested supervisors are followed this deep; the tree is the node's own
// configuration, so this only guards against a cycle.
constexpr int max_depth = 8;

json::value text_or_null(const std::string& s) {
  // Parentheses: json::value{x} would be an array holding x.
  return s.empty() ? json::value{} : json::value(json::string{s});
}

json::object session_object(const session_info& s, const std::string& node) {
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
          {"remote", s.attached ? text_or_null(s.peer) : json::value{}}};
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

net::admin_outcome ok(std::string body) { return {.status = 200, .body = std::move(body)}; }

net::admin_outcome failure(caf::actor_system& sys, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    return {.status = 504, .error = "timeout", .message = "the node did not answer in time"};
  if (err == errc::unknown_session || err == caf::sec::request_receiver_down)
    return {.status = 404, .error = "not_found", .message = "no such session on this node"};
  if (err == errc::not_attached)
    return {.status = 409, .error = "not_attached", .message = "the session has no connection"};
  return {.status = 500, .error = "internal", .message = describe(sys, err)};
}

net::admin_outcome unavailable(std::string_view what) {
  return {.status = 503,
          .error = "unavailable",
          .message = "the " + std::string{what} + " is not running (restarting?)"};
}

caf::actor named(caf::actor_system& sys, caf::atom_value name) {
  return caf::actor_cast<caf::actor>(sys.registry().get(name));
}

// -- one actor per request ----------------------------------------------------

using self_ptr = caf::event_based_actor*;

void list_sessions(self_ptr self, admin_context ctx, net::admin_request req,
                   net::admin_reply reply) {
  auto registry = named(self->home_system(), session_registry_name);
  if (!registry) return reply(unavailable("session registry"));
  self->request(registry, ctx.timeout, adm_list_atom::value, req.after, req.limit)
      .then(
          [self, ctx, req, reply, registry](std::vector<std::string>& ids, std::vector<caf::actor>&,
                                            bool more) {
            struct gather {
              std::vector<std::optional<session_info>> infos;
              std::size_t pending = 0;
            };
            auto g = std::make_shared<gather>();
            g->infos.resize(ids.size());
            g->pending = ids.size();
            auto next = more && !ids.empty() ? ids.back() : std::string{};
            auto finish = [g, ctx, req, reply, next] {
              std::vector<session_info> page;
              for (auto& info : g->infos) {
                if (!info) continue;  // ended meanwhile, or did not answer
                if (!req.state.empty() && info->attached != (req.state == "attached")) continue;
                page.push_back(std::move(*info));
              }
              reply(ok(sessions_json(page, ctx.node, next)));
            };
            if (ids.empty()) return finish();
            // By id: the registry answers for a parked session itself.
            for (std::size_t i = 0; i < ids.size(); ++i)
              self->request(registry, ctx.timeout, adm_info_atom::value, ids[i])
                  .then(
                      [g, i, finish](session_info& info) {
                        g->infos[i] = std::move(info);
                        if (--g->pending == 0) finish();
                      },
                      [g, finish](caf::error&) {
                        if (--g->pending == 0) finish();
                      });
          },
          [self, reply](caf::error& err) { reply(failure(self->home_system(), err)); });
}

// Asks the registry `what` of the session; `answer` turns the reply into JSON.
template <class Atom, class Answer>
void ask_session(self_ptr self, const admin_context& ctx, const net::admin_request& req,
                 net::admin_reply reply, Atom what, Answer answer) {
  auto registry = named(self->home_system(), session_registry_name);
  if (!registry) return reply(unavailable("session registry"));
  auto on_error = [self, reply](caf::error& err) { reply(failure(self->home_system(), err)); };
  self->request(registry, ctx.timeout, what, req.id).then(answer, on_error);
}

void supervision(self_ptr self, admin_context ctx, net::admin_reply reply) {
  if (!ctx.root) return reply(unavailable("supervision tree"));
  auto top = std::make_shared<supervision_node>();
  auto pending = std::make_shared<std::size_t>(1);
  auto done = [top, pending, reply, node = ctx.node] {
    if (--*pending == 0) reply(ok(supervision_json(*top, node, std::chrono::system_clock::now())));
  };
  // Asks `who` for its tree into `into`, then its supervisor children.
  auto ask =
      std::make_shared<std::function<void(caf::actor, std::shared_ptr<supervision_node>, int)>>();
  *ask = [self, ctx, reply, top, done, pending, weak_ask = std::weak_ptr{ask}](
             caf::actor who, std::shared_ptr<supervision_node> into, int depth) {
    self->request(who, ctx.timeout, get_tree_atom::value)
        .then(
            [into, depth, done, pending, weak_ask](supervision_tree& tree) {
              into->tree = std::move(tree);
              into->nested.resize(into->tree.children.size());
              auto ask = weak_ask.lock();
              for (std::size_t i = 0; ask && i < into->tree.children.size(); ++i) {
                auto& c = into->tree.children[i];
                auto child = caf::actor_cast<caf::actor>(c.actor);
                if (!c.supervisor || !child || depth + 1 >= max_depth) continue;
                into->nested[i] = std::make_shared<supervision_node>();
                ++*pending;
                (*ask)(child, into->nested[i], depth + 1);
              }
              done();
            },
            [self, into, top, reply, done](caf::error& err) {
              // The root must answer; a nested supervisor that restarts
              // meanwhile is shown without its tree.
              if (into == top) return reply(failure(self->home_system(), err));
              into->tree = {};
              done();
            });
  };
  // The function holds itself only weakly; the actor keeps it alive.
  self->attach_functor([ask] {});
  (*ask)(ctx.root, top, 0);
}

void channels(self_ptr self, admin_context ctx, net::admin_request req, net::admin_reply reply) {
  auto broker = named(self->home_system(), broker_name);
  if (!broker) return reply(unavailable("broker"));
  self->request(broker, ctx.timeout, adm_chans_atom::value, req.after, req.limit)
      .then(
          [self, ctx, reply](std::vector<channel_info>& page, bool more) {
            auto next = more && !page.empty() ? page.back().name : std::string{};
            auto upstreams = named(self->home_system(), upstreams_name);
            bool owned = std::any_of(page.begin(), page.end(),
                                     [](const channel_info& c) { return c.owned; });
            auto shared = std::make_shared<std::vector<channel_info>>(std::move(page));
            auto answer = [shared, ctx, reply, next](const std::vector<upstream_status>& ups) {
              std::vector<std::string> owners;
              for (auto& c : *shared) {
                auto it = std::find_if(ups.begin(), ups.end(), [&](const upstream_status& u) {
                  return c.owned && u.channel == c.name;
                });
                owners.push_back(it == ups.end() ? std::string{} : it->name);
              }
              reply(ok(channels_json(*shared, owners, ctx.node, next)));
            };
            if (!owned || !upstreams) return answer({});
            self->request(upstreams, ctx.timeout, up_status_atom::value)
                .then([answer](std::vector<upstream_status>& ups) { answer(ups); },
                      [answer](caf::error&) { answer({}); });
          },
          [self, reply](caf::error& err) { reply(failure(self->home_system(), err)); });
}

caf::behavior admin_actor(self_ptr self, admin_context ctx, net::admin_request req,
                          net::admin_reply reply) {
  using kind = net::admin_request::kind;
  auto node = ctx.node;
  switch (req.what) {
    case kind::list_sessions:
      list_sessions(self, ctx, req, reply);
      break;
    case kind::get_session:
      ask_session(self, ctx, req, reply, adm_info_atom::value,
                  [reply, node](session_info& s) { reply(ok(session_json(s, node))); });
      break;
    case kind::end_session:
      ask_session(self, ctx, req, reply, adm_end_atom::value, [reply, id = req.id](caf::ok_atom) {
        reply(ok(json::serialize(json::object{{"id", id}, {"ended", true}})));
      });
      break;
    case kind::disconnect_session:
      ask_session(self, ctx, req, reply, adm_cut_atom::value, [reply, id = req.id](caf::ok_atom) {
        reply(ok(json::serialize(json::object{{"id", id}, {"disconnected", true}})));
      });
      break;
    case kind::supervision:
      supervision(self, ctx, reply);
      break;
    case kind::channels:
      channels(self, ctx, req, reply);
      break;
  }
  // The actor lives while its requests are pending and ends after the last
  // answer: a behaviour with no handlers and nothing pending quits.
  return {};
}

}  // namespace

void serve_admin(caf::actor_system& sys, const admin_context& ctx, net::admin_request req,
                 net::admin_reply reply) {
  sys.spawn(admin_actor, ctx, std::move(req), std::move(reply));
}

std::string session_json(const session_info& s, const std::string& node) {
  return json::serialize(session_object(s, node));
}

std::string sessions_json(const std::vector<session_info>& page, const std::string& node,
                          const std::string& next) {
  json::array sessions;
  for (auto& s : page) sessions.emplace_back(session_object(s, node));
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

}  // namespace wsvisor
