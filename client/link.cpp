#include "client/link.hpp"

#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "client/client_io.hpp"
#include "client/errors.hpp"
#include "client/messages.hpp"
#include "client/ws_link.hpp"

namespace wsvisor::detail {
namespace {

struct link_state {
  // Whatever ends the actor (its socket, the client, a kill), the socket goes
  // with it. io is declared first so that it outlives ws.
  ~link_state() {
    if (ws) ws->abort();
  }
  std::shared_ptr<client_io> io;
  std::shared_ptr<ws_link> ws;
  caf::error closing_reason;  // set while a graceful close is under way
  static inline const char* name = "wsvisor.client.link";
};

using link_actor = caf::stateful_actor<link_state>;

void dial(link_actor* self, const link_options& opts, const std::string& url) {
  // The client validates URLs (also a goaway's); a bad one would still end
  // cleanly, as connect_failed through client_closed.
  ws_link_params p;
  p.url = url;
  p.client = opts.client;
  p.link = caf::actor_cast<caf::actor>(self);
  p.id = self->id();
  p.connect_timeout = opts.connect_timeout;
  p.ca_file = opts.ca_file;
  p.max_queued_bytes = opts.max_queued_bytes;
  p.max_frame_bytes = opts.max_frame_bytes;
  self->state.ws = open_ws_link(self->state.io->context(), std::move(p));
}

caf::behavior link_behavior(link_actor* self, link_options opts) {
  self->state.io = opts.io;
  self->set_exit_handler([self, close_timeout = opts.close_timeout](caf::exit_msg& msg) {
    if (!msg.reason) return;
    if (msg.reason == caf::exit_reason::user_shutdown && self->state.ws &&
        !self->state.closing_reason) {
      self->state.closing_reason = std::move(msg.reason);
      self->state.ws->close();
      self->delayed_send(self, close_timeout, client_close_timeout_atom::value);
      return;
    }
    self->quit(std::move(msg.reason));
  });
  self->send(opts.client, client_link_up_atom::value, caf::actor_cast<caf::actor>(self));
  return {
      [self, opts](client_connect_atom, const std::string& url, std::uint64_t delay_ms) {
        if (delay_ms == 0) return dial(self, opts, url);
        self->delayed_send(self, std::chrono::milliseconds{delay_ms}, client_dial_atom::value, url);
      },
      [self, opts](client_dial_atom, const std::string& url) {
        if (!self->state.ws) dial(self, opts, url);
      },
      [self](client_send_atom, std::string& text) {
        if (self->state.ws) self->state.ws->send(std::move(text));
      },
      [self](client_closed_atom, std::uint8_t code, std::string& detail) {
        // The socket is already closed; drop it so the destructor has
        // nothing left to abort.
        self->state.ws.reset();
        if (self->state.closing_reason) return self->quit(self->state.closing_reason);
        self->quit(make_error(static_cast<client_errc>(code), std::move(detail)));
      },
      [self](client_close_timeout_atom) { self->quit(self->state.closing_reason); },
  };
}

}  // namespace

caf::actor spawn_link(caf::actor_system& sys, link_options opts) {
  return sys.spawn(link_behavior, std::move(opts));
}

}  // namespace wsvisor::detail
