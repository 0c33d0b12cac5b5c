// Unit tests of the registry's drain (actors/session/registry_drain.cpp):
// the real registry, broker, sessions and connections, with the cluster and
// the peer that adopts played by test actors.

#include "actors/session/registry.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "tests/actors/session/session_fixture.hpp"
#include "tests/support/json_fields.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* peer_url = "ws://peer.example:8080/ws";

// What the adopting peer was handed, from the actors' threads.
struct adoptions {
  std::mutex mtx;
  std::vector<session_handover> snapshots;
  std::vector<std::uint64_t> done_cseqs;  // handoff_done_atom from each predecessor
  std::vector<std::string> aborts;        // handoff_abort_atom: the sessions given up
  bool refuse = false;
  int refuse_next = 0;  // refuse this many adopts, then adopt

  std::size_t done() {
    std::lock_guard lock{mtx};
    return done_cseqs.size();
  }
};

// The peer's side: a successor per adopted session that records the end of
// its handover.
caf::behavior successor(caf::event_based_actor*, std::shared_ptr<adoptions> rec) {
  return {
      [rec](handoff_done_atom, std::uint64_t last_cseq) {
        std::lock_guard lock{rec->mtx};
        rec->done_cseqs.push_back(last_cseq);
      },
      [](handoff_subscription_atom, const std::string&, bool) { return caf::ok_atom::value; },
      [](handoff_delivery_atom, const std::string&, const std::string&, std::uint64_t,
         std::uint64_t) {},
  };
}

// The peer's cluster actor: adopts every session it is handed (or refuses).
caf::behavior peer_cluster(caf::event_based_actor* self, std::shared_ptr<adoptions> rec) {
  return {
      [self, rec](adopt_session_atom, session_handover& h) -> caf::result<caf::actor> {
        std::lock_guard lock{rec->mtx};
        if (rec->refuse) return make_error(errc::duplicate_child, h.id);
        if (rec->refuse_next > 0) {
          --rec->refuse_next;
          return make_error(caf::sec::request_timeout);  // as a busy peer's late answer looks
        }
        rec->snapshots.push_back(h);
        return self->spawn(successor, rec);
      },
      [rec](handoff_abort_atom, const std::string& id) {
        std::lock_guard lock{rec->mtx};
        rec->aborts.push_back(id);
      },
  };
}

// This node's cluster actor, as the registry and the broker see it.
caf::behavior own_cluster(caf::event_based_actor*, caf::actor peer) {
  return {
      [peer](handover_targets_atom) {
        return caf::make_message(std::vector<caf::actor>{peer}, std::vector<std::string>{peer_url});
      },
      [](local_barrier_atom) { return caf::ok_atom::value; },
      [](local_interest_atom, const std::string&, bool) { return caf::ok_atom::value; },
      [](broker_joined_atom) {},
  };
}

class RegistryDrain : public SessionFixture {
 protected:
  ~RegistryDrain() override {
    if (cluster_) {
      sys_.registry().erase(cluster_name);
      caf::anon_send_exit(cluster_, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(peer_, caf::exit_reason::user_shutdown);
    }
  }

  // Makes this node a cluster node with one peer that adopts into `rec_`.
  void join_peer() {
    peer_ = sys_.spawn(peer_cluster, rec_);
    cluster_ = sys_.spawn(own_cluster, peer_);
    sys_.registry().put(cluster_name, cluster_);
  }

  // Asks the registry to drain within `bound`: (handed over, not handed over).
  std::pair<std::uint64_t, std::uint64_t> drain(duration bound = 5s) {
    std::pair<std::uint64_t, std::uint64_t> out{~0ull, ~0ull};
    caf::scoped_actor self{sys_};
    self->request(registry_, bound + await_timeout, drain_atom::value, bound)
        .receive(
            [&](std::uint64_t handed, std::uint64_t failed) {
              out = {handed, failed};
            },
            [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
    return out;
  }

  // Shared with the test actors, which may outlive the fixture by a little.
  std::shared_ptr<adoptions> rec_ = std::make_shared<adoptions>();
  caf::actor peer_;
  caf::actor cluster_;
};

TEST_F(RegistryDrain, HandsEverySessionToAPeerAndSendsItsClientThere) {
  start_registry();
  auto [reader, writer, welcome] = reader_and_writer();
  publish(writer, "news", 7, 1);
  expect_message(reader, 1, 7);
  hello(connect());  // a third, idle one
  join_peer();

  EXPECT_EQ(drain(), (std::pair<std::uint64_t, std::uint64_t>{3, 0}));

  for (auto* c : {&reader, &writer}) {
    auto goaway = c->expect("goaway");
    EXPECT_EQ(str(goaway, "reason"), "handover");
    EXPECT_EQ(str(goaway, "url"), peer_url);
    auto closed = c->await_close();
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->code, 1001);
  }
  // The drain is answered once each predecessor has sent its last message
  // to its successor, which handles it on its own time.
  EXPECT_TRUE(eventually([&] { return rec_->done() == 3; }));
  std::lock_guard lock{rec_->mtx};
  ASSERT_EQ(rec_->snapshots.size(), 3u);
  auto it = std::find_if(rec_->snapshots.begin(), rec_->snapshots.end(),
                         [&](const session_handover& h) { return h.id == welcome.session; });
  ASSERT_NE(it, rec_->snapshots.end()) << "the reader's session was not handed over";
  EXPECT_EQ(it->token, welcome.token);
  EXPECT_EQ(it->channels, std::vector<std::string>{"news"});
  EXPECT_EQ(it->seq, 1u);
  ASSERT_EQ(it->buffer_seqs.size(), 1u);  // the message the reader may not have acked
}

TEST_F(RegistryDrain, EndsTheSessionsItHandedOver) {
  start_registry();
  hello(connect());
  hello(connect());
  join_peer();
  EXPECT_EQ(drain(), (std::pair<std::uint64_t, std::uint64_t>{2, 0}));
  EXPECT_TRUE(eventually([&] { return live_sessions() == 0; }));
}

TEST_F(RegistryDrain, WithoutAClusterHandsNothingOverAndCountsEverySessionAsLeft) {
  start_registry();
  hello(connect());
  hello(connect());
  EXPECT_EQ(drain(), (std::pair<std::uint64_t, std::uint64_t>{0, 2}));
  EXPECT_EQ(live_sessions(), 2u);
}

// A handover that fails (here: the peer's answer reads as a timeout) is given
// up at the peer (handoff_abort_atom) and tried again with the next peer.
TEST_F(RegistryDrain, AFailedHandoverIsAbortedAtThePeerAndTriedAgain) {
  start_registry();
  auto w = hello(connect());
  rec_->refuse_next = 1;
  join_peer();
  EXPECT_EQ(drain(), (std::pair<std::uint64_t, std::uint64_t>{1, 0}));
  EXPECT_TRUE(eventually([&] { return rec_->done() == 1; }));
  std::lock_guard lock{rec_->mtx};
  EXPECT_EQ(rec_->aborts, std::vector<std::string>{w.session});
  EXPECT_EQ(rec_->snapshots.size(), 1u);
}

TEST_F(RegistryDrain, ASessionThePeerRefusesStaysHereAndAttached) {
  start_registry();
  auto& c = connect();
  hello(c);
  rec_->refuse = true;
  join_peer();
  EXPECT_EQ(drain(), (std::pair<std::uint64_t, std::uint64_t>{0, 1}));
  EXPECT_EQ(live_sessions(), 1u);
  // Tried handover_attempts times, each given up at the peer (the last
  // abort may reach the peer after the drain's answer).
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock{rec_->mtx};
    return rec_->aborts.size() == 3u;
  }));
  {
    std::lock_guard lock{rec_->mtx};
    EXPECT_EQ(rec_->aborts.size(), 3u);
  }
  // Still attached and working: it answers a subscribe.
  subscribe(c, "news");
}

TEST_F(RegistryDrain, AParkedSessionIsUnparkedAndHandedOverToo) {
  session_.resume_window = 60s;
  start_registry();
  auto& c = connect();
  auto w = hello(c);
  c.drop();
  // Detached and idle: it becomes a record the registry keeps.
  caf::scoped_actor self{sys_};
  ASSERT_TRUE(eventually([&] {
    std::uint64_t parked = 0;
    self->request(registry_, await_timeout, parked_count_atom::value)
        .receive([&](std::uint64_t n) { parked = n; }, [](caf::error&) {});
    return parked == 1;
  }));
  join_peer();
  EXPECT_EQ(drain(), (std::pair<std::uint64_t, std::uint64_t>{1, 0}));
  std::lock_guard lock{rec_->mtx};
  ASSERT_EQ(rec_->snapshots.size(), 1u);
  EXPECT_EQ(rec_->snapshots[0].id, w.session);
}

}  // namespace
}  // namespace wsvisor::test
