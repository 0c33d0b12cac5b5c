#include "actors/session/broker.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "tests/actors/fake_transport.hpp"
#include "tests/support/eventually.hpp"

namespace wsvisor {
namespace {

using test::await_timeout;

caf::behavior idle(caf::event_based_actor*, int) {
  return {[](const std::string&) {}};
}

class Broker : public ::testing::Test {
 protected:
  Broker() : sys_(configure(cfg_)), broker_(spawn_broker(sys_)) {}
  ~Broker() override { caf::anon_send_exit(broker_, caf::exit_reason::user_shutdown); }

  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_session_message_types(cfg);
    return cfg;
  }

  template <class... Ts>
  std::uint64_t ask(Ts... xs) {
    std::uint64_t out = 0;
    caf::scoped_actor self{sys_};
    self->request(broker_, await_timeout, xs...)
        .receive([&](std::uint64_t n) { out = n; },
                 [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
    return out;
  }

  std::uint64_t channels() { return ask(broker_stats_atom::value); }
  std::uint64_t subscribers(const std::string& ch) {
    return ask(channel_subscribers_atom::value, ch);
  }

  void sub(const caf::actor& who, const std::string& ch) {
    caf::anon_send(broker_, broker_subscribe_atom::value, ch, who);
  }

  void unsub(const caf::actor& who, const std::string& ch) {
    caf::anon_send(broker_, broker_unsubscribe_atom::value, ch, who);
  }

  /// The next delivery to `self`; fails the test if none arrives.
  shared_body delivery(caf::scoped_actor& self, const std::string& channel) {
    shared_body out;
    self->receive(
        [&](deliver_atom, const std::string& ch, const shared_body& body, std::uint64_t,
            std::uint64_t, std::int64_t) {
          EXPECT_EQ(ch, channel);
          out = body;
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no delivery"; });
    return out;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::actor broker_;
};

TEST_F(Broker, FansOutTheSameBodyToEverySubscriberOfTheChannel) {
  caf::scoped_actor a{sys_};
  caf::scoped_actor b{sys_};
  caf::scoped_actor c{sys_};
  sub(a, "news");
  sub(b, "news");
  sub(c, "other");
  auto body = std::make_shared<const std::string>(R"("channel":"news","data":1})");
  caf::anon_send(broker_, broker_publish_atom::value, std::string{"news"}, shared_body{body});
  auto other = std::make_shared<const std::string>(R"("channel":"other","data":2})");
  caf::anon_send(broker_, broker_publish_atom::value, std::string{"other"}, shared_body{other});
  EXPECT_EQ(delivery(a, "news").get(), body.get());
  EXPECT_EQ(delivery(b, "news").get(), body.get());
  // c's first delivery is the second publish: it never saw the first.
  EXPECT_EQ(delivery(c, "other").get(), other.get());
}

TEST_F(Broker, StampsEachDeliveryWithWhenItTookThePublish) {
  caf::scoped_actor a{sys_};
  sub(a, "news");
  EXPECT_EQ(subscribers("news"), 1u);
  auto before = steady_clock_ns();
  caf::anon_send(broker_, broker_publish_atom::value, std::string{"news"},
                 shared_body{std::make_shared<const std::string>(R"("channel":"news","data":1})")});
  std::int64_t accepted = 0;
  a->receive([&](deliver_atom, const std::string&, const shared_body&, std::uint64_t, std::uint64_t,
                 std::int64_t at) { accepted = at; },
             caf::after(await_timeout) >> [] { ADD_FAILURE() << "no delivery"; });
  auto after = steady_clock_ns();
  // The publish latency starts at the broker, not at the subscriber.
  EXPECT_GE(accepted, before);
  EXPECT_LE(accepted, after);
}

TEST_F(Broker, SubscribingTwiceDeliversOnce) {
  caf::scoped_actor a{sys_};
  sub(a, "news");
  sub(a, "news");
  EXPECT_EQ(subscribers("news"), 1u);
  auto first = std::make_shared<const std::string>("1");
  auto second = std::make_shared<const std::string>("2");
  caf::anon_send(broker_, broker_publish_atom::value, std::string{"news"}, shared_body{first});
  caf::anon_send(broker_, broker_publish_atom::value, std::string{"news"}, shared_body{second});
  EXPECT_EQ(delivery(a, "news").get(), first.get());
  EXPECT_EQ(delivery(a, "news").get(), second.get());
}

TEST_F(Broker, UnsubscribingStopsDeliveryAndErasesEmptyChannels) {
  caf::scoped_actor a{sys_};
  sub(a, "x");
  sub(a, "y");
  EXPECT_EQ(channels(), 2u);
  unsub(a, "x");
  unsub(a, "never");
  EXPECT_EQ(channels(), 1u);
  EXPECT_EQ(subscribers("x"), 0u);
  caf::anon_send(broker_, broker_publish_atom::value, std::string{"x"},
                 shared_body{std::make_shared<const std::string>("x")});
  auto y = std::make_shared<const std::string>("y");
  caf::anon_send(broker_, broker_publish_atom::value, std::string{"y"}, shared_body{y});
  EXPECT_EQ(delivery(a, "y").get(), y.get());
  unsub(a, "y");
  EXPECT_EQ(channels(), 0u);
}

TEST_F(Broker, RemovesADeadSubscriberFromEveryChannel) {
  caf::scoped_actor survivor{sys_};
  auto doomed = sys_.spawn(idle, 0);
  for (auto ch : {"a", "b", "c"}) sub(doomed, ch);
  sub(survivor, "a");
  EXPECT_EQ(channels(), 3u);
  EXPECT_EQ(subscribers("a"), 2u);
  caf::anon_send_exit(doomed, caf::exit_reason::kill);
  ASSERT_TRUE(test::await_down(sys_, doomed));
  // The broker learns of the death from its own down_msg, which is not
  // ordered with ours: poll its state until it catches up.
  EXPECT_TRUE(test::eventually([&] { return channels() == 1u; }, await_timeout));
  EXPECT_EQ(channels(), 1u);
  EXPECT_EQ(subscribers("a"), 1u);
  EXPECT_EQ(subscribers("b"), 0u);
}

// -- parking (broker_park_atom, unpark_atom) ----------------------------------------

TEST_F(Broker, AParkedSessionsDeliveriesGoToTheRegistryFromTheNoticeOnUntilItIsUnparked) {
  caf::scoped_actor session{sys_};
  caf::scoped_actor other{sys_};
  caf::scoped_actor registry{sys_};
  caf::scoped_actor successor{sys_};
  sub(session, "news");
  sub(session, "x");
  sub(other, "news");
  EXPECT_EQ(subscribers("news"), 2u);
  auto publish = [&](const std::string& channel, const std::string& text) {
    auto body = std::make_shared<const std::string>(text);
    caf::anon_send(broker_, broker_publish_atom::value, channel, shared_body{body});
    return body;
  };
  auto first = publish("news", "1");
  EXPECT_EQ(delivery(session, "news").get(), first.get());
  bool parked = false;
  session
      ->request(broker_, await_timeout, broker_park_atom::value, caf::actor{registry},
                std::string{"id1"}, std::vector<std::string>{"news", "x"})
      .receive([&](caf::ok_atom) { parked = true; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  ASSERT_TRUE(parked);
  // The notice came before the answer.
  registry->receive(
      [&](parked_moved_atom, const std::string& id, const std::vector<std::string>& channels) {
        EXPECT_EQ(id, "id1");
        EXPECT_EQ(channels, (std::vector<std::string>{"news", "x"}));
      },
      caf::after(std::chrono::milliseconds{0}) >> [] { ADD_FAILURE() << "no notice"; });
  // The parked session counts as a subscriber (the registry does not).
  EXPECT_EQ(subscribers("news"), 2u);
  EXPECT_EQ(subscribers("x"), 1u);
  auto second = publish("news", "2");
  EXPECT_EQ(delivery(registry, "news").get(), second.get());
  EXPECT_EQ(delivery(other, "news").get(), first.get());
  EXPECT_EQ(delivery(other, "news").get(), second.get());
  bool moved = false;
  registry
      ->request(broker_, await_timeout, unpark_atom::value, caf::actor{successor},
                std::vector<std::string>{"news", "x"}, std::string{"m1"})
      .receive([&](caf::ok_atom) { moved = true; },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  ASSERT_TRUE(moved);
  auto third = publish("x", "3");
  EXPECT_EQ(delivery(successor, "x").get(), third.get());
  EXPECT_EQ(subscribers("news"), 2u);
  EXPECT_EQ(subscribers("x"), 1u);
  // The session itself got nothing after its answer.
  session->receive([](deliver_atom, const std::string&, const shared_body&, std::uint64_t,
                      std::uint64_t, std::int64_t) { ADD_FAILURE() << "a delivery after parking"; },
                   caf::after(std::chrono::milliseconds{0}) >> [] {});
  // Dropping a parked session (expired) takes its place off: the channel
  // goes with its last subscriber.
  caf::scoped_actor lonely{sys_};
  sub(lonely, "y");
  lonely
      ->request(broker_, await_timeout, broker_park_atom::value, caf::actor{registry},
                std::string{"id2"}, std::vector<std::string>{"y"})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_EQ(subscribers("y"), 1u);
  registry
      ->request(broker_, await_timeout, unpark_atom::value, caf::actor{},
                std::vector<std::string>{"y"}, std::string{"m2"})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_EQ(subscribers("y"), 0u);
  EXPECT_EQ(channels(), 2u);  // news and x
}

}  // namespace
}  // namespace wsvisor

namespace wsvisor {
namespace {

// -- cluster nodes (actors/cluster/cluster.hpp) ---------------------------------------

using body_ptr = std::shared_ptr<const std::string>;

/// What a peer's cluster actor receives from the broker, one publish at a
/// time: live publishes come batched (cluster_publishes_atom), a returning
/// peer's resends one by one (cluster_publish_atom).
class forwards {
 public:
  struct forward {
    std::string channel;
    std::string body;
    std::uint64_t origin = 0;
    std::uint64_t counter = 0;
  };

  explicit forwards(caf::scoped_actor& peer) : peer_(peer) {}

  /// The next publish forwarded, nullopt if none comes within `timeout`.
  std::optional<forward> next(std::chrono::milliseconds timeout = await_timeout) {
    if (pending_.empty())
      peer_->receive(
          [&](cluster_publish_atom, const std::string& channel, const std::string& body,
              std::uint64_t origin, std::uint64_t counter) {
            pending_.push_back({channel, body, origin, counter});
          },
          [&](cluster_publishes_atom, const cluster_publishes& b) {
            ++batches;
            for (std::size_t i = 0; i < b.channels.size(); ++i)
              pending_.push_back({b.channels[i], b.bodies[i], b.origin, b.counters[i]});
          },
          caf::after(timeout) >> [] {});
    if (pending_.empty()) return std::nullopt;
    auto f = std::move(pending_.front());
    pending_.pop_front();
    return f;
  }

  /// The channel of the next publish forwarded ("" and a failure if none).
  std::string next_channel() {
    auto f = next();
    if (!f) ADD_FAILURE() << "no forward";
    return f ? f->channel : std::string{};
  }

  std::size_t batches = 0;  // cluster_publishes_atom messages received

 private:
  caf::scoped_actor& peer_;
  std::deque<forward> pending_;
};

/// Awaits the broker's telling `cluster` that this node has no subscriber of
/// `channel` any more.
void expect_interest_withdrawn(caf::scoped_actor& cluster, const std::string& channel) {
  cluster->receive(
      [&](local_interest_atom, const std::string& ch, bool on) {
        EXPECT_EQ(ch, channel);
        EXPECT_FALSE(on);
        return caf::ok_atom::value;
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "the cluster was not told"; });
}

TEST_F(Broker, ForwardsEachPublishOnceToThePeersWithSubscribersOnItsChannel) {
  caf::scoped_actor p1{sys_};
  caf::scoped_actor p2{sys_};
  auto publish = [&](const std::string& ch) {
    caf::anon_send(broker_, fanout_atom::value, ch,
                   shared_body{std::make_shared<const std::string>(ch)});
  };
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{p1}, std::string{"news"}, true);
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{p1}, std::string{"news"}, true);
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{p1}, std::string{"both"}, true);
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{p2}, std::string{"both"}, true);
  forwards f1{p1};
  forwards f2{p2};
  publish("news");
  publish("nobody");
  publish("both");
  // In the broker's order: p1 gets news once, then both; p2 only both.
  EXPECT_EQ(f1.next_channel(), "news");
  EXPECT_EQ(f1.next_channel(), "both");
  EXPECT_EQ(f2.next_channel(), "both");
  // A peer's interest ends; a peer that left is forgotten entirely.
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{p2}, std::string{"both"}, false);
  caf::anon_send(broker_, peer_gone_atom::value, caf::actor{p1}, std::string{"p1"}, false);
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{p2}, std::string{"last"}, true);
  publish("news");
  publish("both");
  publish("last");
  EXPECT_EQ(f2.next_channel(), "last");
  EXPECT_FALSE(f1.next(std::chrono::milliseconds{50})) << "a peer that left still got a forward";
}

// Publishes for a peer made while the broker has more to do go as one
// message (cluster_publishes_atom), and whatever else the broker sends that
// peer, here a barrier's echo, goes behind them.
TEST_F(Broker, PublishesForAPeerGoTogetherAndABarriersEchoFollowsThem) {
  caf::scoped_actor peer{sys_};
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{peer}, std::string{"news"}, true);
  for (auto text : {"m1", "m2", "m3"})
    caf::anon_send(broker_, fanout_atom::value, std::string{"news"},
                   shared_body{std::make_shared<const std::string>(text)});
  caf::anon_send(broker_, cluster_barrier_atom::value, std::uint64_t{9}, caf::actor{peer});
  forwards f{peer};
  for (auto text : {"m1", "m2", "m3"}) {
    auto got = f.next();
    ASSERT_TRUE(got) << "no forward of " << text;
    EXPECT_EQ(got->body, text);
  }
  EXPECT_LE(f.batches, 3u);
  peer->receive([](cluster_echo_atom, std::uint64_t token) { EXPECT_EQ(token, 9u); },
                caf::after(await_timeout) >> [] { ADD_FAILURE() << "no echo"; });
}

TEST_F(Broker, StampsDeliveriesAndForwardsWithOneCounterPerPublish) {
  caf::scoped_actor sub_a{sys_};
  caf::scoped_actor peer{sys_};
  sub(sub_a, "news");
  caf::anon_send(broker_, peer_interest_atom::value, caf::actor{peer}, std::string{"news"}, true);
  std::vector<std::uint64_t> local, remote;
  forwards f{peer};
  for (int i = 0; i < 3; ++i)
    caf::anon_send(broker_, fanout_atom::value, std::string{"news"},
                   shared_body{std::make_shared<const std::string>("x")});
  for (int i = 0; i < 3; ++i) {
    sub_a->receive([&](deliver_atom, const std::string&, const shared_body&, std::uint64_t,
                       std::uint64_t counter, std::int64_t) { local.push_back(counter); },
                   caf::after(await_timeout) >> [] { ADD_FAILURE() << "no delivery"; });
    auto got = f.next();
    if (!got) ADD_FAILURE() << "no forward";
    remote.push_back(got ? got->counter : 0);
  }
  EXPECT_EQ(local, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(remote, local);
}

// A peer whose link was lost (docs/cluster.md, "A lost link") gets what
// this broker published on its channels meanwhile when it joins again, after
// what it says it received, before anything live.
TEST_F(Broker, ALostPeerThatComesBackGetsWhatItMissedBeforeAnythingLive) {
  auto metrics = std::make_shared<node_metrics>();
  auto broker = spawn_broker(sys_, 7, 0, metrics);  // a cluster node's broker: origin 7
  caf::scoped_actor peer{sys_};
  auto publish = [&](const std::string& text) {
    caf::anon_send(broker, fanout_atom::value, std::string{"news"},
                   shared_body{std::make_shared<const std::string>(text)});
  };
  forwards f{peer};
  auto next = [&] {
    auto got = f.next();
    if (!got) ADD_FAILURE() << "no forward";
    return got ? got->body + "@" + std::to_string(got->origin) + ":" + std::to_string(got->counter)
               : std::string{};
  };
  caf::anon_send(broker, peer_interest_atom::value, caf::actor{peer}, std::string{"news"}, true);
  publish("m1");
  publish("m2");
  EXPECT_EQ(next(), "m1@7:1");
  EXPECT_EQ(next(), "m2@7:2");  // m2 was lost in flight as the link went
  caf::anon_send(broker, peer_gone_atom::value, caf::actor{peer}, std::string{"b"}, true);
  publish("m3");
  publish("m4");
  caf::anon_send(broker, peer_rejoined_atom::value, caf::actor{peer}, std::string{"b"},
                 received_marks{.origins = {3, 7}, .counters = {99, 1}},
                 std::vector<std::string>{"news"});
  caf::anon_send(broker, peer_interest_atom::value, caf::actor{peer}, std::string{"news"}, true);
  publish("m5");
  EXPECT_EQ(next(), "m2@7:2");
  EXPECT_EQ(next(), "m3@7:3");
  EXPECT_EQ(next(), "m4@7:4");
  EXPECT_EQ(next(), "m5@7:5");
  EXPECT_EQ(metrics->cluster_resent.value(), 3u);  // m2, m3, m4
  caf::anon_send_exit(broker, caf::exit_reason::user_shutdown);
}

TEST_F(Broker, APeersGapReachesEverySubscriberOfItsChannelsAndNoOther) {
  caf::scoped_actor on_news{sys_};
  caf::scoped_actor on_sport{sys_};
  sub(on_news, "news");
  sub(on_sport, "sport");
  caf::anon_send(broker_, cluster_gap_atom::value, std::vector<std::string>{"news", "nobody"});
  std::string gap;
  on_news->receive([&](channel_gap_atom, const std::string& channel) { gap = channel; },
                   caf::after(await_timeout) >> [] { ADD_FAILURE() << "no gap"; });
  EXPECT_EQ(gap, "news");
  bool other = false;
  on_sport->receive([&](channel_gap_atom, const std::string&) { other = true; },
                    caf::after(std::chrono::milliseconds{50}) >> [] {});
  EXPECT_FALSE(other);
}

TEST_F(Broker, AFirstLocalSubscriberIsConfirmedOnlyAfterTheCluster) {
  caf::scoped_actor cluster{sys_};
  sys_.registry().put(cluster_name, caf::actor{cluster});
  caf::scoped_actor who{sys_};
  bool confirmed = false;
  auto pending = who->request(broker_, await_timeout, broker_subscribe_atom::value,
                              std::string{"news"}, caf::actor{who});
  // The cluster is asked first; until it answers, the subscriber gets nothing.
  caf::response_promise rp;
  cluster->receive(
      [&](local_interest_atom, const std::string& channel, bool on) {
        EXPECT_EQ(channel, "news");
        EXPECT_TRUE(on);
        rp = cluster->make_response_promise();
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "the cluster was not asked"; });
  EXPECT_EQ(subscribers("news"), 0u);
  rp.deliver(caf::ok_atom::value);
  pending.receive([&](caf::ok_atom) { confirmed = true; },
                  [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  EXPECT_TRUE(confirmed);
  EXPECT_EQ(subscribers("news"), 1u);
  // The last subscriber leaving tells the cluster, without waiting.
  unsub(who, "news");
  expect_interest_withdrawn(cluster, "news");
  sys_.registry().erase(cluster_name);
}

TEST_F(Broker, AChannelWhoseSubscribersAllParkedKeepsItsClusterInterest) {
  caf::scoped_actor cluster{sys_};
  sys_.registry().put(cluster_name, caf::actor{cluster});
  caf::scoped_actor session{sys_};
  caf::scoped_actor registry{sys_};
  auto pending = session->request(broker_, await_timeout, broker_subscribe_atom::value,
                                  std::string{"news"}, caf::actor{session});
  cluster->receive(
      [&](local_interest_atom, const std::string&, bool) { return caf::ok_atom::value; },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "the cluster was not asked"; });
  pending.receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  session
      ->request(broker_, await_timeout, broker_park_atom::value, caf::actor{registry},
                std::string{"id1"}, std::vector<std::string>{"news"})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  // Anything the broker told the cluster while parking is queued by now.
  cluster->receive([](local_interest_atom, const std::string&,
                      bool) { ADD_FAILURE() << "interest withdrawn for a parked subscriber"; },
                   caf::after(std::chrono::milliseconds{0}) >> [] {});
  // The record expires: the last subscriber is gone.
  registry
      ->request(broker_, await_timeout, unpark_atom::value, caf::actor{},
                std::vector<std::string>{"news"}, std::string{"m1"})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  expect_interest_withdrawn(cluster, "news");
  sys_.registry().erase(cluster_name);
}

}  // namespace
}  // namespace wsvisor
