#include "actors/session/connection.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <spdlog/logger.h>
#include <caf/actor_cast.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/session_frames.hpp"
#include "actors/supervision/messages.hpp"
#include "log/log.hpp"
#include "protocol/codec.hpp"
#include "protocol/msgpack_codec.hpp"

namespace wsvisor {
namespace {

struct connection_state;
using connection_actor = caf::stateful_actor<connection_state>;

enum class phase : std::uint8_t {
  greeting,  // waiting for hello/resume
  joining,   // asked the registry; frames are kept until the session answers
  attached,  // frames go to the session
};

struct connection_state {
  static inline const char* name = "connection";

  explicit connection_state(connection_actor* self) : self_(self) {}

  /// Sets the buckets up from the options (they need the start time).
  void start_limits(caf::actor_clock::time_point now) {
    rate_.emplace(opts_.messages_per_second, opts_.message_burst, now);
    // One strike back a second; 0 strikes: never closed for its rate.
    strikes_.emplace(opts_.rate_limit_strikes == 0 ? 0 : 1, opts_.rate_limit_strikes, now);
  }

  // Runs when the actor terminates. Our monitor of the session is a record
  // stored on the session that holds our address, and CAF frees an actor's
  // memory only once no address of it is left: without this, every dead
  // connection (1.2 KB) lived as long as the session it carried.
  ~connection_state() {
    if (session_) self_->demonitor(session_);
    if (registry_) self_->demonitor(registry_);
  }
  connection_state(const connection_state&) = delete;
  connection_state& operator=(const connection_state&) = delete;

  connection_actor* self_;
  std::shared_ptr<spdlog::logger> log_ = log::get("connection");
  transport_ptr transport_;
  connection_options opts_;
  phase phase_ = phase::greeting;
  caf::actor session_;
  // Greeting: the registry, monitored so that a connection that never says
  // hello still ends with the node. Its deadline runs on the socket's timer,
  // which stops with the I/O loop; nothing else would end it then.
  caf::actor registry_;
  std::vector<caf::message> pending_;  // joining: frames for the session, in order
  bool remote_session_ = false;        // the session lives on another node
  std::uint64_t owed_credit_ = 0;      // bytes of its frames written but not yet credited
  bool awaiting_room_ = false;
  caf::actor_clock::time_point last_text_;
  caf::actor_clock::time_point handshake_due_;  // greeting: hello/resume by then
  caf::actor_clock::time_point ping_due_;       // attached: the next ping
  std::optional<token_bucket> rate_;            // limits.messages_per_second
  std::optional<token_bucket> strikes_;         // limits.rate_limit_strikes
  std::uint32_t auth_failures_ = 0;
  // Struck out: the session closes the transport with this once its answers
  // are out (close_after_answers); meanwhile nothing more is read.
  std::optional<std::pair<std::uint16_t, std::string>> closing_;

  void send_error(proto::error_code code, std::string_view message) {
    answer(proto::encode_error(code, message));
  }

  /// Written at once: for a refusal of the session itself.
  void write_error(proto::error_code code, std::string_view message) {
    transport_->send(out_frame{proto::encode_error(code, message), nullptr});
  }

  /// An answer of ours (an error for a refused frame). Once a session is
  /// asked for, it writes ours after its answers to the client's earlier
  /// frames (a publish's ack may still wait for the broker): the client sees
  /// the answers in the order of its frames.
  void answer(std::string frame) {
    if (phase_ == phase::greeting)
      return transport_->send(out_frame{std::move(frame), nullptr}), void();
    to_session(caf::make_message(connection_answer_atom::value, std::move(frame)));
  }

  /// Gives up on the client: the session closes the transport with `code`
  /// after every answer to an earlier frame, so none of them is lost (a
  /// client that starts over would publish again what was delivered). With
  /// no session asked for yet, the connection closes at once.
  void close_after_answers(std::uint16_t code, std::string reason) {
    if (phase_ == phase::greeting) return close_and_quit(code, std::move(reason));
    closing_.emplace(code, reason);
    to_session(caf::make_message(connection_close_atom::value, code, std::move(reason)), true);
  }

  void close_and_quit(std::uint16_t code, std::string reason) {
    log::debug(*log_, "closing connection",
               {{"peer", transport_->peer()}, {"code", code}, {"reason", reason}});
    transport_->close(code, std::move(reason));
    self_->quit();
  }

  /// One timer for every deadline, on the transport (see transport.hpp):
  /// greeting, the handshake deadline; joining, the silence deadline
  /// (heartbeat_timeout after the last text frame); attached, that or the
  /// next ping, whichever is first.
  void arm_timer() {
    auto due =
        phase_ == phase::greeting ? handshake_due_ : last_text_ + opts_.session.heartbeat_timeout;
    if (phase_ == phase::attached) due = std::min(due, ping_due_);
    // Rounded up so the timer never fires a hair early and re-arms for 0 ms.
    auto delay = std::chrono::ceil<std::chrono::milliseconds>(due - self_->clock().now());
    auto me = caf::actor_cast<caf::weak_actor_ptr>(self_);
    transport_->set_timer(std::max(delay, std::chrono::milliseconds{0}), [me] {
      if (auto conn = caf::actor_cast<caf::actor>(me))
        caf::anon_send(conn, connection_timer_atom::value);
    });
  }

  void on_timer() {
    auto now = self_->clock().now();
    if (phase_ == phase::greeting) {
      if (now >= handshake_due_) {
        log::info(*log_, "handshake timeout", {{"peer", transport_->peer()}});
        return close_and_quit(4408, "handshake timeout");
      }
    } else {
      if (now - last_text_ >= opts_.session.heartbeat_timeout) {
        log::info(*log_, "heartbeat timeout", {{"peer", transport_->peer()}});
        return close_and_quit(4408, "heartbeat timeout");
      }
      if (phase_ == phase::attached && now >= ping_due_) {
        transport_->send(out_frame{proto::encode_ping(), nullptr});
        ping_due_ = now + opts_.session.heartbeat_interval;
      }
    }
    arm_timer();
  }

  /// Takes a token for one frame. Without one the frame is dropped and
  /// answered, and a strike is taken; without a strike the connection closes.
  bool within_rate(caf::actor_clock::time_point now, const proto::parse_result* parsed) {
    if (rate_->take(now)) return true;
    if (!strikes_->take(now)) {
      log::info(*log_, "rate limit exceeded: closing",
                {{"peer", transport_->peer()}, {"messages_per_second", opts_.messages_per_second}});
      close_after_answers(1008, "rate limit exceeded");
      return false;
    }
    std::string message = "over " + std::to_string(opts_.messages_per_second) +
                          " messages per second; this frame was dropped";
    const proto::publish* pub = nullptr;
    if (parsed != nullptr)
      if (const auto* frame = std::get_if<proto::client_frame>(parsed))
        pub = std::get_if<proto::publish>(frame);
    // A dropped publish names its cseq: the client must send it again.
    answer(pub ? proto::encode_error(proto::error_code::rate_limited, message, pub->cseq)
               : proto::encode_error(proto::error_code::rate_limited, message));
    return false;
  }

  /// Resume-storm admission: true when the node's gate lets this handshake in.
  bool admitted() {
    if (!opts_.gate) return true;
    auto retry = opts_.gate->admit(self_->clock().now());
    if (!retry) return true;
    log::debug(*log_, "handshake refused: over limits.handshakes_per_second",
               {{"peer", transport_->peer()}, {"retry_ms", retry->count()}});
    transport_->send(
        out_frame{proto::encode(proto::goaway{.reason = "overload", .retry = *retry}), nullptr});
    close_and_quit(1001, "overloaded; retry later");
    return false;
  }

  /// The identity a token gives, or none (answered `unauthorized`, and after
  /// max_auth_failures the connection closes with 1008).
  std::optional<client_identity> authenticate(const std::optional<std::string>& token) {
    if (!opts_.auth) return client_identity{};
    auto result =
        opts_.auth->verify(token ? *token : std::string{}, std::chrono::system_clock::now());
    if (result.identity) return std::move(result.identity);
    ++auth_failures_;
    log::info(*log_, "authentication failed",
              {{"peer", transport_->peer()}, {"why", result.error}, {"failures", auth_failures_}});
    send_error(proto::error_code::unauthorized, result.error);
    if (auth_failures_ >= opts_.max_auth_failures)
      close_and_quit(1008, "too many authentication failures");
    return std::nullopt;
  }

  /// Asks the registry, as it is named at this moment, for a session.
  void join(caf::message request) {
    auto registry = self_->home_system().registry().get<caf::actor>(session_registry_name);
    if (!registry) {
      log::warn(*log_, "no session registry running", {{"peer", transport_->peer()}});
      close_and_quit(1013, "try again later");
      return;
    }
    if (registry_) {
      self_->demonitor(registry_);
      registry_ = nullptr;
    }
    phase_ = phase::joining;
    arm_timer();
    self_->request(registry, caf::infinite, std::move(request))
        .then([this](caf::actor& session) { attach(std::move(session)); },
              [this](caf::error& err) { refused(err); });
  }

  void refused(const caf::error& err) {
    if (err == errc::server_full) {
      log::warn(*log_, "session refused: limits.sessions reached",
                {{"peer", transport_->peer()}, {"sessions", context_of(err)}});
      write_error(proto::error_code::server_full,
                  "this node holds its limit of " + context_of(err) + " sessions; retry later");
      return close_and_quit(4429, "server full");
    }
    if (err == errc::auth_required) {
      // A resume that failed without a token for its new session: the
      // connection may still say hello with one.
      write_error(proto::error_code::unauthorized,
                  "resume failed (" + context_of(err) + "); send hello with auth");
      phase_ = phase::greeting;
      // Our own answers to the frames kept meanwhile still go out; the
      // frames themselves had no session to go to.
      for (auto& msg : pending_)
        if (msg.match_elements<connection_answer_atom, std::string>())
          transport_->send(out_frame{std::move(msg.get_mutable_as<std::string>(1)), nullptr});
      pending_.clear();
      // Struck out while joining: the close we asked the session for went
      // with the pending frames.
      if (closing_) return close_and_quit(closing_->first, closing_->second);
      arm_timer();
      return;
    }
    if (err == errc::session_unreachable) return close_unreachable();
    log::warn(*log_, "session registry failed the request",
              {{"peer", transport_->peer()}, {"error", describe(self_->home_system(), err)}});
    close_and_quit(1013, "try again later");
  }

  /// The session's node cannot be reached or did not answer: it may live on.
  void close_unreachable() { close_and_quit(4503, "session unreachable; resume later"); }

  caf::actor me() const { return caf::actor_cast<caf::actor>(self_); }

  /// The node is draining: the client is told when to come back, then the
  /// connection closes. An attached session detaches (the connection ends)
  /// and stays resumable until the node stops.
  void go_away(const std::string& reason, std::uint32_t window_ms) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::uniform_int_distribution<std::uint32_t> pick{0, window_ms};
    auto retry = duration{pick(rng)};
    transport_->send(
        out_frame{proto::encode(proto::goaway{.reason = reason, .retry = retry}), nullptr});
    close_and_quit(1001, "server going away");
  }

  void attach(caf::actor session) {
    session_ = std::move(session);
    phase_ = phase::attached;
    remote_session_ = session_.node() != self_->node();
    self_->monitor(session_);
    // A session on another node does not end with this node: the registry's
    // end (this node stopping) must end the connection instead.
    if (remote_session_ && !registry_) {
      registry_ = self_->home_system().registry().get<caf::actor>(session_registry_name);
      if (registry_) self_->monitor(registry_);
    }
    for (auto& msg : pending_) self_->send(session_, for_session(std::move(msg)));
    pending_.clear();
    ping_due_ = self_->clock().now() + opts_.session.heartbeat_interval;
    arm_timer();
  }

  /// A shared body lives in this process: a session on another node gets
  /// the bytes.
  caf::message for_session(caf::message msg) const {
    if (!remote_session_ ||
        !msg.match_elements<local_publish_atom, std::string, shared_body, std::uint64_t>())
      return msg;
    const auto& body = msg.get_as<shared_body>(2);
    return caf::make_message(publish_atom::value, msg.get_as<std::string>(1),
                             body ? *body : std::string{}, msg.get_as<std::uint64_t>(3));
  }

  /// A frame from a session on another node (remote_transport).
  void write_from_remote(std::string frame) {
    owed_credit_ += frame.size();
    transport_->send(out_frame{std::move(frame), nullptr});
    pay_credit();
  }

  /// Gives the remote session credit for what has left our queue, or waits
  /// until it has drained.
  void pay_credit() {
    if (owed_credit_ == 0 || !session_ || awaiting_room_) return;
    if (transport_->has_room()) {
      self_->send(session_, connection_credit_atom::value, owed_credit_);
      owed_credit_ = 0;
      return;
    }
    awaiting_room_ = true;
    auto me = caf::actor_cast<caf::weak_actor_ptr>(self_);
    transport_->when_room([me] {
      if (auto conn = caf::actor_cast<caf::actor>(me))
        caf::anon_send(conn, room_atom::value, std::uint64_t{0});
    });
  }

  /// `always`: past the bound on frames kept before the welcome.
  void to_session(caf::message msg, bool always = false) {
    if (phase_ == phase::attached) {
      self_->send(session_, for_session(std::move(msg)));
    } else if (always || pending_.size() < opts_.max_pending_frames) {
      pending_.push_back(std::move(msg));
    } else {
      // Written now: an answer in order would need the place it lacks.
      write_error(proto::error_code::rate_limited,
                  "too many frames before welcome; this one was ignored");
    }
  }

  void on_frame(proto::client_frame& frame) {
    bool greeting = phase_ == phase::greeting;
    bool is_handshake =
        std::holds_alternative<proto::hello>(frame) || std::holds_alternative<proto::resume>(frame);
    if (greeting && !is_handshake) {
      send_error(proto::error_code::no_session,
                 std::string{proto::type_name(frame)} + ": send hello or resume first");
      return;
    }
    if (!greeting && is_handshake) {
      send_error(proto::error_code::bad_frame,
                 std::string{proto::type_name(frame)} + ": this connection already has a session");
      return;
    }
    if (auto* f = std::get_if<proto::hello>(&frame)) {
      if (!admitted()) return;
      auto who = authenticate(f->auth);
      if (!who) return;
      join(caf::make_message(hello_atom::value, me(), transport_, std::move(*who)));
    } else if (auto* r = std::get_if<proto::resume>(&frame)) {
      if (!admitted()) return;
      // The resume needs only its session token. A JWT in `auth` is for the
      // new session should the resume fail; a bad one counts as a failure
      // like a hello's.
      client_identity who{.restricted = opts_.auth != nullptr};
      if (opts_.auth && r->auth) {
        auto verified = authenticate(r->auth);
        if (!verified) return;
        who = std::move(*verified);
      }
      join(caf::make_message(resume_atom::value, me(), transport_, std::move(r->session),
                             std::move(r->token), r->last_seq, std::move(who)));
    } else if (auto msg = session_message(frame); !msg.empty()) {
      to_session(std::move(msg));
    }
    // A pong only proves liveness, which last_text_ already recorded.
  }
};

auto on_down(connection_actor* self, caf::down_msg& msg) {
  auto& st = self->state;
  if (st.registry_ && msg.source == st.registry_.address()) {
    st.registry_ = nullptr;
    if (st.phase_ == phase::greeting || (st.phase_ == phase::attached && st.remote_session_))
      st.close_and_quit(1001, "server going away");
    return;
  }
  if (!st.session_ || msg.source != st.session_.address()) return;
  // A normal end is `bye`: the session has closed the transport with 1000.
  if (!msg.reason) {
    self->quit();
  } else if (msg.reason == caf::exit_reason::user_shutdown) {
    st.close_and_quit(1001, "server going away");
  } else if (st.remote_session_ && msg.reason == caf::exit_reason::remote_link_unreachable) {
    log::info(
        *st.log_, "session's node unreachable",
        {{"peer", st.transport_->peer()}, {"session_node", caf::to_string(st.session_.node())}});
    st.close_unreachable();
  } else {
    log::warn(
        *st.log_, "session ended under an attached connection",
        {{"peer", st.transport_->peer()}, {"reason", describe(self->home_system(), msg.reason)}});
    st.close_and_quit(1011, "session lost");
  }
}

auto on_ws_frame(connection_actor* self, const std::string& payload, bool binary) {
  auto& st = self->state;
  if (st.closing_) return;
  st.last_text_ = self->clock().now();
  auto parsed =
      proto::parse_frame(payload, binary, st.transport_->format() == wire_format::msgpack);
  if (!st.within_rate(st.last_text_, &parsed)) return;
  if (auto* err = std::get_if<proto::protocol_error>(&parsed)) {
    st.send_error(err->code, err->message);
    return;
  }
  st.on_frame(std::get<proto::client_frame>(parsed));
}

auto on_ws_closed(connection_actor* self, std::uint16_t code, const std::string& why) {
  log::debug(*self->state.log_, "connection closed by its socket",
             {{"peer", self->state.transport_->peer()}, {"code", code}, {"why", why}});
  self->quit();
}

caf::behavior connection_behavior(connection_actor* self, transport_ptr transport,
                                  connection_options opts) {
  auto& st = self->state;
  st.transport_ = std::move(transport);
  st.opts_ = std::move(opts);
  st.last_text_ = self->clock().now();
  st.start_limits(st.last_text_);
  st.handshake_due_ = st.last_text_ + st.opts_.handshake_timeout;
  st.arm_timer();
  st.registry_ = self->home_system().registry().get<caf::actor>(session_registry_name);
  if (st.registry_) self->monitor(st.registry_);
  self->join(st.opts_.connections ? st.opts_.connections
                                  : self->home_system().groups().get_local(connections_group));
  log::debug(*st.log_, "connection opened", {{"peer", st.transport_->peer()}});

  self->set_down_handler([self](caf::down_msg& msg) { return on_down(self, msg); });

  return {
      [self](ws_text_atom, const std::string& payload) {
        return on_ws_frame(self, payload, false);
      },
      [self](ws_binary_atom, const std::string& payload) {
        return on_ws_frame(self, payload, true);
      },
      [self](ws_closed_atom, std::uint16_t code, const std::string& why) {
        return on_ws_closed(self, code, why);
      },
      [self](drop_connection_atom, std::uint16_t code, std::string& reason) {
        self->state.close_and_quit(code, std::move(reason));
      },
      [self](connection_timer_atom) { self->state.on_timer(); },
      [self](drain_goaway_atom, std::uint32_t window_ms) {
        self->state.go_away("shutdown", window_ms);
      },
      [self](connection_write_atom, std::string& frame) {
        self->state.write_from_remote(std::move(frame));
      },
      [self](room_atom, std::uint64_t) {
        self->state.awaiting_room_ = false;
        self->state.pay_credit();
      },
  };
}

}  // namespace

caf::actor spawn_connection(caf::actor_system& sys, transport_ptr transport,
                            connection_options opts) {
  return sys.spawn(connection_behavior, std::move(transport), std::move(opts));
}

}  // namespace wsvisor
