#include "actors/upstream/upstream_link.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/upstream/messages.hpp"
#include "protocol/codec.hpp"
#include "tests/actors/fake_transport.hpp"
#include "tests/actors/upstream/fake_outbound.hpp"

namespace wsvisor {
namespace {

using test::await_timeout;
using ms = std::chrono::milliseconds;
using sent_frames = std::vector<std::pair<std::uint64_t, std::string>>;

// Long enough never to fire while a test runs.
constexpr duration never = std::chrono::hours{1};

// The name and the channel differ, so a test sees which one a message carries.
upstream_config feed() {
  return upstream_config{
      .name = "feed", .url = "ws://127.0.0.1:9/feed", .channel = "prices", .policy = "test"};
}

/// A socket whose close() completes only when the test says so (fake_outbound's
/// completes at once); it records close() and abort(). Thread-safe.
class held_close_socket final : public outbound_socket {
 public:
  explicit held_close_socket(outbound_events events) : events_(std::move(events)) {}

  void send(std::string, std::uint64_t) override {}
  void close() override { count(closes_); }
  void abort() override { count(aborts_); }

  /// The closing handshake is done: reports `closed`, as a real socket would.
  void finish_close() { events_.on_closed(outbound_result{.kind = outbound_end::closed}); }

  /// Wait until close() or abort() was called; false if not within await_timeout.
  bool await_close() { return await(closes_); }
  bool await_abort() { return await(aborts_); }

  int closes() {
    std::lock_guard lock{mtx_};
    return closes_;
  }
  int aborts() {
    std::lock_guard lock{mtx_};
    return aborts_;
  }

 private:
  void count(int& calls) {
    std::lock_guard lock{mtx_};
    ++calls;
    cv_.notify_all();
  }

  bool await(const int& calls) {
    std::unique_lock lock{mtx_};
    return cv_.wait_for(lock, await_timeout, [&] { return calls > 0; });
  }

  outbound_events events_;
  std::mutex mtx_;
  std::condition_variable cv_;
  int closes_ = 0;
  int aborts_ = 0;
};

/// What the link told its upstreams actor when its socket opened.
struct open_report {
  std::string name;
  caf::actor link;
  std::string subprotocol;
};

/// What the link published through the broker.
struct fanout {
  std::string channel;
  std::string body;
};

class UpstreamLink : public ::testing::Test {
 protected:
  UpstreamLink() : sys_(configure(cfg_)) { sys_.registry().put(broker_name, broker_); }

  ~UpstreamLink() override {
    if (link_) {
      caf::anon_send_exit(link_, caf::exit_reason::kill);
      EXPECT_TRUE(test::await_down(sys_, link_));
    }
    sys_.registry().erase(broker_name);
  }

  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_upstream_message_types(cfg);
    return cfg;
  }

  /// Spawns the link over fake_outbound sockets; returns the socket it dialled.
  std::shared_ptr<test::fake_outbound> start(upstream_config u = feed(),
                                             std::uint64_t max_frame_bytes = 65536) {
    spawn(std::move(u), dialer_.dialer(), max_frame_bytes, never);
    return dialer_.await_dial(1);
  }

  /// Spawns the link over a held_close_socket; returns it (null on a test failure).
  std::shared_ptr<held_close_socket> start_held(duration close_timeout) {
    auto dialled = std::make_shared<std::promise<std::shared_ptr<held_close_socket>>>();
    auto socket = dialled->get_future();
    spawn(
        feed(),
        [dialled](outbound_options, outbound_events events) -> outbound_socket_ptr {
          auto s = std::make_shared<held_close_socket>(std::move(events));
          dialled->set_value(s);
          return s;
        },
        65536, close_timeout);
    if (socket.wait_for(await_timeout) != std::future_status::ready) {
      ADD_FAILURE() << "the link did not dial";
      return nullptr;
    }
    return socket.get();
  }

  void spawn(upstream_config u, outbound_dialer dial, std::uint64_t max_frame_bytes,
             duration close_timeout) {
    link_ = spawn_upstream_link(sys_, upstream_link_args{.config = std::move(u),
                                                         .upstreams = caf::actor{ups_},
                                                         .dial = std::move(dial),
                                                         .max_frame_bytes = max_frame_bytes,
                                                         .close_timeout = close_timeout,
                                                         .metrics = metrics_});
    // Monitored from the start: however early it ends, the watcher sees it.
    watcher_->monitor(link_);
  }

  /// The next (upstream_open_atom, ...) the upstreams actor got.
  open_report next_open() {
    open_report out;
    ups_->receive(
        [&](upstream_open_atom, std::string& name, caf::actor& link, std::string& subprotocol) {
          out = {std::move(name), std::move(link), std::move(subprotocol)};
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no upstream_open"; });
    return out;
  }

  /// The id of the next (upstream_written_atom, name, id) the upstreams actor got,
  /// after checking that it names `feed`.
  std::optional<std::uint64_t> next_written() {
    std::optional<std::uint64_t> out;
    ups_->receive(
        [&](upstream_written_atom, const std::string& name, std::uint64_t id) {
          EXPECT_EQ(name, "feed");
          out = id;
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no upstream_written"; });
    return out;
  }

  /// The next (fanout_atom, channel, body) the broker got.
  fanout next_fanout() {
    fanout out;
    broker_->receive(
        [&](fanout_atom, std::string& channel, const shared_body& body) {
          out = {std::move(channel), body ? *body : std::string{}};
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no fanout"; });
    return out;
  }

  /// How the link ended; nullopt (and a test failure) if it did not within await_timeout.
  std::optional<caf::error> await_exit() {
    std::optional<caf::error> out;
    watcher_->receive([&](caf::down_msg& msg) { out = std::move(msg.reason); },
                      caf::after(await_timeout) >> [] { ADD_FAILURE() << "the link did not end"; });
    if (out) link_ = nullptr;
    return out;
  }

  void forward(std::uint64_t id, std::string text) {
    caf::anon_send(link_, upstream_send_atom::value, id, std::move(text));
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  test::fake_dialer dialer_;
  node_metrics_ptr metrics_ = std::make_shared<node_metrics>();
  caf::scoped_actor ups_{sys_};      // stands in for the upstreams actor
  caf::scoped_actor broker_{sys_};   // registered as the broker
  caf::scoped_actor watcher_{sys_};  // monitors the link
  caf::actor link_;
};

TEST(UpstreamSocketOptions, LeaveQueueRoomForTheWindowAndTwoOfTheLargestFrames) {
  EXPECT_EQ(upstream_socket_options(feed(), 65536).max_queued_bytes, 16u << 20);
  EXPECT_EQ(upstream_socket_options(feed(), 8u << 20).max_queued_bytes, (1u << 20) + (16u << 20));
}

TEST_F(UpstreamLink, DialsWithEverySocketSettingOfItsConfig) {
  auto u = feed();
  u.url = "wss://feed.example:8443/v2";
  u.subprotocols = {"feed.v2", "feed.v1"};
  u.headers = {{"X-Tenant", "acme"}, {"Authorization", "Bearer 0123456789abcdef"}};
  u.connect_timeout = ms{1234};
  u.heartbeat_timeout = ms{5678};
  u.ca_file = "/etc/ssl/private-ca.pem";
  u.compression = true;
  auto socket = start(u, 4096);
  ASSERT_TRUE(socket);
  const auto& o = socket->options;
  EXPECT_EQ(o.url, "wss://feed.example:8443/v2");
  EXPECT_EQ(o.subprotocols, (std::vector<std::string>{"feed.v2", "feed.v1"}));
  EXPECT_FALSE(o.require_subprotocol);
  // In the config map's order.
  EXPECT_EQ(o.headers, (std::vector<std::pair<std::string, std::string>>{
                           {"Authorization", "Bearer 0123456789abcdef"}, {"X-Tenant", "acme"}}));
  EXPECT_EQ(o.user_agent, "wsvisor");
  EXPECT_EQ(o.connect_timeout, ms{1234});
  EXPECT_EQ(o.heartbeat_timeout, ms{5678});
  EXPECT_EQ(o.ca_file, "/etc/ssl/private-ca.pem");
  EXPECT_TRUE(o.compression);
  EXPECT_EQ(o.max_frame_bytes, 4096u);
  EXPECT_EQ(o.max_queued_bytes, 16u << 20);
  EXPECT_EQ(dialer_.dials(), 1u);
}

TEST_F(UpstreamLink, ReportsItsOpenSocketToItsUpstreamsActor) {
  auto socket = start();
  ASSERT_TRUE(socket);
  socket->open("feed.v2");
  auto open = next_open();
  EXPECT_EQ(open.name, "feed");
  EXPECT_EQ(open.link, link_);
  EXPECT_EQ(open.subprotocol, "feed.v2");
}

TEST_F(UpstreamLink, PublishesEachTextFrameOnItsChannelThroughTheBroker) {
  auto socket = start();
  ASSERT_TRUE(socket);
  socket->open();
  socket->text(R"({"price": 10})");
  socket->text("not json");
  // A JSON frame is the data as it is; any other frame becomes a JSON string.
  auto json = next_fanout();
  EXPECT_EQ(json.channel, "prices");
  EXPECT_EQ(json.body, *proto::encode_message_body("prices", R"({"price": 10})"));
  auto text = next_fanout();
  EXPECT_EQ(text.channel, "prices");
  EXPECT_EQ(proto::message_body_data(text.body), R"("not json")");
  EXPECT_EQ(metrics_->received_upstream.value(), 2u);
}

TEST_F(UpstreamLink, DropsFramesThatArriveWhileNoBrokerIsRegistered) {
  auto socket = start();
  ASSERT_TRUE(socket);
  socket->open();
  sys_.registry().erase(broker_name);
  socket->text("1");
  // The link handles its messages in order: once the forward is written, the
  // frame before it was handled.
  forward(1, "sync");
  socket->await_sent(1);
  sys_.registry().put(broker_name, broker_);
  socket->text("2");
  EXPECT_EQ(proto::message_body_data(next_fanout().body), "2");
  EXPECT_EQ(metrics_->received_upstream.value(), 1u);
}

TEST_F(UpstreamLink, WritesForwardsTaggedWithTheirIdsAndTheSocketReportsEachWrite) {
  auto socket = start();
  ASSERT_TRUE(socket);
  socket->open();
  next_open();
  forward(7, "hello");
  forward(8, R"({"x":1})");
  EXPECT_EQ(socket->await_sent(2), (sent_frames{{7, "hello"}, {8, R"({"x":1})"}}));
  socket->write(1);
  EXPECT_EQ(next_written(), 7u);
  socket->write_all();
  EXPECT_EQ(next_written(), 8u);
}

TEST_F(UpstreamLink, EndsWithUpstreamFailedSayingHowItsSocketEnded) {
  auto socket = start();
  ASSERT_TRUE(socket);
  socket->open();
  socket->end(outbound_end::connection_lost, "read: Connection reset by peer");
  auto reason = await_exit();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, errc::upstream_failed) << sys_.render(*reason);
  EXPECT_EQ(context_of(*reason), "connection_lost: read: Connection reset by peer");
}

TEST_F(UpstreamLink, EndsWithUpstreamFailedWhenItsSocketNeverOpens) {
  auto socket = start();
  ASSERT_TRUE(socket);
  socket->end(outbound_end::connect_failed, "connect: Connection refused");
  auto reason = await_exit();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, errc::upstream_failed) << sys_.render(*reason);
  EXPECT_EQ(context_of(*reason), "connect_failed: connect: Connection refused");
}

TEST_F(UpstreamLink, ClosesItsSocketOnShutdownAndQuitsOnceTheCloseCompletes) {
  auto socket = start_held(never);
  ASSERT_TRUE(socket);
  caf::anon_send_exit(link_, caf::exit_reason::user_shutdown);
  ASSERT_TRUE(socket->await_close());
  socket->finish_close();
  auto reason = await_exit();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, caf::exit_reason::user_shutdown) << sys_.render(*reason);
  EXPECT_EQ(socket->closes(), 1);
  EXPECT_EQ(socket->aborts(), 0);  // the socket had ended: nothing to abort
}

TEST_F(UpstreamLink, QuitsAtTheCloseTimeoutWhenTheCloseNeverCompletes) {
  auto socket = start_held(ms{20});
  ASSERT_TRUE(socket);
  caf::anon_send_exit(link_, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(socket->await_close());
  auto reason = await_exit();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, caf::exit_reason::user_shutdown) << sys_.render(*reason);
  EXPECT_TRUE(socket->await_abort());
  EXPECT_EQ(socket->closes(), 1);
}

TEST_F(UpstreamLink, ASecondShutdownDuringTheCloseQuitsAtOnce) {
  auto socket = start_held(never);
  ASSERT_TRUE(socket);
  caf::anon_send_exit(link_, caf::exit_reason::user_shutdown);
  ASSERT_TRUE(socket->await_close());
  caf::anon_send_exit(link_, caf::exit_reason::user_shutdown);
  auto reason = await_exit();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, caf::exit_reason::user_shutdown) << sys_.render(*reason);
  EXPECT_TRUE(socket->await_abort());
  EXPECT_EQ(socket->closes(), 1);
}

TEST_F(UpstreamLink, AbortsItsSocketAtOnceOnAnyOtherExitReason) {
  auto socket = start_held(never);
  ASSERT_TRUE(socket);
  caf::scoped_actor { sys_ } -> send_exit(link_, make_error(errc::supervisor_gave_up));
  auto reason = await_exit();
  ASSERT_TRUE(reason);
  EXPECT_EQ(*reason, errc::supervisor_gave_up) << sys_.render(*reason);
  EXPECT_TRUE(socket->await_abort());
  EXPECT_EQ(socket->closes(), 0);
}

TEST_F(UpstreamLink, IgnoresAnExitMessageWithoutAReason) {
  auto socket = start();
  ASSERT_TRUE(socket);
  caf::anon_send_exit(link_, caf::exit_reason::normal);
  // Still there: the forward after the exit message is written.
  forward(1, "still up");
  EXPECT_EQ(socket->await_sent(1), (sent_frames{{1, "still up"}}));
}

}  // namespace
}  // namespace wsvisor
