// Unit tests of the cluster actor (actors/cluster/cluster.cpp) in one actor
// system: its peers are test actors that speak the cluster's protocol
// (actors/cluster/messages.hpp), its broker a scoped actor registered under
// broker_name. The cluster over real nodes: tests/integration/cluster_test.cpp.

#include "actors/cluster/cluster.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/cluster/messages.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "tests/actors/fake_transport.hpp"
#include "tests/support/eventually.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

// A peer's cluster actor, as far as these tests need one: it answers
// lookups for the session `held` (with `session`), and on request says it
// is leaving.
struct peer_args {
  std::string held;
  caf::actor session;
};

caf::behavior fake_peer(caf::event_based_actor* self, peer_args a) {
  return {
      [a](cluster_lookup_atom, const std::string& id,
          const std::string&) -> caf::result<caf::actor> {
        if (id == a.held) return a.session;
        return make_error(errc::resume_unknown);
      },
      [self](cluster_leave_atom, const std::string& name, const caf::actor& to) {
        self->send(to, cluster_leave_atom::value, name);
        return caf::ok_atom::value;
      },
  };
}

caf::behavior idle(caf::event_based_actor*, int /*unused: CAF 0.17 cannot spawn without*/) {
  return {[](const std::string&) {}};
}

class ClusterActor : public ::testing::Test {
 protected:
  ClusterActor() : sys_(config(cfg_)), broker_(sys_) {
    sys_.registry().put(broker_name, caf::actor{broker_});
  }

  ~ClusterActor() override {
    for (auto& a : spawned_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    if (cluster_) caf::anon_send_exit(cluster_, caf::exit_reason::user_shutdown);
    sys_.registry().erase(broker_name);
  }

  static caf::actor_system_config& config(caf::actor_system_config& cfg) {
    cfg.load<caf::io::middleman>();  // peer links dial through it
    add_cluster_message_types(cfg);
    return cfg;
  }

  void start(std::vector<std::string> peers = {}) {
    cluster_ = spawn_cluster(sys_, cluster_options{.node = "a",
                                                   .public_url = "ws://a.example/ws",
                                                   .listen = "127.0.0.1:7001",
                                                   .peers = std::move(peers),
                                                   .policies = builtin_policies(),
                                                   .peer_timeout = 2s});
  }

  caf::actor peer(peer_args a = {}) {
    spawned_.push_back(sys_.spawn(fake_peer, std::move(a)));
    return spawned_.back();
  }

  // The peer `name` (its cluster actor `who`) joins this node with `interest`.
  void join(const std::string& name, const caf::actor& who, std::vector<std::string> interest = {},
            received_marks received = {}) {
    caf::scoped_actor self{sys_};
    self->request(cluster_, await_timeout, cluster_join_atom::value, name, who,
                  "ws://" + name + ".example/ws", name + ".example:7000", std::move(interest),
                  std::move(received))
        .receive(
            [&](const std::string& node, const std::string& url, const std::string& address,
                const std::vector<std::string>&, const received_marks&) {
              EXPECT_EQ(node, "a");
              EXPECT_EQ(url, "ws://a.example/ws");
              EXPECT_EQ(address, "127.0.0.1:7001");
            },
            [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  }

  std::vector<cluster_member_info> status() {
    std::vector<cluster_member_info> out;
    caf::scoped_actor self{sys_};
    self->request(cluster_, await_timeout, cluster_status_atom::value)
        .receive([&](std::vector<cluster_member_info>& m) { out = std::move(m); },
                 [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
    return out;
  }

  std::string state_of(const std::string& node) {
    for (auto& m : status())
      if (m.node == node) return m.state;
    return "absent";
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor broker_;  // what the cluster tells this node's broker
  caf::actor cluster_;
  std::vector<caf::actor> spawned_;
};

TEST_F(ClusterActor, APeerThatJoinsIsUpWithTheAddressAndUrlItAnnounced) {
  start();
  auto b = peer();
  join("b", b);
  auto members = status();
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].node, "b");
  EXPECT_EQ(members[0].state, "up");
  EXPECT_EQ(members[0].public_url, "ws://b.example/ws");
  EXPECT_EQ(members[0].address, "b.example:7000");
  EXPECT_EQ(members[0].actor, b.address());
  caf::scoped_actor self{sys_};
  self->request(cluster_, await_timeout, handover_targets_atom::value)
      .receive(
          [&](const std::vector<caf::actor>& clusters, const std::vector<std::string>& urls) {
            EXPECT_EQ(clusters, std::vector<caf::actor>{b});
            EXPECT_EQ(urls, std::vector<std::string>{"ws://b.example/ws"});
          },
          [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
}

TEST_F(ClusterActor, RefusesAPeerThatHasThisNodesName) {
  start();
  caf::scoped_actor self{sys_};
  self->request(cluster_, await_timeout, cluster_join_atom::value, std::string{"a"}, peer(),
                std::string{"ws://x/ws"}, std::string{"127.0.0.1:9"}, std::vector<std::string>{},
                received_marks{})
      .receive([&](const std::string&, const std::string&, const std::string&,
                   const std::vector<std::string>&,
                   const received_marks&) { ADD_FAILURE() << "joined"; },
               [&](caf::error& err) { EXPECT_EQ(err, errc::duplicate_node); });
  EXPECT_TRUE(status().empty());
}

TEST_F(ClusterActor, TellsItsBrokerWhatAJoiningPeerReceivedThenWhichChannelsItWants) {
  start();
  auto b = peer();
  join("b", b, {"news"}, received_marks{.origins = {7}, .counters = {42}});
  bool rejoined = false;
  broker_->receive(
      [&](peer_rejoined_atom, const caf::actor& who, const std::string& name,
          const received_marks& received, const std::vector<std::string>& interest) {
        EXPECT_EQ(who, b);
        EXPECT_EQ(name, "b");
        EXPECT_EQ(received.origins, std::vector<std::uint64_t>{7});
        EXPECT_EQ(received.counters, std::vector<std::uint64_t>{42});
        EXPECT_EQ(interest, std::vector<std::string>{"news"});
        rejoined = true;
      },
      caf::after(await_timeout) >> [] {});
  EXPECT_TRUE(rejoined);
  bool told = false;
  broker_->receive(
      [&](peer_interest_atom, const caf::actor& who, const std::string& channel, bool on) {
        EXPECT_EQ(who, b);
        EXPECT_EQ(channel, "news");
        EXPECT_TRUE(on);
        told = true;
      },
      caf::after(await_timeout) >> [] {});
  EXPECT_TRUE(told);
}

TEST_F(ClusterActor, APeerThatEndsUnannouncedIsDownAndItsBrokerForgetsIt) {
  start();
  auto b = peer();
  join("b", b);
  caf::anon_send_exit(b, caf::exit_reason::kill);
  bool forgotten = false;
  bool lost = false;
  broker_->receive([](peer_rejoined_atom, const caf::actor&, const std::string&,
                      const received_marks&, const std::vector<std::string>&) {},
                   caf::after(await_timeout) >> [] {});
  broker_->receive(
      [&](peer_gone_atom, const caf::actor& who, const std::string& name, bool was_lost) {
        forgotten = who == b && name == "b";
        lost = was_lost;
      },
      caf::after(await_timeout) >> [] {});
  EXPECT_TRUE(forgotten);
  EXPECT_TRUE(lost) << "an unannounced end is a loss: the broker keeps what the peer misses";
  EXPECT_TRUE(eventually([&] { return state_of("b") == "down"; }));
}

TEST_F(ClusterActor, APeerThatSaidItIsLeavingIsLeftNotLost) {
  start();
  auto b = peer();
  join("b", b);
  {
    // b tells the cluster it is leaving, then ends: its leave is in the
    // cluster's mailbox before the down that b's end causes.
    caf::scoped_actor self{sys_};
    self->request(b, await_timeout, cluster_leave_atom::value, std::string{"b"}, cluster_)
        .receive([](caf::ok_atom) {}, [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  }
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(eventually([&] { return state_of("b") == "left"; }));
}

TEST_F(ClusterActor, AConfiguredPeerNotJoinedYetIsConnecting) {
  start({"127.0.0.1:1"});  // nothing listens there
  auto members = status();
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].address, "127.0.0.1:1");
  EXPECT_EQ(members[0].state, "connecting");
}

TEST_F(ClusterActor, FindsASessionThroughThePeerThatHoldsIt) {
  start();
  auto session = sys_.spawn(idle, 0);
  spawned_.push_back(session);
  join("b", peer());
  join("cc", peer({.held = "cc.s1", .session = session}));
  caf::scoped_actor self{sys_};
  self->request(cluster_, await_timeout, cluster_find_atom::value, std::string{"cc.s1"},
                std::string{"token"})
      .receive([&](const caf::actor& found) { EXPECT_EQ(found, session); },
               [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
  self->request(cluster_, await_timeout, cluster_find_atom::value, std::string{"zz.s9"},
                std::string{"token"})
      .receive([&](const caf::actor&) { ADD_FAILURE() << "found a session nobody holds"; },
               [&](caf::error& err) { EXPECT_EQ(err, errc::resume_unknown); });
}

TEST_F(ClusterActor, FindsNothingWithoutPeers) {
  start();
  caf::scoped_actor self{sys_};
  self->request(cluster_, await_timeout, cluster_find_atom::value, std::string{"b.s1"},
                std::string{"token"})
      .receive([&](const caf::actor&) { ADD_FAILURE() << "found"; },
               [&](caf::error& err) { EXPECT_EQ(err, errc::resume_unknown); });
}

}  // namespace
}  // namespace wsvisor::test
