#include "actors/upstream/upstream_link.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/logger.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/upstream/messages.hpp"
#include "log/log.hpp"
#include "protocol/codec.hpp"

namespace wsvisor {
namespace {

struct link_state {
  static inline const char* name = "upstream_link";

  // Whatever ends the actor, its socket goes with it.
  ~link_state() {
    if (socket) socket->abort();
  }

  std::shared_ptr<spdlog::logger> log = log::get("upstream");
  upstream_config config;
  outbound_socket_ptr socket;
  bool closing = false;  // a graceful close is under way
  node_metrics_ptr metrics;
};

using link_actor = caf::stateful_actor<link_state>;

auto on_upstream_text(link_actor* self, const std::string& text) {
  auto& st = self->state;
  auto broker = self->home_system().registry().get(broker_name);
  if (!broker) return;  // the session registry is restarting: nobody to deliver to
  if (st.metrics) st.metrics->received_upstream.inc();
  self->send(caf::actor_cast<caf::actor>(broker), fanout_atom::value, st.config.channel,
             proto::encode_message_body(st.config.channel, proto::upstream_data(text)));
}

auto on_upstream_closed(link_actor* self, std::string& how) {
  auto& st = self->state;
  st.socket.reset();  // already closed: nothing left to abort
  if (st.closing) return self->quit(caf::exit_reason::user_shutdown);
  log::debug(*st.log, "upstream link down", {{"upstream", st.config.name}, {"reason", how}});
  self->quit(make_error(errc::upstream_failed, std::move(how)));
}

caf::behavior link_behavior(link_actor* self, upstream_link_args args) {
  auto& st = self->state;
  st.config = std::move(args.config);
  st.metrics = args.metrics;
  auto me = caf::actor_cast<caf::actor>(self);
  outbound_events events{
      .on_open =
          [me](std::string subprotocol) {
            caf::anon_send(me, upstream_socket_open_atom::value, std::move(subprotocol));
          },
      .on_text =
          [me](std::string text) {
            caf::anon_send(me, upstream_text_atom::value, std::move(text));
          },
      .on_written =
          [ups = args.upstreams, name = st.config.name](std::uint64_t id) {
            caf::anon_send(ups, upstream_written_atom::value, name, id);
          },
      .on_closed =
          [me](outbound_result r) { caf::anon_send(me, upstream_closed_atom::value, describe(r)); },
  };
  log::debug(*st.log, "upstream connecting",
             {{"upstream", st.config.name}, {"url", st.config.url}});
  st.socket =
      args.dial(upstream_socket_options(st.config, args.max_frame_bytes), std::move(events));

  self->set_exit_handler([self, close_timeout = args.close_timeout](caf::exit_msg& msg) {
    auto& st = self->state;
    if (!msg.reason) return;
    if (msg.reason == caf::exit_reason::user_shutdown && st.socket && !st.closing) {
      st.closing = true;
      st.socket->close();
      self->delayed_send(self, close_timeout, upstream_close_timeout_atom::value);
      return;
    }
    self->quit(std::move(msg.reason));
  });

  return {
      [self, ups = args.upstreams](upstream_socket_open_atom, std::string& subprotocol) {
        auto& st = self->state;
        log::debug(
            *st.log, "upstream link up",
            {{"upstream", st.config.name}, {"url", st.config.url}, {"subprotocol", subprotocol}});
        self->send(ups, upstream_open_atom::value, st.config.name,
                   caf::actor_cast<caf::actor>(self), std::move(subprotocol));
      },
      [self](upstream_text_atom, const std::string& text) { return on_upstream_text(self, text); },
      [self](upstream_send_atom, std::uint64_t id, std::string& text) {
        if (self->state.socket) self->state.socket->send(std::move(text), id);
      },
      [self](upstream_closed_atom, std::string& how) { return on_upstream_closed(self, how); },
      [self](upstream_close_timeout_atom) { self->quit(caf::exit_reason::user_shutdown); },
  };
}

}  // namespace

outbound_options upstream_socket_options(const upstream_config& u, std::uint64_t max_frame_bytes) {
  outbound_options o;
  o.url = u.url;
  o.subprotocols = u.subprotocols;
  o.compression = u.compression;
  for (const auto& [name, value] : u.headers) o.headers.emplace_back(name, value);
  o.user_agent = "wsvisor";
  o.connect_timeout = u.connect_timeout;
  o.heartbeat_timeout = u.heartbeat_timeout;
  o.max_frame_bytes = max_frame_bytes;
  // The upstreams actor hands over at most 1 MiB plus one forward before the
  // writes are confirmed, and forwards are client messages of at most
  // max_frame_bytes: the queue never needs more than this.
  o.max_queued_bytes = std::max<std::uint64_t>(16u << 20, (1u << 20) + 2 * max_frame_bytes);
  o.ca_file = u.ca_file;
  return o;
}

caf::actor spawn_upstream_link(caf::actor_system& sys, upstream_link_args args) {
  return sys.spawn(link_behavior, std::move(args));
}

}  // namespace wsvisor
