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
#include <map>
#include <string>
#include <vector>

#include "actors/cluster/messages.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"
#include "net/http_server.hpp"

namespace wsvisor {

struct admin_context {
  std::string node = "local";  // `[cluster] node`, or "local" on a single node
  caf::actor root;             // the root supervisor
  duration timeout{5'000};     // bound on each question to an actor or a peer; past it: 504
  bool cluster = false;        // `[cluster] enabled`
  std::string address;         // `[cluster] listen` (GET /api/cluster)
  std::string public_url;      // `[cluster] public_url` (GET /api/cluster)
};

/// Answers `req` through `reply` (from an actor; returns at once).
/// `?scope=cluster` asks every live peer through its admin responder too.
void serve_admin(caf::actor_system& sys, const admin_context& ctx, net::admin_request req,
                 net::admin_reply reply);

/// Spawns the admin responder and registers it as `admin_name`: it answers a
/// peer's (cluster_admin_atom, ...) with this node's own answer (node scope) to
/// GET /api/sessions or /api/channels. The caller ends it (an exit message).
caf::actor spawn_admin_responder(caf::actor_system& sys, admin_context ctx);

/// CAF node ids (caf::to_string of a node_id) to node names: this node's and
/// its cluster peers'; a session's `connection_node` is shown by name.
using node_names = std::map<std::string, std::string>;

/// One node's answer to a cluster-scoped list: its JSON body (the node-scope
/// answer), or the error that stood for it.
struct node_page {
  std::string node;
  std::string body;     // empty: no answer
  std::string error;    // with no body: "timeout", "unavailable", ...
  std::string message;  // with no body: what went wrong
};

/// {"node","scope":"cluster","answered":[names],"missing":[{"node","error","message"}],
/// "sessions"|"channels":[...],"next"}: the pages of every node merged in the
/// order of their key (session id; channel name, then node), at most `limit`
/// sessions or channel names, each row naming its `node`. A row sorting after
/// the end of a node's page that has more waits for the next page, so paging
/// with `next` misses nothing and repeats nothing.
std::string merge_cluster_pages(net::admin_request::kind what, const std::vector<node_page>& pages,
                                std::uint64_t limit, const std::string& node);

/// {"node","enabled","address","public_url","members":[{"node","address","public_url",
/// "state","since_ms","last_seen_ms"}]}: GET /api/cluster.
std::string cluster_json(const admin_context& ctx, const std::vector<cluster_member_info>& members);

/// A supervisor's tree with the trees of its children that are supervisors
/// (`nested[i]` belongs to `tree.children[i]`; null when it has none or it
/// did not answer).
struct supervision_node {
  supervision_tree tree;
  std::vector<std::shared_ptr<supervision_node>> nested;
};

/// One session: {"id","state","node","subject","subscriptions","seq","acked",
/// "replay":{"messages","bytes","max_messages","max_bytes"},"since_ms",
/// "expires_ms","remote","connection_node"}. Never the resume token.
/// "connection_node": attached, the name in `names` of the node holding the
/// connection (`node` when it is not named: a local session in a test).
std::string session_json(const session_info& s, const std::string& node,
                         const node_names& names = {});

/// {"node","sessions":[...],"next"}: `next` is the last id when more follow, else null.
std::string sessions_json(const std::vector<session_info>& page, const std::string& node,
                          const std::string& next, const node_names& names = {});

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
