#include "actors/upstream/upstreams.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/broker.hpp"
#include "actors/session/messages.hpp"
#include "actors/upstream/messages.hpp"
#include "protocol/codec.hpp"
#include "tests/actors/fake_transport.hpp"
#include "tests/actors/upstream/fake_outbound.hpp"

namespace wsvisor {
namespace {

namespace json = boost::json;
using test::await_timeout;
using ms = std::chrono::milliseconds;

// Fast, deterministic restarts: 10, 20, 40, 40, ... ms.
policy fast_policy(give_up_action on_give_up = give_up_action::stop, std::uint32_t max = 20) {
  policy p;
  p.backoff_min = ms{10};
  p.backoff_max = ms{40};
  p.backoff_multiplier = 2.0;
  p.jitter = jitter_kind::none;
  p.max_restarts = max;
  p.restart_window = ms{60'000};
  p.on_give_up = on_give_up;
  return p;
}

upstream_config feed(std::uint64_t buffer = 1024) {
  return upstream_config{.name = "feed",
                         .url = "ws://127.0.0.1:9/feed",
                         .channel = "feed",
                         .policy = "test",
                         .buffer = buffer};
}

struct publish_answer {
  std::uint64_t sessions = 0;
  std::string upstream;
  caf::error error;
};

class Upstreams : public ::testing::Test {
 protected:
  Upstreams() : sys_(configure(cfg_)), broker_(spawn_broker(sys_)) {
    sys_.registry().put(broker_name, broker_);
  }

  ~Upstreams() override {
    if (ups_) caf::anon_send_exit(ups_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(broker_, caf::exit_reason::user_shutdown);
  }

  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_upstream_message_types(cfg);
    return cfg;
  }

  void start(std::vector<upstream_config> ups, policy p = fast_policy()) {
    // Subscribed before the upstreams exist: their first report is seen.
    for (auto& u : ups) {
      subscribe(states_, "sys.upstream." + u.name);
      subscribe(frames_, u.channel);
    }
    ups_ = spawn_upstreams(sys_, upstreams_options{.upstreams = std::move(ups),
                                                   .policies = {{"test", p}},
                                                   .dial = dialer_.dialer(),
                                                   .seed = 1,
                                                   .metrics = metrics_});
  }

  void subscribe(caf::scoped_actor& who, const std::string& channel) {
    caf::anon_send(broker_, broker_subscribe_atom::value, channel, caf::actor{who});
  }

  publish_answer publish(const std::string& channel, const std::string& data_json) {
    publish_answer out;
    caf::scoped_actor self{sys_};
    self->request(broker_, await_timeout, broker_publish_atom::value, channel,
                  proto::encode_message_body(channel, data_json))
        .receive(
            [&](std::uint64_t n, std::string& upstream) {
              out.sessions = n;
              out.upstream = std::move(upstream);
            },
            [&](caf::error& err) { out.error = std::move(err); });
    return out;
  }

  /// The next report on sys.upstream.*, as a JSON object.
  json::object next_state() {
    json::object out;
    states_->receive(
        [&](deliver_atom, const std::string&, const shared_body& body, std::uint64_t, std::uint64_t,
            std::int64_t) { out = json::parse(proto::message_body_data(*body)).as_object(); },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no state report"; });
    return out;
  }

  /// Reports until one says `state`; returns it (empty object if none came).
  json::object await_state(std::string_view state) {
    for (int i = 0; i < 50; ++i) {
      auto s = next_state();
      if (s.empty()) break;
      if (s["state"].as_string() == state) return s;
    }
    ADD_FAILURE() << "no report with state " << state;
    return {};
  }

  /// The data of the next message on an upstream's channel.
  std::string next_frame() {
    std::string out;
    frames_->receive(
        [&](deliver_atom, const std::string&, const shared_body& body, std::uint64_t, std::uint64_t,
            std::int64_t) { out = std::string{proto::message_body_data(*body)}; },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no message"; });
    return out;
  }

  std::vector<upstream_status> status() {
    std::vector<upstream_status> out;
    caf::scoped_actor self{sys_};
    self->request(ups_, await_timeout, upstream_status_atom::value)
        .receive([&](std::vector<upstream_status>& s) { out = std::move(s); },
                 [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
    return out;
  }

  caf::error ask_ok(caf::message msg) {
    caf::error out;
    caf::scoped_actor self{sys_};
    self->request(ups_, await_timeout, std::move(msg))
        .receive([](caf::ok_atom) {}, [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  static std::vector<std::string> texts(
      const std::vector<std::pair<std::uint64_t, std::string>>& v) {
    std::vector<std::string> out;
    for (auto& [tag, text] : v) out.push_back(text);
    return out;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::actor broker_;
  caf::actor ups_;
  node_metrics_ptr metrics_ = std::make_shared<node_metrics>();
  test::fake_dialer dialer_;
  caf::scoped_actor states_{sys_};
  caf::scoped_actor frames_{sys_};
};

TEST_F(Upstreams, ForwardsClientPublishesToTheUpstreamOnlyAndPublishesItsFrames) {
  start({feed()});
  EXPECT_EQ(await_state("connecting")["url"].as_string(), "ws://127.0.0.1:9/feed");
  auto socket = dialer_.await_dial(1);
  ASSERT_TRUE(socket);
  EXPECT_EQ(socket->options.url, "ws://127.0.0.1:9/feed");
  socket->open("v1");
  await_state("up");
  auto a = publish("feed", R"({"x":1})");
  EXPECT_FALSE(a.error) << sys_.render(a.error);
  EXPECT_EQ(a.upstream, "feed");
  EXPECT_EQ(a.sessions, 0u);
  publish("feed", R"("plain text")");
  publish("feed", "42");
  EXPECT_EQ(texts(socket->await_sent(3)),
            (std::vector<std::string>{R"({"x":1})", "plain text", "42"}));
  // The channel's subscribers saw none of the client publishes: the upstream owns it.
  socket->text(R"({"price": 10})");
  socket->text("not json");
  EXPECT_EQ(next_frame(), R"({"price": 10})");
  EXPECT_EQ(next_frame(), R"("not json")");
}

TEST_F(Upstreams, DialsWithEverySocketSettingOfItsConfig) {
  auto u = feed();
  u.url = "wss://feed.example:8443/v2";
  u.subprotocols = {"feed.v2", "feed.v1"};
  u.headers = {{"Authorization", "Bearer 0123456789abcdef"}};
  u.connect_timeout = ms{1234};
  u.heartbeat_timeout = ms{5678};
  u.ca_file = "/etc/ssl/private-ca.pem";
  start({u});
  auto socket = dialer_.await_dial(1);
  ASSERT_TRUE(socket);
  const auto& o = socket->options;
  EXPECT_EQ(o.url, "wss://feed.example:8443/v2");
  EXPECT_EQ(o.subprotocols, u.subprotocols);
  ASSERT_EQ(o.headers.size(), 1u);
  EXPECT_EQ(o.headers[0].first, "Authorization");
  EXPECT_EQ(o.headers[0].second, "Bearer 0123456789abcdef");
  EXPECT_EQ(o.connect_timeout, ms{1234});
  EXPECT_EQ(o.heartbeat_timeout, ms{5678});
  EXPECT_EQ(o.ca_file, "/etc/ssl/private-ca.pem");
  EXPECT_EQ(o.max_frame_bytes, 65536u);  // upstreams_options' default: server.max_message_bytes
  EXPECT_FALSE(o.require_subprotocol);
}

TEST_F(Upstreams, BuffersForwardsWhileDownAndFlushesThemInOrderAfterReconnecting) {
  start({feed()});
  auto first = dialer_.await_dial(1);
  first->open();
  await_state("up");
  first->end(outbound_end::connection_lost, "read: reset");
  auto down = await_state("down");
  EXPECT_EQ(down["attempt"].as_int64(), 1);
  EXPECT_EQ(down["retry_in_ms"].as_int64(), 10);
  EXPECT_NE(down["reason"].as_string().find("connection_lost"), std::string::npos)
      << json::serialize(down);
  // The second link may already be dialling: it is not open, so forwards wait.
  for (int i = 1; i <= 5; ++i) EXPECT_FALSE(publish("feed", std::to_string(i)).error);
  auto second = dialer_.await_dial(2);
  second->open();
  EXPECT_EQ(texts(second->await_sent(5)), (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_TRUE(first->sent().empty());
}

TEST_F(Upstreams, DropsExactlyTheOldestForwardsBeyondTheBufferAndCountsThem) {
  start({feed(3)});
  auto first = dialer_.await_dial(1);
  first->end(outbound_end::connect_failed, "connect: Connection refused");
  await_state("down");
  // The restarted link is dialled but never opens while we publish.
  auto second = dialer_.await_dial(2);
  for (int i = 1; i <= 5; ++i) EXPECT_FALSE(publish("feed", std::to_string(i)).error);
  auto s = status();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].buffered, 3u);
  EXPECT_EQ(s[0].dropped, 2u);
  second->open();
  EXPECT_EQ(texts(second->await_sent(3)), (std::vector<std::string>{"3", "4", "5"}));
}

TEST_F(Upstreams, ResendsWhatTheLastLinkWasHandedButDidNotWrite) {
  start({feed()});
  auto first = dialer_.await_dial(1);
  first->open();
  await_state("up");
  for (int i = 1; i <= 3; ++i) publish("feed", std::to_string(i));
  first->await_sent(3);
  first->write(1);  // "1" reached the wire; "2" and "3" were still queued
  // The write confirmation is ordered before the end, as on a real socket.
  first->end(outbound_end::connection_lost);
  auto second = dialer_.await_dial(2);
  second->open();
  EXPECT_EQ(texts(second->await_sent(2)), (std::vector<std::string>{"2", "3"}));
}

TEST_F(Upstreams, HandsASlowUpstreamAtMostAWindowAndBuffersTheRest) {
  start({feed(100)});
  auto socket = dialer_.await_dial(1);
  socket->open();
  await_state("up");
  // 40 forwards of 100 KiB: 4 MB, far more than the 1 MiB window.
  std::string big(100 * 1024, 'x');
  for (int i = 0; i < 40; ++i)
    EXPECT_FALSE(publish("feed", "\"" + std::to_string(i) + big + "\"").error);
  // The link actor hands them to the socket after the answers: wait for the
  // first, then for the upstreams actor's view (a request, so in order).
  socket->await_sent(1);
  EXPECT_EQ(status()[0].buffered, 40u);
  auto handed = socket->sent().size();
  EXPECT_LE(handed, 11u);  // 1 MiB / 100 KiB, plus the one that always goes
  // As writes complete, the rest follows, in order.
  for (auto n = socket->sent().size(); n < 40; n = socket->sent().size()) {
    socket->write_all();
    socket->await_sent(n + 1);
  }
  auto sent = socket->sent();
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(sent[i].second.substr(0, std::to_string(i).size()), std::to_string(i));
  EXPECT_EQ(status()[0].dropped, 0u);
}

TEST_F(Upstreams, ASlowUpstreamLosesTheOldestBeyondTheBufferNotTheLink) {
  start({feed(5)});
  auto socket = dialer_.await_dial(1);
  socket->open();
  await_state("up");
  std::string big(400 * 1024, 'x');
  for (int i = 0; i < 20; ++i) publish("feed", "\"" + std::to_string(i) + big + "\"");
  auto s = status();
  EXPECT_EQ(s[0].state, "up");
  EXPECT_GT(s[0].dropped, 0u);
  EXPECT_LE(s[0].buffered, 5u);
  EXPECT_EQ(dialer_.dials(), 1u);
}

TEST_F(Upstreams, AnUnbufferedLinkRefusesPublishesWhileDown) {
  start({feed(0)});
  auto first = dialer_.await_dial(1);
  auto refused = publish("feed", "1");
  EXPECT_EQ(refused.error, errc::upstream_down);
  EXPECT_NE(context_of(refused.error).find("buffers nothing"), std::string::npos);
  first->open();
  await_state("up");
  EXPECT_FALSE(publish("feed", "2").error);
  EXPECT_EQ(texts(first->await_sent(1)), std::vector<std::string>{"2"});
}

TEST_F(Upstreams, GivesUpUnderStopAndThenRefusesPublishesWithUpstreamDown) {
  start({feed()}, fast_policy(give_up_action::stop, 2));
  for (std::size_t n = 1; n <= 3; ++n) dialer_.await_dial(n)->end(outbound_end::connect_failed);
  auto given_up = await_state("given_up");
  EXPECT_NE(given_up["reason"].as_string().find("connect_failed"), std::string::npos);
  auto refused = publish("feed", "1");
  EXPECT_EQ(refused.error, errc::upstream_down);
  EXPECT_EQ(status()[0].state, "given_up");
  EXPECT_EQ(dialer_.dials(), 3u);
}

TEST_F(Upstreams, EscalatesByEndingWithTheSupervisorsReason) {
  start({feed()}, fast_policy(give_up_action::escalate, 1));
  caf::scoped_actor watcher{sys_};
  watcher->monitor(ups_);
  for (std::size_t n = 1; n <= 2; ++n) dialer_.await_dial(n)->end(outbound_end::connect_failed);
  caf::error reason;
  watcher->receive([&](caf::down_msg& msg) { reason = msg.reason; },
                   caf::after(await_timeout) >> [] { ADD_FAILURE() << "upstreams did not end"; });
  EXPECT_EQ(reason, errc::supervisor_gave_up);
  ups_ = nullptr;
}

TEST_F(Upstreams, ReportsStoppedForATemporaryLink) {
  auto p = fast_policy();
  p.restart = restart_kind::temporary;
  start({feed()}, p);
  dialer_.await_dial(1)->end(outbound_end::handshake_failed, "HTTP 500");
  auto stopped = await_state("stopped");
  EXPECT_NE(stopped["reason"].as_string().find("HTTP 500"), std::string::npos);
  EXPECT_EQ(publish("feed", "1").error, errc::upstream_down);
}

TEST_F(Upstreams, AddsRemovesAndChangesUpstreamsWithoutTouchingTheOthers) {
  start({feed()});
  auto feed_socket = dialer_.await_dial(1);
  feed_socket->open();
  await_state("up");
  auto news = upstream_config{
      .name = "news", .url = "ws://127.0.0.1:9/news", .channel = "news", .policy = "test"};
  subscribe(states_, "sys.upstream.news");
  EXPECT_FALSE(ask_ok(caf::make_message(add_upstream_atom::value, news)));
  auto news_socket = dialer_.await_dial(2);
  EXPECT_EQ(news_socket->options.url, "ws://127.0.0.1:9/news");
  news_socket->open();
  EXPECT_EQ(publish("news", "1").upstream, "news");
  EXPECT_EQ(texts(news_socket->await_sent(1)), std::vector<std::string>{"1"});

  // A duplicate name, a taken channel, a reserved channel, an unknown policy.
  auto dup = news;
  EXPECT_EQ(ask_ok(caf::make_message(add_upstream_atom::value, dup)), errc::invalid_upstream);
  auto taken =
      upstream_config{.name = "other", .url = "ws://h/", .channel = "feed", .policy = "test"};
  EXPECT_EQ(ask_ok(caf::make_message(add_upstream_atom::value, taken)), errc::invalid_upstream);
  auto reserved =
      upstream_config{.name = "r", .url = "ws://h/", .channel = "sys.x", .policy = "test"};
  EXPECT_EQ(ask_ok(caf::make_message(add_upstream_atom::value, reserved)), errc::invalid_upstream);
  auto nopolicy = upstream_config{.name = "p", .url = "ws://h/", .channel = "p", .policy = "nope"};
  EXPECT_EQ(ask_ok(caf::make_message(add_upstream_atom::value, nopolicy)), errc::invalid_upstream);

  // Change news's URL: only news reconnects.
  news.url = "ws://127.0.0.1:9/news2";
  EXPECT_FALSE(ask_ok(caf::make_message(update_upstream_atom::value, news)));
  EXPECT_TRUE(news_socket->closed_or_aborted());
  auto news2 = dialer_.await_dial(3);
  EXPECT_EQ(news2->options.url, "ws://127.0.0.1:9/news2");

  // Remove news: its channel is an ordinary one again.
  EXPECT_FALSE(ask_ok(caf::make_message(remove_upstream_atom::value, std::string{"news"})));
  EXPECT_TRUE(news2->closed_or_aborted());
  auto removed = await_state("removed");
  EXPECT_EQ(removed["upstream"].as_string(), "news");
  // Its wsvisor_upstream_state series are gone; feed's stay.
  auto exposed = metrics_->registry.expose();
  EXPECT_EQ(exposed.find(R"(upstream="news")"), std::string::npos) << exposed;
  EXPECT_NE(exposed.find(R"(wsvisor_upstream_state{upstream="feed",state="up"} 1)"),
            std::string::npos)
      << exposed;
  auto plain = publish("news", "2");
  EXPECT_FALSE(plain.error);
  EXPECT_EQ(plain.upstream, "");
  EXPECT_EQ(ask_ok(caf::make_message(remove_upstream_atom::value, std::string{"news"})),
            errc::unknown_child);

  // feed was never touched.
  EXPECT_EQ(dialer_.dials(), 3u);
  auto s = status();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].name, "feed");
  EXPECT_EQ(s[0].state, "up");
  EXPECT_EQ(s[0].restarts, 0u);
}

TEST_F(Upstreams, ANewBrokerLearnsTheOwnedChannels) {
  start({feed()});
  auto socket = dialer_.await_dial(1);
  socket->open();
  await_state("up");
  // The session registry restarted: a new broker replaces the old one.
  caf::anon_send_exit(broker_, caf::exit_reason::user_shutdown);
  broker_ = spawn_broker(sys_);
  sys_.registry().put(broker_name, broker_);
  // Its first publish may race the ownership answer; poll until owned.
  publish_answer a;
  auto deadline = std::chrono::steady_clock::now() + await_timeout;
  do {
    a = publish("feed", "1");
  } while (a.upstream.empty() && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(a.upstream, "feed");
}

}  // namespace
}  // namespace wsvisor
