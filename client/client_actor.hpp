#pragma once

/// The client actor: owns one client's session state (session id, token,
/// last seq, pending publishes, subscriptions) and the supervisor of its
/// links; speaks wsvisor.v1 through whichever link is current, and reports to
/// the caller through client_shared. Internal to the client.
///
/// Messages (client/messages.hpp): client_subscribe, client_unsubscribe, client_publish,
/// client_close from the facade; client_link_up from each new link; client_open and client_frame
/// from the link's socket, stamped with the link's id so that a stale link's frames are ignored;
/// its own generation-stamped timers client_ack_timeout and client_silence; supervisor_event from
/// its supervisor (observer); down_msg from the current link and from the supervisor. It quits once
/// the supervisor is down (after close() or a give-up) and stops the supervisor if it ends any
/// other way.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/supervision/messages.hpp"
#include "client/client.hpp"
#include "client/errors.hpp"
#include "protocol/client_frames.hpp"

namespace wsvisor::detail {

struct client_shared;
class client_io;

/// Spawns the client actor, which spawns its supervisor and first link.
caf::actor spawn_client_actor(caf::actor_system& sys, std::shared_ptr<client_shared> shared,
                              client_options opts, std::shared_ptr<client_io> io);

/// A publish held until the server acknowledges its cseq.
struct pending_publish {
  std::uint64_t cseq = 0;  // renumbered from 1 when a new session starts
  std::string channel;
  std::string data;   // validated JSON text
  bool sent = false;  // written at least once (a later write counts as a resend)
};

/// Converges the server's subscriptions to the wanted ones: at most one
/// request per channel in flight, answers drive the next step.
struct channel_state {
  bool wanted = false;     // the caller subscribed and did not unsubscribe since
  bool confirmed = false;  // the current session answered `subscribed` last
  bool requested = false;  // a subscribe or unsubscribe is in flight on this connection
  bool presence = false;   // wanted as a member (docs/protocol.md, "Presence")
};

class client_actor_state {
 public:
  using steady = std::chrono::steady_clock;
  using actor_type = caf::stateful_actor<client_actor_state>;

  explicit client_actor_state(actor_type* self) : self_(self) {}
  /// Marks the actor gone for the facade; stops the supervisor if it still runs.
  ~client_actor_state();
  client_actor_state(const client_actor_state&) = delete;
  client_actor_state& operator=(const client_actor_state&) = delete;

  static inline const char* name = "wsvisor.client";

  void init(std::shared_ptr<client_shared> shared, client_options opts,
            std::shared_ptr<client_io> io);

  // -- from the facade --
  void subscribe(const std::string& channel, bool presence);
  void ask_presence(const std::string& channel);
  void unsubscribe(const std::string& channel);
  void publish(std::string channel, std::string data);
  void close();

  // -- from links, the supervisor and timers --
  void on_link_up(const caf::actor& link);
  void on_open(std::uint64_t link_id);
  void on_frame(std::uint64_t link_id, const std::string& text);
  void on_down(const caf::down_msg& msg);
  void on_supervisor_event(const supervisor_event& ev);
  void on_ack_timeout(std::uint64_t generation);
  void on_silence(std::uint64_t generation);

 private:
  bool is_current(std::uint64_t link_id) const { return link_id != 0 && link_id == link_id_; }
  void on_welcome(const server_frame& f);
  void on_message(server_frame& f);
  /// The seq checks of a numbered frame (message, presence_event): false if
  /// it is not to be delivered (a copy, or a gap, which drops the link).
  bool take_seq(const server_frame& f);
  /// After a numbered frame was delivered: counts it and acks in time.
  void delivered(bool presence_event);
  void on_presence_event(server_frame& f);
  void on_members(server_frame& f);
  void on_channel_answer(const std::string& channel, bool subscribed);
  void on_error_frame(const server_frame& f);
  void on_goaway(const server_frame& f);
  void release_acked(std::uint64_t cseq);
  void send_pending();
  void reconcile(const std::string& channel);
  void reconcile_all();
  /// Sends the presence queries asked while no connection was live.
  void ask_waiting();
  void send_frame(std::string text);
  void send_ack();
  void arm_silence(duration d);
  /// Ends the current connection with `code`: the link dies with it as its
  /// exit reason and the supervisor reconnects after the policy's delay.
  void drop_link(client_errc code, std::string detail);
  void report(client_state_change change);
  void finish(client_state_change change);  // a final state: no reconnect follows

  actor_type* self_;
  std::shared_ptr<client_shared> shared_;
  std::shared_ptr<client_io> io_;
  client_options opts_;
  std::string url_;  // opts_.url, or the last goaway's url
  caf::actor sup_;
  caf::actor link_;                      // current incarnation, until its down_msg
  std::uint64_t link_id_ = 0;            // its id while its frames count; 0 once dropped
  std::optional<std::string> drop_why_;  // set when this actor ended the current link
  bool live_ = false;                    // a welcome arrived on the current link
  bool sent_resume_ = false;             // the current link asked to resume
  std::uint32_t attempt_ = 0;            // links since the last welcome
  bool closing_ = false;                 // close() was called
  bool final_ = false;                   // given_up or closed was reported

  std::string session_;
  std::string token_;
  std::uint64_t last_seq_ = 0;    // highest seq delivered in this session
  std::uint64_t last_acked_ = 0;  // highest seq acked to the server
  std::uint32_t unacked_ = 0;     // delivered since the last ack
  bool ack_armed_ = false;
  std::uint64_t ack_gen_ = 0;

  duration heartbeat_{0};  // from the last welcome; 0 = the server sends no pings
  steady::time_point last_rx_{};
  std::uint64_t silence_gen_ = 0;
  std::optional<steady::time_point> goaway_until_;

  std::deque<pending_publish> pending_;  // ascending cseq
  std::uint64_t next_cseq_ = 1;
  std::map<std::string, channel_state> channels_;
  std::vector<std::string> presence_asks_;  // asked while no connection was live
};

}  // namespace wsvisor::detail
