#pragma once

/// Shared by the WebSocket suites (ws_server_test, ws_session_test): a real
/// listener on an OS-chosen port, whose WebSockets are served by "probe"
/// actors that echo and obey commands, and whose observations the test
/// thread awaits with deadlines.

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "net/http_server.hpp"
#include "net/tls_stream.hpp"
#include "net/ws_session.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/raw_ws.hpp"
#include "tests/support/watched.hpp"
#include "tests/support/ws_client.hpp"

namespace wsvisor::net::ws_testing {

using namespace std::chrono_literals;
using test::ws_client;
using test::ws_event;
using kind = ws_event::kind;
using ms = std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

// Test-only messages of the probe actor.
using sync_atom = caf::atom_constant<caf::atom("test_sync")>;    // () -> sync_atom
using flood_atom = caf::atom_constant<caf::atom("test_flood")>;  // (left, bytes): paced sends

// What the probe actors saw, shared with the test thread.
struct observed {
  struct closed_note {
    std::uint16_t code;
    std::string reason;
    std::uint64_t peak_queued;  // the session's peak_queued_bytes at that moment
  };
  std::vector<std::string> texts;
  int binaries = 0;
  std::vector<closed_note> closed;
  int flood_queued = 0;                   // sends answered `queued`
  std::optional<send_result> flood_end;   // the first other answer
  std::optional<send_result> after_drop;  // one more send after it
  std::vector<std::weak_ptr<transport>> transports;
  std::vector<caf::actor> actors;
};

using recorder = test::watched<observed>;

struct probe_options {
  bool stay = false;  // keep running after ws_closed (to count duplicates)
  std::shared_ptr<const std::string> shared_body;
};

struct probe_state {
  transport_ptr transport;
};

// A connection actor for tests: echoes text as "echo:<text>" and obeys a few
// commands sent as text frames: "quit", "close:<code>", "shared:<n>" (n
// frames "h<i>:" + the shared body) and "flood:<n>:<bytes>" (n frames of
// <bytes>, one per millisecond, until send stops answering `queued`).
inline caf::behavior probe(caf::stateful_actor<probe_state>* self, transport_ptr t,
                           std::shared_ptr<recorder> rec, probe_options opts) {
  self->state.transport = std::move(t);
  return {
      [=](ws_text_atom, const std::string& text) {
        rec->update([&](observed& o) { o.texts.push_back(text); });
        auto& tr = self->state.transport;
        if (!tr) return;
        if (text == "quit") return self->quit();
        if (text.starts_with("close:"))
          return tr->close(static_cast<std::uint16_t>(std::stoi(text.substr(6))), "asked");
        if (text.starts_with("shared:")) {
          for (int i = 0, n = std::stoi(text.substr(7)); i < n; ++i)
            tr->send(out_frame{.head = "h" + std::to_string(i) + ":", .body = opts.shared_body});
          return;
        }
        if (text.starts_with("flood:")) {
          auto colon = text.find(':', 6);
          self->send(self, flood_atom::value, std::stoi(text.substr(6, colon - 6)),
                     std::stoi(text.substr(colon + 1)));
          return;
        }
        tr->send(out_frame{.head = "echo:" + text});
      },
      [=](flood_atom, int left, int bytes) {
        auto& tr = self->state.transport;
        if (!tr || left == 0) return;
        static const auto body = std::make_shared<const std::string>(64 * 1024, 'x');
        auto frame = out_frame{
            .head = std::string(static_cast<std::size_t>(bytes) - body->size(), 'y'), .body = body};
        auto r = tr->send(std::move(frame));
        if (r == send_result::queued) {
          rec->update([](observed& o) { ++o.flood_queued; });
          self->delayed_send(self, 1ms, flood_atom::value, left - 1, bytes);
          return;
        }
        auto again = tr->send(out_frame{.head = "late"});
        rec->update([&](observed& o) {
          o.flood_end = r;
          o.after_drop = again;
        });
      },
      [=](ws_binary_atom, const std::string&) { rec->update([](observed& o) { ++o.binaries; }); },
      [=](ws_closed_atom, std::uint16_t code, const std::string& reason) {
        std::uint64_t peak = 0;
        const auto& tr = self->state.transport;
        if (auto s = std::dynamic_pointer_cast<ws_session<ws_tcp_stream>>(tr))
          peak = s->peak_queued_bytes();
        else if (auto t = std::dynamic_pointer_cast<ws_session<tls_tcp_stream>>(tr))
          peak = t->peak_queued_bytes();
        rec->update([&](observed& o) { o.closed.push_back({code, reason, peak}); });
        self->state.transport.reset();
        if (!opts.stay) self->quit();
      },
      [](sync_atom) { return sync_atom::value; },
  };
}

using test::eventually;

// A listener on an OS-chosen port with one I/O thread, whose WebSockets are
// served by probe actors.
class WsServer : public ::testing::Test {
 protected:
  void start(http_options opts = {}, probe_options probe_opts = {}) {
    opts.listen = "127.0.0.1:0";
    opts.on_websocket = [this, probe_opts](transport_ptr t) {
      auto actor = system_.spawn(probe, t, rec_, probe_opts);
      rec_->update([&](observed& o) {
        o.transports.push_back(t);
        o.actors.push_back(actor);
      });
      return actor;
    };
    server_ = std::make_unique<http_server>(ioc_, std::move(opts));
    ASSERT_EQ(server_->start(), "");
    thread_ = std::thread{[this] { ioc_.run(); }};
  }

  void TearDown() override {
    // The test's clients are gone, so every session must end and return its slot.
    if (server_) {
      EXPECT_TRUE(eventually([this] { return server_->open_websockets() == 0; }))
          << server_->open_websockets() << " WebSocket(s) never ended";
    }
    for (auto& a : rec_->read([](const observed& o) { return o.actors; }))
      caf::anon_send_exit(a, caf::exit_reason::kill);
    if (server_) server_->stop();
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::uint16_t port() const { return server_->local_port(); }

  std::vector<observed::closed_note> closed() {
    return rec_->read([](const observed& o) { return o.closed; });
  }

  bool await_closed(std::size_t n, ms timeout = 10s) {
    return rec_->await([n](const observed& o) { return o.closed.size() >= n; }, timeout);
  }

  // Declaration order is teardown order reversed: the actor system (which
  // waits for the actors) goes before the io_context their sockets use.
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  caf::actor_system_config cfg_;
  caf::actor_system system_{cfg_};
  std::shared_ptr<recorder> rec_ = std::make_shared<recorder>();
  std::unique_ptr<http_server> server_;
  std::thread thread_;
};

// A hand-driven client for what Beast's client will not do: go silent in the
// middle of a closing handshake (tests/support/raw_ws.hpp).
using test::raw_ws;

}  // namespace wsvisor::net::ws_testing
