// The client's connection management: heartbeat, ping, goaway, reconnect
// delays, giving up, close, and a small chaos run through random cuts.

#include "client/client.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/client/client_fixture.hpp"
#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::test {
namespace {

using kind = client_state_kind;

TEST(ClientLiveness, ReconnectsWhenTheServerFallsSilent) {
  system_holder h;
  fake_server srv{fake_server_options{.heartbeat_ms = 100}};  // and no pings at all
  client_recorder rec;
  auto opts = options_for(srv.url());
  opts.heartbeat_grace = 100ms;
  client c{h.sys, opts, rec.callbacks()};
  auto connected = rec.await_state(kind::connected);
  ASSERT_TRUE(connected);
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("heartbeat_timeout"), std::string::npos) << down->change.why;
  EXPECT_GE(ms_between(connected->at, down->at), 200ms);
  auto resume = srv.await_frame(type_is("resume"), await_timeout);
  ASSERT_TRUE(resume);
  EXPECT_EQ(str(*resume, "session"), "s1");
}

TEST(ClientLiveness, GivesUpOnAConnectionWithoutWelcome) {
  system_holder h;
  fake_server srv;
  srv.set_silent(true);
  client_recorder rec;
  auto opts = options_for(srv.url());
  opts.connect_timeout = 200ms;
  client c{h.sys, opts, rec.callbacks()};
  auto connecting = rec.await_state(kind::connecting);
  ASSERT_TRUE(connecting);
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("no welcome within 200 ms"), std::string::npos)
      << down->change.why;
  EXPECT_GE(ms_between(connecting->at, down->at), 200ms);
  srv.set_silent(false);
  ASSERT_TRUE(rec.await_state(kind::connected));
}

TEST(ClientLiveness, StaysConnectedWhileThePingsKeepComing) {
  system_holder h;
  fake_server srv{fake_server_options{.heartbeat_ms = 100, .ping_every = 40ms}};
  client_recorder rec;
  auto opts = options_for(srv.url());
  opts.heartbeat_grace = 100ms;
  client c{h.sys, opts, rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  // Ten silence limits pass; every ping is answered and nothing drops.
  ASSERT_TRUE(c.wait_for([](const client_stats& s) { return s.pongs_sent >= 50; }, await_timeout));
  EXPECT_EQ(rec.count(kind::disconnected), 0u);
  EXPECT_EQ(srv.connections(), 1u);
}

TEST(ClientLiveness, AnswersPingWithPong) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  srv.send_raw(R"({"type":"ping"})");
  ASSERT_TRUE(srv.await_frame(type_is("pong"), await_timeout));
  EXPECT_TRUE(c.wait_for([](const client_stats& s) { return s.pongs_sent == 1; }, await_timeout));
}

TEST(ClientLiveness, GoawayReconnectsAfterRetryMsToTheGivenUrl) {
  system_holder h;
  fake_server first;
  fake_server second;
  client_recorder rec;
  client c{h.sys, options_for(first.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  auto sent = std::chrono::steady_clock::now();
  first.goaway(300, second.url());
  auto resume = second.await_frame(type_is("resume"), await_timeout);
  ASSERT_TRUE(resume);
  EXPECT_GE(ms_between(sent, resume->at), 300ms);
  EXPECT_EQ(str(*resume, "session"), "s1");  // the session of the first server
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("goaway"), std::string::npos) << down->change.why;
  auto connecting = rec.await_state(kind::connecting, 2);
  ASSERT_TRUE(connecting);
  EXPECT_EQ(connecting->change.url, second.url());
  // The second server does not know s1: a reset, as the protocol says.
  auto reset = rec.await_state(kind::reset);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->change.reason, reset_reason::unknown);
  EXPECT_EQ(c.stats().url, second.url());
  EXPECT_EQ(first.connections(), 1u);
}

TEST(ClientLiveness, GoawayWithoutUrlReconnectsToTheSameServer) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  auto sent = std::chrono::steady_clock::now();
  srv.goaway(200);
  auto resumed = rec.await_state(kind::resumed);
  ASSERT_TRUE(resumed);
  auto resume = srv.await_frame(type_is("resume"), await_timeout);
  ASSERT_TRUE(resume);
  EXPECT_GE(ms_between(sent, resume->at), 200ms);
}

TEST(ClientLiveness, ReconnectDelaysFollowThePolicy) {
  system_holder h;
  client_recorder rec;
  auto opts = options_for(proxied_url(closed_port()));
  opts.reconnect = fast_policy(40ms, 160ms);  // 40, 80, 160, 160 with jitter none
  client c{h.sys, opts, rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connecting, 5));
  auto states = rec.states();
  std::vector<client_recorder::state_event> attempts;
  for (auto& s : states)
    if (s.change.kind == kind::connecting) attempts.push_back(s);
  const std::vector<std::chrono::milliseconds> expected{40ms, 80ms, 160ms, 160ms};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto gap = ms_between(attempts[i].at, attempts[i + 1].at);
    EXPECT_GE(gap, expected[i]) << "attempt " << i + 1;
    // Loose: only catches a wrong formula, not scheduling noise under load.
    EXPECT_LT(gap, expected[i] + 1000ms) << "attempt " << i + 1;
    EXPECT_EQ(attempts[i].change.attempt, i);
  }
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("connect_failed"), std::string::npos) << down->change.why;
}

TEST(ClientLiveness, GivingUpIsAFinalState) {
  for (auto action : {give_up_action::stop, give_up_action::escalate}) {
    system_holder h;
    client_recorder rec;
    auto opts = options_for(proxied_url(closed_port()));
    opts.reconnect = fast_policy(5ms, 10ms);
    opts.reconnect.max_restarts = 2;
    opts.reconnect.on_give_up = action;
    client c{h.sys, opts, rec.callbacks()};
    auto given_up = rec.await_state(kind::given_up);
    ASSERT_TRUE(given_up);
    EXPECT_FALSE(given_up->change.why.empty());
    EXPECT_EQ(rec.count(kind::connecting), 3u);  // the first attempt and 2 restarts
    ASSERT_TRUE(c.wait_for([](const client_stats& s) { return s.finished; }, await_timeout));
    EXPECT_EQ(c.publish("chat", "1"), publish_result::closed);
    EXPECT_FALSE(c.subscribe("chat"));
  }
}

TEST(ClientLiveness, ATemporaryLinkIsNeverRestarted) {
  system_holder h;
  fake_server srv;
  chaos::chaos_proxy proxy{srv.port()};
  client_recorder rec;
  auto opts = options_for(proxied_url(proxy.port()));
  opts.reconnect.restart = restart_kind::temporary;
  client c{h.sys, opts, rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  proxy.cut_all();
  auto given_up = rec.await_state(kind::given_up);
  ASSERT_TRUE(given_up);
  EXPECT_NE(given_up->change.why.find("not restarted"), std::string::npos) << given_up->change.why;
  EXPECT_EQ(rec.count(kind::connecting), 1u);
}

TEST(ClientLiveness, CloseSaysByeAndStopsForGood) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  c.close();
  ASSERT_TRUE(rec.await_state(kind::closed));
  ASSERT_TRUE(srv.await_frame(type_is("bye"), await_timeout));
  EXPECT_EQ(rec.count(kind::connecting), 1u);
  EXPECT_EQ(rec.count(kind::disconnected), 0u);
  EXPECT_EQ(c.publish("chat", "1"), publish_result::closed);
  EXPECT_TRUE(c.wait_for([](const client_stats& s) { return s.finished; }, await_timeout));
}

TEST(ClientLiveness, DestroyingAConnectedClientIsClean) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  {
    client c{h.sys, options_for(srv.url()), rec.callbacks()};
    ASSERT_TRUE(rec.await_state(kind::connected));
  }
  EXPECT_EQ(rec.states().back().change.kind, kind::closed);
  ASSERT_TRUE(srv.await_frame(type_is("bye"), await_timeout));
}

// Everything at once: random cuts while both sides publish. Every message
// arrives once and in order, every publish is accepted once.
TEST(ClientLiveness, KeepsItsGuaranteesThroughRandomCuts) {
  system_holder h;
  fake_server srv;
  chaos::chaos_proxy proxy{srv.port()};
  client_recorder rec;
  auto opts = options_for(proxied_url(proxy.port()));
  opts.reconnect = fast_policy(5ms, 40ms);
  opts.ack_every = 8;
  opts.ack_interval = 20ms;
  client c{h.sys, opts, rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  ASSERT_TRUE(c.subscribe("news"));
  ASSERT_TRUE(srv.await_frame(type_is("subscribe"), await_timeout));
  proxy.cut_randomly(20ms, 60ms, 7);
  // Batches paced by delivery, until enough cuts have hit traffic in flight.
  std::uint64_t sent = 0;
  int published = 0;
  while (proxy.stats().cuts < 8) {
    ASSERT_LT(sent, 50'000u) << "the proxy stopped cutting";
    for (int k = 0; k < 20; ++k) srv.publish("news", std::to_string(++sent));
    ++published;
    ASSERT_EQ(c.publish("chat", std::to_string(published)), publish_result::queued);
    ASSERT_TRUE(
        c.wait_for([&](const client_stats& s) { return s.messages >= sent; }, await_timeout))
        << "delivered " << c.stats().messages << " of " << sent;
  }
  proxy.stop_cutting();
  ASSERT_TRUE(
      c.wait_for([](const client_stats& s) { return s.pending_publishes == 0; }, await_timeout))
      << "pending " << c.stats().pending_publishes;
  auto msgs = rec.messages();
  ASSERT_EQ(msgs.size(), sent);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    ASSERT_EQ(msgs[i].message.seq, i + 1);
    ASSERT_EQ(msgs[i].message.data, std::to_string(i + 1));
  }
  auto accepted = srv.accepted_publishes();
  ASSERT_EQ(accepted.size(), static_cast<std::size_t>(published));
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    EXPECT_EQ(accepted[i].cseq, i + 1);
    EXPECT_EQ(accepted[i].data, std::to_string(i + 1));
  }
  EXPECT_GE(c.stats().resumes, 1u);
  EXPECT_EQ(c.stats().resets, 0u);
  RecordProperty("cuts", static_cast<int>(proxy.stats().cuts));
  RecordProperty("resumes", static_cast<int>(c.stats().resumes));
}

}  // namespace
}  // namespace wsvisor::test
