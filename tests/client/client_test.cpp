#include "client/client.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/client/client_fixture.hpp"
#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::test {
namespace {

using kind = client_state_kind;

std::string payload(int i) { return R"({"n":)" + std::to_string(i) + "}"; }

/// Subscribes and waits until the server has the subscription.
void subscribe(client& c, fake_server& srv, const std::string& channel) {
  auto from = srv.frames().size();
  ASSERT_TRUE(c.subscribe(channel));
  ASSERT_TRUE(srv.await_frame(
      [&](const received_frame& f) {
        return f.type == "subscribe" && str(f, "channel") == channel;
      },
      await_timeout, from));
}

TEST(Client, SaysHelloOfferingWsvisorV1AndReportsConnected) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  auto connected = rec.await_state(kind::connected);
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->change.session, "s1");
  auto states = rec.states();
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states[0].change.kind, kind::connecting);
  EXPECT_EQ(states[0].change.url, srv.url());
  EXPECT_EQ(states[0].change.attempt, 0u);
  ASSERT_EQ(srv.offered_protocols().size(), 1u);
  EXPECT_EQ(srv.offered_protocols()[0], "wsvisor.v1");
  auto frames = srv.frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].type, "hello");
  auto s = c.stats();
  EXPECT_TRUE(s.live);
  EXPECT_EQ(s.session, "s1");
  EXPECT_EQ(s.sessions, 1u);
}

TEST(Client, RefusesACaFileThatCannotBeLoaded) {
  system_holder h;
  auto opts = options_for("wss://localhost:1/ws");
  opts.ca_file = "/nonexistent/ca.pem";
  try {
    client c{h.sys, opts};
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string{e.what()}.find("/nonexistent/ca.pem"), std::string::npos) << e.what();
  }
}

TEST(Client, SendsAuthInHello) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  auto opts = options_for(srv.url());
  opts.auth = "secret-token";
  client c{h.sys, opts, rec.callbacks()};
  auto hello = srv.await_frame(type_is("hello"), await_timeout);
  ASSERT_TRUE(hello);
  EXPECT_EQ(str(*hello, "auth"), "secret-token");
}

TEST(Client, RejectsAServerThatDoesNotSelectTheSubprotocol) {
  system_holder h;
  fake_server srv{fake_server_options{.select_subprotocol = false}};
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("handshake_failed"), std::string::npos) << down->change.why;
  EXPECT_TRUE(frames_of(srv, "hello").empty());
}

TEST(Client, DeliversMessagesOnceAndInOrder) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "news");
  for (int i = 1; i <= 50; ++i) srv.publish("news", payload(i));
  ASSERT_TRUE(rec.await_messages(50));
  // A duplicate the server should never send is dropped, not delivered.
  srv.send_raw(R"({"type":"message","seq":3,"channel":"news","data":{"n":3}})");
  srv.publish("news", payload(51));
  ASSERT_TRUE(c.wait_for([](const client_stats& s) { return s.messages == 51; }, await_timeout));
  auto msgs = rec.messages();
  ASSERT_EQ(msgs.size(), 51u);
  for (int i = 0; i < 51; ++i) {
    EXPECT_EQ(msgs[i].message.seq, static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(msgs[i].message.channel, "news");
    EXPECT_EQ(msgs[i].message.data, payload(i + 1));
  }
  auto s = c.stats();
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.last_seq, 51u);
}

TEST(Client, DeliversDataPublishedOverMessagePackAsItsBytes) {
  // A MessagePack client published bytes: the server sends data_msgpack
  // (docs/protocol.md). Delivered with its MessagePack encoding, and the
  // stream goes on without a gap or a resume.
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "news");
  srv.send_raw(R"({"type":"message","seq":1,"channel":"news","data_msgpack":"xAIAAQ=="})");
  srv.send_raw(R"({"type":"message","seq":2,"channel":"news","data":{"n":2}})");
  // The stats are counted after each callback returns: waiting on them (not
  // on the recorder) sees both messages counted.
  ASSERT_TRUE(c.wait_for([](const client_stats& s) { return s.messages == 2; }, await_timeout));
  auto msgs = rec.messages();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].message.data, "");
  EXPECT_EQ(msgs[0].message.data_msgpack, std::string("\xc4\x02\x00\x01", 4));
  EXPECT_EQ(msgs[1].message.data, R"({"n":2})");
  EXPECT_EQ(msgs[1].message.data_msgpack, "");
  auto s = c.stats();
  EXPECT_EQ(s.last_seq, 2u);
  EXPECT_EQ(s.disconnects, 0u);
}

TEST(Client, ResumesAfterADropWithTheHighestSeqItHolds) {
  system_holder h;
  fake_server srv;
  chaos::chaos_proxy proxy{srv.port()};
  client_recorder rec;
  client c{h.sys, options_for(proxied_url(proxy.port())), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "news");
  for (int i = 1; i <= 10; ++i) srv.publish("news", payload(i));
  ASSERT_TRUE(rec.await_messages(10));
  EXPECT_EQ(proxy.cut_all(), 1u);
  // Published while the client is away: buffered by its session.
  for (int i = 11; i <= 15; ++i) srv.publish("news", payload(i));
  auto resumed = rec.await_state(kind::resumed);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->change.session, "s1");
  auto resume = srv.await_frame(type_is("resume"), await_timeout);
  ASSERT_TRUE(resume);
  EXPECT_EQ(str(*resume, "session"), "s1");
  EXPECT_EQ(str(*resume, "token"), "t1-secret");
  EXPECT_EQ(num(*resume, "last_seq"), 10u);
  ASSERT_TRUE(rec.await_messages(15));
  auto msgs = rec.messages();
  ASSERT_EQ(msgs.size(), 15u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(msgs[i].message.seq, static_cast<std::uint64_t>(i + 1));
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_FALSE(down->change.why.empty());
  EXPECT_EQ(c.stats().resumes, 1u);
  EXPECT_EQ(c.stats().duplicates, 0u);
}

TEST(Client, ResendsOnlyUnacknowledgedPublishesAboveLastCseq) {
  system_holder h;
  fake_server srv{fake_server_options{.ack_publishes = false}};
  chaos::chaos_proxy proxy{srv.port()};
  client_recorder rec;
  client c{h.sys, options_for(proxied_url(proxy.port())), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  // 1..3 are accepted but their acks are lost; 4 and 5 are lost on the way.
  for (int i = 1; i <= 3; ++i) ASSERT_EQ(c.publish("chat", payload(i)), publish_result::queued);
  ASSERT_TRUE(srv.await_frame(
      [](const received_frame& f) { return f.type == "publish" && num(f, "cseq") == 3; },
      await_timeout));
  srv.set_drop_publishes(true);
  for (int i = 4; i <= 5; ++i) ASSERT_EQ(c.publish("chat", payload(i)), publish_result::queued);
  ASSERT_TRUE(srv.await_frame(
      [](const received_frame& f) { return f.type == "publish" && num(f, "cseq") == 5; },
      await_timeout));
  EXPECT_TRUE(
      c.wait_for([](const client_stats& s) { return s.pending_publishes == 5; }, await_timeout));
  srv.set_drop_publishes(false);
  srv.set_ack_publishes(true);
  proxy.cut_all();
  ASSERT_TRUE(rec.await_state(kind::resumed));
  ASSERT_TRUE(
      c.wait_for([](const client_stats& s) { return s.pending_publishes == 0; }, await_timeout));
  std::vector<std::uint64_t> resent;
  for (auto& f : frames_of(srv, "publish", 2)) resent.push_back(num(f, "cseq"));
  EXPECT_EQ(resent, (std::vector<std::uint64_t>{4, 5}));
  std::vector<std::uint64_t> accepted;
  for (auto& p : srv.accepted_publishes()) accepted.push_back(p.cseq);
  EXPECT_EQ(accepted, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(c.stats().resent, 2u);
  EXPECT_EQ(c.stats().publishes_acked, 5u);
}

// A subscribe sent on a connection that is then lost may never have reached
// the server: after a successful resume it is sent again (subscribing is
// idempotent on the server), so a cut at the wrong moment loses no channel.
TEST(Client, ResendsASubscribeLeftUnansweredByALostConnectionAfterResuming) {
  system_holder h;
  fake_server srv;
  chaos::chaos_proxy proxy{srv.port()};
  client_recorder rec;
  client c{h.sys, options_for(proxied_url(proxy.port())), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  srv.set_silent(true);  // the subscribe arrives, its answer never leaves
  ASSERT_TRUE(c.subscribe("news"));
  ASSERT_TRUE(srv.await_frame(type_is("subscribe"), await_timeout));
  auto seen = srv.frames().size();
  EXPECT_EQ(proxy.cut_all(), 1u);
  srv.set_silent(false);
  ASSERT_TRUE(rec.await_state(kind::resumed));
  auto again = srv.await_frame(type_is("subscribe"), await_timeout, seen);
  ASSERT_TRUE(again) << "the unanswered subscribe was not sent again after the resume";
  EXPECT_EQ(str(*again, "channel"), "news");
}

TEST(Client, ReportsResetAndStartsTheNewSessionCleanWhenResumeFails) {
  system_holder h;
  fake_server srv{fake_server_options{.ack_publishes = false}};
  chaos::chaos_proxy proxy{srv.port()};
  client_recorder rec;
  client c{h.sys, options_for(proxied_url(proxy.port())), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "a");
  subscribe(c, srv, "b");
  srv.publish("a", payload(1));
  ASSERT_TRUE(rec.await_messages(1));
  // On a channel nobody subscribed to, so that they produce no messages.
  for (int i = 1; i <= 2; ++i) ASSERT_EQ(c.publish("c", payload(100 + i)), publish_result::queued);
  ASSERT_TRUE(srv.await_frame(
      [](const received_frame& f) { return f.type == "publish" && num(f, "cseq") == 2; },
      await_timeout));
  srv.fail_next_resume("expired");
  proxy.cut_all();
  auto reset = rec.await_state(kind::reset);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->change.reason, reset_reason::expired);
  EXPECT_EQ(reset->change.session, "s2");
  // The new session: channels subscribed again, the unacknowledged
  // publishes numbered from 1 again, seqs from 1 again.
  ASSERT_TRUE(srv.await_frame(
      [](const received_frame& f) {
        return f.conn == 2 && f.type == "publish" && num(f, "cseq") == 2;
      },
      await_timeout));
  std::vector<std::string> subscribed;
  for (auto& f : frames_of(srv, "subscribe", 2)) subscribed.push_back(str(f, "channel"));
  EXPECT_EQ(subscribed, (std::vector<std::string>{"a", "b"}));
  auto pubs = frames_of(srv, "publish", 2);
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(num(pubs[0], "cseq"), 1u);
  EXPECT_EQ(pubs[0].body.at("data").at("n").to_number<int>(), 101);
  EXPECT_EQ(num(pubs[1], "cseq"), 2u);
  srv.publish("b", payload(2));
  ASSERT_TRUE(rec.await_messages(2));
  auto msgs = rec.messages();
  EXPECT_EQ(msgs[1].message.seq, 1u);
  EXPECT_EQ(msgs[1].message.channel, "b");
  EXPECT_EQ(c.stats().resets, 1u);
  EXPECT_EQ(c.stats().session, "s2");
}

TEST(Client, SubscribesAgainOnlyToTheChannelsItStillWantsAfterAReset) {
  system_holder h;
  fake_server srv;
  chaos::chaos_proxy proxy{srv.port()};
  client_recorder rec;
  client c{h.sys, options_for(proxied_url(proxy.port())), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "a");
  subscribe(c, srv, "b");
  ASSERT_TRUE(c.unsubscribe("a"));
  ASSERT_TRUE(srv.await_frame(type_is("unsubscribe"), await_timeout));
  srv.publish("a", payload(1));  // nobody wants it any more
  srv.publish("b", payload(2));
  ASSERT_TRUE(rec.await_messages(1));
  EXPECT_EQ(rec.messages()[0].message.channel, "b");
  srv.fail_next_resume("overflow");
  proxy.cut_all();
  auto reset = rec.await_state(kind::reset);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->change.reason, reset_reason::overflow);
  ASSERT_TRUE(srv.await_frame(
      [](const received_frame& f) { return f.conn == 2 && f.type == "subscribe"; }, await_timeout));
  srv.publish("b", payload(3));  // the subscribe was handled before this
  ASSERT_TRUE(rec.await_messages(2));
  std::vector<std::string> subscribed;
  for (auto& f : frames_of(srv, "subscribe", 2)) subscribed.push_back(str(f, "channel"));
  EXPECT_EQ(subscribed, (std::vector<std::string>{"b"}));
}

TEST(Client, ResumesToResynchroniseAfterARefusedPublish) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  srv.send_raw(R"({"type":"error","code":"bad_cseq","message":"cseq skips ahead"})");
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("server_error: bad_cseq"), std::string::npos) << down->change.why;
  ASSERT_TRUE(rec.await_state(kind::resumed));
  EXPECT_EQ(c.stats().server_errors, 1u);
  EXPECT_EQ(c.stats().last_error, "bad_cseq");
}

TEST(Client, ResumesWithWhatItHoldsWhenItSeesASeqGap) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "news");
  for (int i = 1; i <= 2; ++i) srv.publish("news", payload(i));
  ASSERT_TRUE(rec.await_messages(2));
  srv.send_raw(R"({"type":"message","seq":7,"channel":"news","data":{}})");
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("seq gap"), std::string::npos) << down->change.why;
  auto resume = srv.await_frame(type_is("resume"), await_timeout);
  ASSERT_TRUE(resume);
  EXPECT_EQ(num(*resume, "last_seq"), 2u);
  ASSERT_TRUE(rec.await_state(kind::resumed));
  EXPECT_EQ(rec.messages().size(), 2u);
}

TEST(Client, AcksEveryNMessages) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  auto opts = options_for(srv.url());
  opts.ack_every = 5;
  opts.ack_interval = 60s;  // never within this test
  client c{h.sys, opts, rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "news");
  for (int i = 1; i <= 12; ++i) srv.publish("news", payload(i));
  ASSERT_TRUE(srv.await_frame(
      [](const received_frame& f) { return f.type == "ack" && num(f, "seq") == 10; },
      await_timeout));
  ASSERT_TRUE(c.wait_for([](const client_stats& s) { return s.messages == 12; }, await_timeout));
  std::vector<std::uint64_t> acks;
  for (auto& f : frames_of(srv, "ack")) acks.push_back(num(f, "seq"));
  EXPECT_EQ(acks, (std::vector<std::uint64_t>{5, 10}));
  EXPECT_EQ(c.stats().acks_sent, 2u);
  EXPECT_EQ(c.stats().last_acked, 10u);
}

TEST(Client, AcksAfterTheIntervalWhenFewerThanNArrived) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  auto opts = options_for(srv.url());
  opts.ack_every = 100;
  opts.ack_interval = 150ms;
  client c{h.sys, opts, rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  subscribe(c, srv, "news");
  for (int i = 1; i <= 3; ++i) srv.publish("news", payload(i));
  ASSERT_TRUE(rec.await_messages(3));
  auto ack = srv.await_frame(type_is("ack"), await_timeout);
  ASSERT_TRUE(ack);
  EXPECT_EQ(num(*ack, "seq"), 3u);
  auto first = rec.messages()[0].at;
  EXPECT_GE(ms_between(first, ack->at), 150ms);
  EXPECT_EQ(frames_of(srv, "ack").size(), 1u);
}

TEST(Client, PublishAnswersFullWhenTooManyAreUnacknowledged) {
  system_holder h;
  fake_server srv{fake_server_options{.ack_publishes = false}};
  client_recorder rec;
  auto opts = options_for(srv.url());
  opts.max_pending_publishes = 3;
  client c{h.sys, opts, rec.callbacks()};
  EXPECT_EQ(c.publish("bad channel!", "1"), publish_result::invalid);
  EXPECT_EQ(c.publish("chat", "{not json"), publish_result::invalid);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(c.publish("chat", payload(i)), publish_result::queued);
  EXPECT_EQ(c.publish("chat", payload(4)), publish_result::full);
  ASSERT_TRUE(srv.await_frame(
      [](const received_frame& f) { return f.type == "publish" && num(f, "cseq") == 3; },
      await_timeout));
  // Acks are cumulative: accepting 3 accepted 1 and 2.
  srv.send_raw(R"({"type":"ack","cseq":3})");
  ASSERT_TRUE(
      c.wait_for([](const client_stats& s) { return s.pending_publishes == 0; }, await_timeout));
  EXPECT_EQ(c.publish("chat", payload(4)), publish_result::queued);
  EXPECT_TRUE(c.wait_for([](const client_stats& s) { return s.published == 4; }, await_timeout));
}

TEST(Client, PublishesFromBeforeTheFirstWelcomeAreSentWhenConnected) {
  system_holder h;
  fake_server srv;
  client_recorder rec;
  client c{h.sys, options_for(srv.url()), rec.callbacks()};
  ASSERT_TRUE(c.subscribe("chat"));
  ASSERT_EQ(c.publish("chat", payload(1)), publish_result::queued);
  ASSERT_TRUE(rec.await_messages(1));  // our own publish, back through the channel
  auto msgs = rec.messages();
  EXPECT_EQ(msgs[0].message.data, payload(1));
  ASSERT_TRUE(
      c.wait_for([](const client_stats& s) { return s.publishes_acked == 1; }, await_timeout));
}

}  // namespace
}  // namespace wsvisor::test
