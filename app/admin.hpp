#pragma once

/// The admin API's answers (docs/api.md): what the node's actors say about
/// its sessions, supervision tree and channels, as JSON.
///
/// `serve_admin` spawns one short-lived actor per request that asks the
/// session registry, the sessions, the broker, the supervisors and the
/// upstreams actor (each request bounded by `admin_context::timeout`) and
/// answers through the reply exactly once. The JSON functions are pure and
/// safe from any thread; their field names are the API's contract.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "net/http_server.hpp"

namespace wsvisor {

struct admin_context {
  std::string node = "local";  // `[cluster] node`, or "local" on a single node
  caf::actor root;             // the root supervisor
  duration timeout{5'000};     // bound on each question to an actor; past it: 504
};

/// Answers `req` through `reply` (from an actor; returns at once).
void serve_admin(caf::actor_system& sys, const admin_context& ctx, net::admin_request req,
                 net::admin_reply reply);

/// A supervisor's tree with the trees of its children that are supervisors
/// (`nested[i]` belongs to `tree.children[i]`; null when it has none or it
/// did not answer).
struct supervision_node {
  supervision_tree tree;
  std::vector<std::shared_ptr<supervision_node>> nested;
};

/// One session: {"id","state","node","subject","subscriptions","seq","acked",
/// "replay":{"messages","bytes","max_messages","max_bytes"},"since_ms",
/// "expires_ms","remote"}. Never the resume token.
std::string session_json(const session_info& s, const std::string& node);

/// {"node","sessions":[...],"next"}: `next` is the last id when more follow, else null.
std::string sessions_json(const std::vector<session_info>& page, const std::string& node,
                          const std::string& next);

/// {"node","supervisor":{"name","strategy","children":[{...,"supervisor":{...}|null}]}};
/// `now` turns a pending restart's time into "restart_in_ms".
std::string supervision_json(const supervision_node& root, const std::string& node,
                             std::chrono::system_clock::time_point now);

/// {"node","channels":[{"name","subscribers","peers","upstream"}],"next"};
/// `upstreams[i]` names the owner of `page[i]` (empty: none, or not known).
std::string channels_json(const std::vector<channel_info>& page,
                          const std::vector<std::string>& upstreams, const std::string& node,
                          const std::string& next);

}  // namespace wsvisor
