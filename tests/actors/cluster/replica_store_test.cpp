// Unit tests of the replica store's batches (actors/cluster/replica_store.cpp,
// docs/cluster.md "Replicas"): its node's sessions' puts and updates for one
// peer's store cross as one message per batch, at most two in flight, and a
// peer's batch is kept item by item. Scoped actors stand in for the sessions
// and for the peer's store. The store over real nodes:
// tests/integration/cluster_replica_test.cpp.

#include "actors/cluster/replica_store.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "tests/actors/fake_transport.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

class ReplicaStore : public ::testing::Test {
 protected:
  ReplicaStore() : sys_(config(cfg_)) {
    store_ = spawn_replica_store(sys_, replica_store_options{.node = "a", .peer_timeout = 5s});
  }

  ~ReplicaStore() override { caf::anon_send_exit(store_, caf::exit_reason::user_shutdown); }

  static caf::actor_system_config& config(caf::actor_system_config& cfg) {
    add_session_message_types(cfg);
    return cfg;
  }

  static replica_update update(const std::string& id) {
    return replica_update{.id = id, .epoch = 0, .seq = 1};
  }

  static session_handover put(const std::string& id) {
    return session_handover{.id = id, .seq = 1, .epoch = 0};
  }

  // Once this answers, every message sent to the store before it was handled.
  void settle() {
    caf::scoped_actor self{sys_};
    self->request(store_, await_timeout, replica_stats_atom::value)
        .receive([](std::uint64_t, std::uint64_t) {},
                 [](caf::error& err) { ADD_FAILURE() << "no stats: " << to_string(err); });
  }

  // The next batch `peer` receives; its answer is `rp`.
  replica_batch take(caf::scoped_actor& peer, std::optional<caf::response_promise>& rp) {
    replica_batch got;
    peer->receive(
        [&](replica_batch_atom, replica_batch& b) {
          got = std::move(b);
          rp = peer->make_response_promise();
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no batch"; });
    return got;
  }

  static std::vector<std::string> ids(const replica_batch& b) {
    std::vector<std::string> out;
    auto put = b.puts.begin();
    auto update = b.updates.begin();
    for (auto whole : b.whole) out.push_back(whole == 1 ? (put++)->id : (update++)->id);
    return out;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::actor store_;
};

TEST_F(ReplicaStore, SessionsUpdatesForOnePeerCrossAsOneBatchWhileTwoAreInFlight) {
  caf::scoped_actor peer{sys_};
  std::vector<std::unique_ptr<caf::scoped_actor>> sessions;
  for (int i = 0; i < 5; ++i) {
    sessions.push_back(std::make_unique<caf::scoped_actor>(sys_));
    auto id = "s" + std::to_string(i);
    if (i == 0)
      (*sessions.back())->send(store_, replica_put_atom::value, caf::actor{peer}, put(id));
    else
      (*sessions.back())->send(store_, replica_update_atom::value, caf::actor{peer}, update(id));
  }
  settle();

  std::optional<caf::response_promise> first, second, third;
  auto b1 = take(peer, first);
  auto b2 = take(peer, second);
  EXPECT_EQ(ids(b1), (std::vector<std::string>{"s0"}));
  EXPECT_EQ(b1.whole, (std::vector<char>{1}));
  EXPECT_EQ(ids(b2), (std::vector<std::string>{"s1"}));
  peer->receive([](replica_batch_atom, replica_batch&) { ADD_FAILURE() << "a third in flight"; },
                caf::after(200ms) >> [] {});

  first->deliver(std::vector<char>{0});
  auto b3 = take(peer, third);  // everything that waited, in the order it came
  EXPECT_EQ(ids(b3), (std::vector<std::string>{"s2", "s3", "s4"}));
  EXPECT_EQ(b3.whole, (std::vector<char>{0, 0, 0}));
  third->deliver(std::vector<char>{0, 1, 0});
  second->deliver(std::vector<char>{0});

  // Each session gets its own item's answer: s3's was refused.
  for (int i = 0; i < 5; ++i) {
    bool refused = false;
    bool kept = false;
    (*sessions[i])
        ->receive([&](caf::ok_atom) { kept = true; },
                  [&](caf::error& err) { refused = err == errc::session_moved; },
                  caf::after(await_timeout) >> [] { ADD_FAILURE() << "no answer"; });
    EXPECT_EQ(kept, i != 3) << "s" << i;
    EXPECT_EQ(refused, i == 3) << "s" << i;
  }
}

TEST_F(ReplicaStore, APlacementAskedWhileAJoinedPeersStoreIsLookedUpWaitsForIt) {
  // A session started right after a peer joined is placed on it, not told
  // that no peer exists (it would then stay unreplicated until its next change).
  caf::scoped_actor cluster{sys_};
  caf::scoped_actor peer_store{sys_};
  caf::scoped_actor session{sys_};
  caf::anon_send(store_, replica_member_atom::value, std::string{"b"}, caf::actor{cluster}, true,
                 false);
  std::optional<caf::response_promise> where;
  cluster->receive([&](replica_where_atom) { where = cluster->make_response_promise(); },
                   caf::after(await_timeout) >> [] { ADD_FAILURE() << "no lookup"; });
  session->send(store_, replica_place_atom::value, std::string{"a.1"}, std::uint64_t{0});
  session->receive([](caf::actor&, std::string&) { ADD_FAILURE() << "placed before the lookup"; },
                   caf::after(200ms) >> [] {});
  where->deliver(caf::actor{peer_store});
  session->receive(
      [&](caf::actor& on, std::string& node) {
        EXPECT_EQ(on, caf::actor{peer_store});
        EXPECT_EQ(node, "b");
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no placement"; });
}

TEST_F(ReplicaStore, APeersBatchIsKeptItemByItemAndAnsweredPerItem) {
  caf::scoped_actor home{sys_};
  replica_batch batch;
  batch.puts = {session_handover{.id = "x", .token = "t", .seq = 2, .epoch = 1},
                session_handover{.id = "y", .token = "t", .seq = 1}};
  batch.updates = {update("unknown")};  // an update for a session it holds no record of
  batch.whole = {1, 0, 1};
  home->request(store_, await_timeout, replica_batch_atom::value, std::move(batch))
      .receive(
          [](std::vector<char>& refused) {
            EXPECT_EQ(refused, (std::vector<char>{0, 1, 0}));
          },
          [](caf::error& err) { ADD_FAILURE() << to_string(err); });
  for (auto id : {"x", "y"}) {
    home->request(store_, await_timeout, replica_holds_atom::value, std::string{id})
        .receive([&](bool held) { EXPECT_TRUE(held) << id; },
                 [](caf::error& err) { ADD_FAILURE() << to_string(err); });
  }
  // A later batch with an older epoch of x is refused: that copy moved on.
  replica_batch stale;
  stale.updates = {replica_update{.id = "x", .epoch = 0, .seq = 3}};
  stale.whole = {0};
  home->request(store_, await_timeout, replica_batch_atom::value, std::move(stale))
      .receive([](std::vector<char>& refused) { EXPECT_EQ(refused, (std::vector<char>{1})); },
               [](caf::error& err) { ADD_FAILURE() << to_string(err); });
}

}  // namespace
}  // namespace wsvisor::test
