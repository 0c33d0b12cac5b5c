#pragma once

/// The state of the `upstreams` actor (actors/upstream/upstreams.hpp): every
/// upstream's entry (its channel, buffer and link state) and the named
/// operations its behaviour dispatches to (actors/upstream/upstreams.cpp).
/// Touched only by its actor.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/supervision/messages.hpp"
#include "actors/upstream/messages.hpp"
#include "actors/upstream/upstreams.hpp"
#include "config/config.hpp"
#include "log/log.hpp"
#include "log/throttle.hpp"

namespace wsvisor::detail {

struct forward {
  std::uint64_t id;
  std::string text;
};

// Bytes handed to a link's socket and not yet written, at most (one forward
// always goes, whatever its size). The rest waits in the buffer, where the
// bound applies: an upstream that reads slowly fills the buffer and loses
// the oldest forwards, counted, instead of growing the socket's queue until
// it overflows and the link is cut over and over.
inline constexpr std::size_t in_flight_window = 1u << 20;

struct upstream_entry {
  upstream_config cfg;
  std::string state = "connecting";
  std::string reason;           // why the last link ended
  caf::actor_addr incarnation;  // the supervisor's current link actor
  caf::actor link;              // set while that link's socket is open
  // A link may report its open socket before the supervisor's `started`
  // event for it arrives (they come from different actors): kept until then.
  caf::actor early_open;
  std::string early_subprotocol;
  std::deque<forward> buffer;  // forwards not known to be written, oldest first
  std::uint64_t next_id = 1;
  std::uint64_t sent_upto = 0;  // forwards up to this id were handed to `link`
  std::deque<std::pair<std::uint64_t, std::size_t>> in_flight;  // handed, not written: id, bytes
  std::size_t in_flight_bytes = 0;
  std::uint64_t dropped = 0;
  std::uint64_t dropped_since_up = 0;
  std::uint32_t restarts = 0;
  bool removing = false;
  // `upstream down` of a link that keeps failing: one line per
  // [log] repeat_interval, the rest counted (log/throttle.hpp).
  log::throttle downs;
};

/// A link's exit reason as reports and logs of the upstream say it.
std::string link_reason(const std::string& rendered);

struct upstreams_state;
using upstreams_actor = caf::stateful_actor<upstreams_state>;

struct upstreams_state {
  static inline const char* name = "upstreams";

  explicit upstreams_state(upstreams_actor* self) : self_(self) {}

  ~upstreams_state() {
    auto& names = self_->home_system().registry();
    if (names.get<caf::actor_addr>(upstreams_name) == self_->address()) names.erase(upstreams_name);
    if (sup_) self_->send_exit(sup_, caf::exit_reason::user_shutdown);
    for (auto& e : entries_) say_held_back(e);
  }

  upstreams_state(const upstreams_state&) = delete;
  upstreams_state& operator=(const upstreams_state&) = delete;

  upstreams_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("upstream");
  upstreams_options opts_;
  caf::actor sup_;
  std::vector<upstream_entry> entries_;  // config order
  bool stopping_ = false;
  caf::error stop_reason_;

  upstream_entry* by_name(const std::string& name);

  upstream_entry* by_channel(const std::string& channel);

  caf::actor broker();

  void own(const std::string& channel);

  void disown(const std::string& channel);

  child_spec spec_for(const upstream_config& u);

  /// Records the state of an upstream for the metrics (wsvisor_upstream_state)
  /// and, for a required one, for readiness (GET /readyz).
  void track(const upstream_entry& e);

  /// Publishes the entry's state on sys.upstream.NAME.
  void report(const upstream_entry& e, std::uint32_t attempt = 0, duration delay = duration{-1});

  /// The link ended: what it was handed but did not confirm goes again to the
  /// next one, and the bound applies from now on.
  void link_gone(upstream_entry& e, const std::string& why);

  void trim(upstream_entry& e);

  /// Hands the link what waits, in order, while the window has room.
  void flush(upstream_entry& e);

  void drop_all(upstream_entry& e, const char* why);

  /// The series of failures ends (the link is up, stopped or given up): a
  /// count of `upstream down` lines held back is logged.
  void say_held_back(upstream_entry& e);

  void on_event(const supervisor_event& ev);

  void on_open(const std::string& name, const caf::actor& link, const std::string& subprotocol);

  caf::result<std::uint64_t, std::string> on_forward(const std::string& channel,
                                                     const shared_body& body);

  void on_written(const std::string& name, std::uint64_t id);

  std::string check_new(const upstream_config& u, const std::string& replacing);

  std::vector<upstream_status> status() const;
};

}  // namespace wsvisor::detail
