#include "app/admin.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <utility>

#include "actors/cluster/messages.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"
#include "actors/upstream/messages.hpp"
#include "config/units.hpp"

namespace wsvisor {

namespace json = boost::json;

namespace {

// Nested supervisors are followed this deep; the tree is the node's own
// configuration, so this only guards against a cycle.
constexpr int max_depth = 8;

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

// The names of the nodes by CAF node id: ours, and the cluster's members as
// the cluster actor knows them (ours only on a single node, or when it does
// not answer in time).
void with_names(self_ptr self, const admin_context& ctx, std::function<void(node_names)> then) {
  node_names names{{caf::to_string(self->home_system().node()), ctx.node}};
  auto cluster = named(self->home_system(), cluster_name);
  if (!cluster) return then(std::move(names));
  self->request(cluster, ctx.timeout, cluster_status_atom::value)
      .then(
          [names, then](std::vector<cluster_member_info>& members) mutable {
            for (auto& m : members)
              if (!m.caf_node.empty()) names.emplace(m.caf_node, m.node);
            then(std::move(names));
          },
          [names, then](caf::error&) mutable { then(std::move(names)); });
}

void list_sessions(self_ptr self, admin_context ctx, net::admin_request req, net::admin_reply reply,
                   node_names names) {
  auto registry = named(self->home_system(), session_registry_name);
  if (!registry) return reply(unavailable("session registry"));
  self->request(registry, ctx.timeout, admin_list_atom::value, req.after, req.limit)
      .then(
          [self, ctx, req, reply, registry, names](std::vector<std::string>& ids,
                                                   std::vector<caf::actor>&, bool more) {
            struct gather {
              std::vector<std::optional<session_info>> infos;
              std::size_t pending = 0;
            };
            auto g = std::make_shared<gather>();
            g->infos.resize(ids.size());
            g->pending = ids.size();
            auto next = more && !ids.empty() ? ids.back() : std::string{};
            auto finish = [g, ctx, req, reply, next, names] {
              std::vector<session_info> page;
              for (auto& info : g->infos) {
                if (!info) continue;  // ended meanwhile, or did not answer
                if (!req.state.empty() && info->attached != (req.state == "attached")) continue;
                page.push_back(std::move(*info));
              }
              reply(ok(sessions_json(page, ctx.node, next, names)));
            };
            if (ids.empty()) return finish();
            // By id: the registry answers for a parked session itself.
            for (std::size_t i = 0; i < ids.size(); ++i)
              self->request(registry, ctx.timeout, admin_info_atom::value, ids[i])
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
  self->request(broker, ctx.timeout, admin_channels_atom::value, req.after, req.limit)
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
            self->request(upstreams, ctx.timeout, upstream_status_atom::value)
                .then([answer](std::vector<upstream_status>& ups) { answer(ups); },
                      [answer](caf::error&) { answer({}); });
          },
          [self, reply](caf::error& err) { reply(failure(self->home_system(), err)); });
}

// This node's answer (node scope) to a paged list.
void local_list(self_ptr self, const admin_context& ctx, const net::admin_request& req,
                net::admin_reply reply) {
  if (req.what == net::admin_request::kind::channels) return channels(self, ctx, req, reply);
  with_names(self, ctx, [self, ctx, req, reply](node_names names) {
    list_sessions(self, ctx, req, reply, std::move(names));
  });
}

std::string error_body(const net::admin_outcome& o) {
  return json::serialize(json::object{{"error", o.error}, {"message", o.message}});
}

// One node's outcome as a page of a cluster-wide answer.
node_page page_of(std::string node, net::admin_outcome o) {
  if (o.error.empty()) return {.node = std::move(node), .body = std::move(o.body)};
  return {.node = std::move(node), .error = std::move(o.error), .message = std::move(o.message)};
}

// ?scope=cluster: this node and every live peer (through its admin responder,
// each bounded by ctx.timeout), merged; a peer that does not answer in time is
// named under "missing".
void cluster_list(self_ptr self, admin_context ctx, net::admin_request req,
                  net::admin_reply reply) {
  struct gather {
    std::vector<node_page> pages;
    std::size_t pending = 0;
  };
  auto g = std::make_shared<gather>();
  auto ask_all = [self, ctx, req, reply, g](const std::vector<cluster_member_info>& members) {
    std::vector<const cluster_member_info*> up;
    for (auto& m : members)
      if (m.state == "up" && m.actor) up.push_back(&m);
    g->pages.resize(1 + up.size());
    g->pending = 1 + up.size();
    auto done = [g, req, reply, node = ctx.node] {
      if (--g->pending == 0) reply(ok(merge_cluster_pages(req.what, g->pages, req.limit, node)));
    };
    local_list(self, ctx, req, [g, done, node = ctx.node](net::admin_outcome o) {
      g->pages[0] = page_of(node, std::move(o));
      done();
    });
    for (std::size_t i = 0; i < up.size(); ++i) {
      auto name = up[i]->node;
      auto peer = caf::actor_cast<caf::actor>(up[i]->actor);
      if (!peer) {  // gone since the cluster answered
        g->pages[i + 1] = {.node = name, .error = "down", .message = "the peer left the cluster"};
        done();
        continue;
      }
      self->request(peer, ctx.timeout, cluster_admin_atom::value,
                    static_cast<std::uint8_t>(req.what), req.after, req.limit, req.state)
          .then(
              [g, i, done, name](std::uint16_t status, std::string& body) {
                if (status == 200) {
                  g->pages[i + 1] = {.node = name, .body = std::move(body)};
                } else {
                  // The peer's error body: {"error","message"}.
                  boost::system::error_code ec;
                  auto err = json::parse(body, ec);
                  auto field = [&](std::string_view key) -> std::string {
                    auto* v = !ec && err.is_object() ? err.as_object().if_contains(key) : nullptr;
                    return v && v->is_string() ? std::string{v->as_string()} : std::string{};
                  };
                  auto code = field("error");
                  g->pages[i + 1] = {.node = name,
                                     .error = code.empty() ? "internal" : code,
                                     .message = field("message")};
                }
                done();
              },
              [self, g, i, done, name](caf::error& err) {
                g->pages[i + 1] = page_of(name, failure(self->home_system(), err));
                done();
              });
    }
  };
  auto cluster = named(self->home_system(), cluster_name);
  if (!cluster) return ask_all({});  // a single node is its own cluster
  self->request(cluster, ctx.timeout, cluster_status_atom::value)
      .then([ask_all](std::vector<cluster_member_info>& members) { ask_all(members); },
            [self, reply](caf::error& err) { reply(failure(self->home_system(), err)); });
}

void cluster_view(self_ptr self, admin_context ctx, net::admin_reply reply) {
  auto cluster = named(self->home_system(), cluster_name);
  if (!ctx.cluster) return reply(ok(cluster_json(ctx, {})));
  if (!cluster) return reply(unavailable("cluster actor"));
  self->request(cluster, ctx.timeout, cluster_status_atom::value)
      .then(
          [ctx, reply](std::vector<cluster_member_info>& members) {
            reply(ok(cluster_json(ctx, members)));
          },
          [self, reply](caf::error& err) { reply(failure(self->home_system(), err)); });
}

caf::behavior admin_actor(self_ptr self, admin_context ctx, net::admin_request req,
                          net::admin_reply reply) {
  using kind = net::admin_request::kind;
  auto node = ctx.node;
  switch (req.what) {
    case kind::list_sessions:
    case kind::channels:
      if (req.cluster_scope)
        cluster_list(self, ctx, req, reply);
      else
        local_list(self, ctx, req, reply);
      break;
    case kind::get_session:
      with_names(self, ctx, [self, ctx, req, reply, node](node_names names) {
        ask_session(
            self, ctx, req, reply, admin_info_atom::value,
            [reply, node, names](session_info& s) { reply(ok(session_json(s, node, names))); });
      });
      break;
    case kind::end_session:
      ask_session(self, ctx, req, reply, admin_end_atom::value, [reply, id = req.id](caf::ok_atom) {
        reply(ok(json::serialize(json::object{{"id", id}, {"ended", true}})));
      });
      break;
    case kind::disconnect_session:
      ask_session(self, ctx, req, reply, admin_cut_atom::value, [reply, id = req.id](caf::ok_atom) {
        reply(ok(json::serialize(json::object{{"id", id}, {"disconnected", true}})));
      });
      break;
    case kind::supervision:
      supervision(self, ctx, reply);
      break;
    case kind::cluster:
      cluster_view(self, ctx, reply);
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

namespace {

// (admin_done_atom, std::uint64_t ticket, std::uint16_t status, std::string body): an admin
// actor -> the responder, the answer to the peer's question under `ticket`.
using admin_done_atom = caf::atom_constant<caf::atom("adm_done")>;

struct responder_state {
  static inline const char* name = "admin_responder";
  std::map<std::uint64_t, caf::typed_response_promise<std::uint16_t, std::string>> waiting;
  std::uint64_t next_ticket = 0;
};

caf::behavior admin_responder(caf::stateful_actor<responder_state>* self, admin_context ctx) {
  return {
      [self, ctx](cluster_admin_atom, std::uint8_t what, std::string& after, std::uint64_t limit,
                  std::string& state) -> caf::result<std::uint16_t, std::string> {
        using kind = net::admin_request::kind;
        auto k = static_cast<kind>(what);
        if (k != kind::list_sessions && k != kind::channels)
          return caf::make_error(caf::sec::invalid_argument, "cl_admin: not a paged list");
        auto ticket = ++self->state.next_ticket;
        auto rp = self->make_response_promise<std::uint16_t, std::string>();
        self->state.waiting.emplace(ticket, rp);
        // The answer comes back as a message: the admin actor answers on its
        // own thread, and only this actor may deliver its promises.
        auto me = caf::actor_cast<caf::weak_actor_ptr>(self);
        serve_admin(
            self->home_system(), ctx,
            net::admin_request{
                .what = k, .after = std::move(after), .limit = limit, .state = std::move(state)},
            [me, ticket](net::admin_outcome o) {
              auto body = o.error.empty() ? std::move(o.body) : error_body(o);
              if (auto responder = caf::actor_cast<caf::actor>(me))
                caf::anon_send(responder, admin_done_atom::value, ticket,
                               static_cast<std::uint16_t>(o.status), std::move(body));
            });
        return rp;
      },
      [self](admin_done_atom, std::uint64_t ticket, std::uint16_t status, std::string& body) {
        auto it = self->state.waiting.find(ticket);
        if (it == self->state.waiting.end()) return;
        it->second.deliver(status, std::move(body));
        self->state.waiting.erase(it);
      },
  };
}

}  // namespace

caf::actor spawn_admin_responder(caf::actor_system& sys, admin_context ctx) {
  auto responder = sys.spawn(admin_responder, std::move(ctx));
  sys.registry().put(admin_name, responder);
  return responder;
}

}  // namespace wsvisor
