// A session and its replica (docs/cluster.md, "Replicas"), with scoped actors
// standing in for this node's replica store and the peer's: what the client
// may see waits for the replica, a replica adopted elsewhere stops this copy,
// and a lost replica is placed again.

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>

#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/broker.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "actors/session/session.hpp"
#include "tests/actors/session/session_fixture.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

class SessionReplica : public SessionFixture {
 protected:
  SessionReplica() { sys_.registry().put(replica_store_name, caf::actor{local_}); }
  ~SessionReplica() override { sys_.registry().erase(replica_store_name); }

  // Spawns a session on `conn_` and answers its placement with `store`.
  caf::actor start_session(caf::scoped_actor& store) {
    broker_ = spawn_broker(sys_);
    auto session = spawn_session(
        sys_, session_args{"a.1", "tok", session_, broker_, caf::actor{conn_}, transport_, ""});
    EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "welcome");
    place(store);
    return session;
  }

  // start_session, its put held, then a subscribe to "news": the update
  // carrying it is answered through `rp`, which the caller delivers.
  caf::actor start_subscribing(caf::scoped_actor& store, std::optional<caf::response_promise>& rp) {
    auto session = start_session(store);
    take_put(store, rp);
    rp->deliver(caf::ok_atom::value);
    conn_->send(session, subscribe_atom::value, std::string{"news"}, false);
    take_update(store, rp);
    return session;
  }

  void place(caf::scoped_actor& store) {
    local_->receive(
        [&](replica_place_atom, const std::string& id, std::uint64_t) {
          EXPECT_EQ(id, "a.1");
          return caf::make_message(caf::actor{store}, std::string{"b"});
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no placement asked"; });
  }

  // The next put or update (Atom, Item) for `store` that this node's store
  // receives; its answer is `rp`.
  template <class Atom, class Item>
  Item take(caf::scoped_actor& store, std::optional<caf::response_promise>& rp) {
    Item got;
    local_->receive(
        [&](Atom, const caf::actor& target, Item& item) {
          EXPECT_EQ(target, caf::actor{store}) << "sent for another store";
          got = std::move(item);
          rp = local_->make_response_promise();
        },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "nothing sent for the store"; });
    return got;
  }

  session_handover take_put(caf::scoped_actor& store, std::optional<caf::response_promise>& rp) {
    return take<replica_put_atom, session_handover>(store, rp);
  }

  replica_update take_update(caf::scoped_actor& store, std::optional<caf::response_promise>& rp) {
    return take<replica_update_atom, replica_update>(store, rp);
  }

  static std::vector<std::uint64_t> seqs(const replica_update& u) {
    std::vector<std::uint64_t> out;
    for (auto& e : u.entries) out.push_back(e.seq);
    return out;
  }

  std::size_t frames() const { return transport_->frames().size(); }

  caf::scoped_actor local_{sys_};  // this node's replica store
  caf::scoped_actor conn_{sys_};
  std::shared_ptr<fake_transport> transport_ = std::make_shared<fake_transport>();
  caf::actor broker_;
};

TEST_F(SessionReplica, TheClientSeesAMessageAnAckOrSubscribedOnlyOnceTheReplicaHoldsIt) {
  caf::scoped_actor store{sys_};
  auto session = start_session(store);
  std::optional<caf::response_promise> rp;
  auto put = take_put(store, rp);
  EXPECT_EQ(put.id, "a.1");
  EXPECT_EQ(put.token, "tok");
  rp->deliver(caf::ok_atom::value);

  conn_->send(session, subscribe_atom::value, std::string{"news"}, false);
  auto sub = take_update(store, rp);  // sent once the broker confirmed
  EXPECT_TRUE(sub.channels_changed);
  EXPECT_EQ(sub.channels, (std::vector<std::string>{"news"}));
  auto before = frames();
  settle(session);
  EXPECT_EQ(frames(), before) << "subscribed before the replica has the channel";
  rp->deliver(caf::ok_atom::value);
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "subscribed");

  caf::anon_send(session, deliver_atom::value, std::string{"news"},
                 shared_body{std::make_shared<const std::string>(R"("channel":"news","data":7})")},
                 std::uint64_t{5}, std::uint64_t{1}, std::int64_t{0});
  auto msg = take_update(store, rp);
  EXPECT_EQ(seqs(msg), (std::vector<std::uint64_t>{1}));
  // The replica's node receives "news" itself: the message is named, not sent.
  ASSERT_EQ(msg.entries.size(), 1u);
  EXPECT_EQ(msg.entries[0].body, "");
  EXPECT_EQ(msg.entries[0].origin, 5u);
  EXPECT_EQ(msg.entries[0].counter, 1u);
  // The channels did not change: not sent again.
  EXPECT_FALSE(msg.channels_changed);
  EXPECT_TRUE(msg.channels.empty());
  EXPECT_EQ(msg.through_origins, (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(msg.through_counters, (std::vector<std::uint64_t>{1}));
  settle(session);
  EXPECT_EQ(frames(), before + 1) << "a message the replica does not hold was sent";
  rp->deliver(caf::ok_atom::value);
  auto m = parse_frame(*transport_->next_frame());
  EXPECT_EQ(str(m, "type"), "message");
  EXPECT_EQ(num(m, "seq"), 1);

  conn_->send(session, local_publish_atom::value, std::string{"other"},
              shared_body{std::make_shared<const std::string>(R"("channel":"other","data":1})")},
              std::uint64_t{1});
  auto pub = take_update(store, rp);
  EXPECT_EQ(pub.last_cseq, 1u);
  EXPECT_TRUE(pub.entries.empty());  // what the replica holds is not sent again
  settle(session);
  EXPECT_EQ(frames(), before + 2) << "acknowledged before the replica knows the cseq";
  rp->deliver(caf::ok_atom::value);
  auto ack = parse_frame(*transport_->next_frame());
  EXPECT_EQ(str(ack, "type"), "ack");
  EXPECT_EQ(num(ack, "cseq"), 1);

  // It ends: its replica goes with it.
  conn_->send(session, bye_atom::value);
  store->receive(
      [](replica_drop_atom, const std::string& id, std::uint64_t epoch) {
        EXPECT_EQ(id, "a.1");
        EXPECT_EQ(epoch, 0u);
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no drop"; });
}

TEST_F(SessionReplica, AnAnswerToALaterUpdateCoversTheEarlierOnes) {
  // Batches to a store can be answered out of order (one waits for a
  // subscription); the store applies a session's updates in order, so the
  // answer to the later one means the earlier is held too.
  caf::scoped_actor store{sys_};
  std::optional<caf::response_promise> rp;
  auto session = start_subscribing(store, rp);
  rp->deliver(caf::ok_atom::value);
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "subscribed");
  auto before = frames();

  caf::anon_send(session, deliver_atom::value, std::string{"news"},
                 shared_body{std::make_shared<const std::string>(R"("channel":"news","data":7})")},
                 std::uint64_t{5}, std::uint64_t{1}, std::int64_t{0});
  std::optional<caf::response_promise> first;
  auto msg = take_update(store, first);
  EXPECT_EQ(seqs(msg), (std::vector<std::uint64_t>{1}));
  conn_->send(session, local_publish_atom::value, std::string{"other"},
              shared_body{std::make_shared<const std::string>(R"("channel":"other","data":1})")},
              std::uint64_t{1});
  std::optional<caf::response_promise> second;
  auto pub = take_update(store, second);  // the second in flight: no wait for the first
  EXPECT_EQ(pub.last_cseq, 1u);
  settle(session);
  EXPECT_EQ(frames(), before);

  second->deliver(caf::ok_atom::value);
  // Both now (answers go out before the messages they were held with).
  auto ack = parse_frame(*transport_->next_frame());
  EXPECT_EQ(str(ack, "type"), "ack");
  EXPECT_EQ(num(ack, "cseq"), 1);
  auto m = parse_frame(*transport_->next_frame());
  EXPECT_EQ(str(m, "type"), "message");
  EXPECT_EQ(num(m, "seq"), 1);
  first->deliver(caf::ok_atom::value);  // late: covered already
  settle(session);
  EXPECT_EQ(frames(), before + 2);
  local_->receive([](replica_update_atom, const caf::actor&,
                     replica_update&) { ADD_FAILURE() << "an update with nothing new"; },
                  caf::after(200ms) >> [] {});
  conn_->send(session, bye_atom::value);
}

TEST_F(SessionReplica, APublishAndItsOwnEchoGoToTheReplicaInOneUpdate) {
  // The broker answers a publish and then sends it to the channel's
  // subscribers, this session among them: the session may handle the answer
  // before the copy is even sent. A scoped actor stands in for the broker
  // to hold the copy back; one update still carries the cseq and the message.
  caf::scoped_actor broker{sys_};
  caf::scoped_actor store{sys_};
  auto session = spawn_session(sys_, session_args{"a.1", "tok", session_, caf::actor{broker},
                                                  caf::actor{conn_}, transport_, ""});
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "welcome");
  place(store);
  std::optional<caf::response_promise> rp;
  take_put(store, rp);
  rp->deliver(caf::ok_atom::value);
  conn_->send(session, subscribe_atom::value, std::string{"news"}, false);
  broker->receive([](broker_subscribe_atom, const std::string&,
                     const caf::actor&) { return caf::ok_atom::value; },
                  caf::after(await_timeout) >> [] { ADD_FAILURE() << "no subscribe"; });
  take_update(store, rp);
  rp->deliver(caf::ok_atom::value);
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "subscribed");

  auto body = std::make_shared<const std::string>(R"("channel":"news","data":1})");
  conn_->send(session, local_publish_atom::value, std::string{"news"}, shared_body{body},
              std::uint64_t{1});
  broker->receive(
      [](broker_publish_atom, const std::string&, const shared_body&) {
        return caf::make_message(std::uint64_t{1}, std::string{});
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no publish"; });
  local_->receive([](replica_update_atom, const caf::actor&,
                     replica_update&) { ADD_FAILURE() << "an update before the copy came"; },
                  caf::after(200ms) >> [] {});
  broker->send(session, deliver_atom::value, std::string{"news"}, shared_body{body},
               std::uint64_t{5}, std::uint64_t{1}, std::int64_t{0});
  auto both = take_update(store, rp);
  EXPECT_EQ(both.last_cseq, 1u);
  EXPECT_EQ(seqs(both), (std::vector<std::uint64_t>{1}));
  rp->deliver(caf::ok_atom::value);
  auto ack = parse_frame(*transport_->next_frame());
  EXPECT_EQ(str(ack, "type"), "ack");
  EXPECT_EQ(num(ack, "cseq"), 1);
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "message");
  conn_->send(session, bye_atom::value);
}

TEST_F(SessionReplica, ACopyWhoseReplicaWasAdoptedElsewhereClosesItsClientWith4413) {
  caf::scoped_actor store{sys_};
  std::optional<caf::response_promise> rp;
  start_subscribing(store, rp);
  rp->deliver(make_error(errc::session_moved, "a.1"));
  auto closed = transport_->await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4413);
  // No `subscribed` went out, and no drop: the record is the other copy's.
  for (auto& f : transport_->frames()) EXPECT_NE(str(parse_frame(f), "type"), "subscribed");
  store->receive([](replica_drop_atom, const std::string&,
                    std::uint64_t) { ADD_FAILURE() << "the other copy's replica dropped"; },
                 caf::after(200ms) >> [] {});
}

TEST_F(SessionReplica, ALostReplicaIsPlacedAgainAndPutWhole) {
  auto store = std::make_unique<caf::scoped_actor>(sys_);
  std::optional<caf::response_promise> rp;
  auto session = start_subscribing(*store, rp);
  rp->deliver(caf::ok_atom::value);
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "subscribed");
  caf::anon_send(session, deliver_atom::value, std::string{"news"},
                 shared_body{std::make_shared<const std::string>(R"("channel":"news","data":7})")},
                 std::uint64_t{5}, std::uint64_t{1}, std::int64_t{0});
  store.reset();  // its node is gone: the session's monitor says so
  caf::scoped_actor second{sys_};
  place(second);
  auto put = take_put(second, rp);
  EXPECT_EQ(put.token, "tok");
  EXPECT_EQ(put.buffer_seqs, (std::vector<std::uint64_t>{1}));
  settle(session);
  EXPECT_EQ(frames(), 2u) << "a message sent before a replica held it";
  rp->deliver(caf::ok_atom::value);
  auto m = parse_frame(*transport_->next_frame());
  EXPECT_EQ(str(m, "type"), "message");
  EXPECT_EQ(num(m, "seq"), 1);
  conn_->send(session, bye_atom::value);
}

TEST_F(SessionReplica, AReplicaLostAgainAtOnceIsPlacedAgainOnlyAfterAPause) {
  // A peer's store gone while its node is still listed as up: placement
  // picks it again, and the put fails again. The second loss in a row waits
  // before the next placement instead of looping.
  caf::scoped_actor store{sys_};
  auto session = start_session(store);
  std::optional<caf::response_promise> rp;
  take_put(store, rp);
  rp->deliver(make_error(caf::sec::request_receiver_down));
  place(store);  // the first loss: placed again at once
  take_put(store, rp);
  rp->deliver(make_error(caf::sec::request_receiver_down));
  auto lost = std::chrono::steady_clock::now();
  place(store);
  EXPECT_GE(std::chrono::steady_clock::now() - lost, 90ms) << "placed again without a pause";
  conn_->send(session, bye_atom::value);
}

TEST_F(SessionReplica, APlacementThatFailsIsAskedAgain) {
  // Its client waits for the replica: a failed placement must not be the end.
  caf::scoped_actor store{sys_};
  broker_ = spawn_broker(sys_);
  auto session = spawn_session(
      sys_, session_args{"a.1", "tok", session_, broker_, caf::actor{conn_}, transport_, ""});
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "welcome");
  local_->receive(
      [](replica_place_atom, const std::string&, std::uint64_t) -> caf::result<caf::actor> {
        return make_error(caf::sec::request_timeout);
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no placement asked"; });
  place(store);  // asked again
  std::optional<caf::response_promise> rp;
  EXPECT_EQ(take_put(store, rp).token, "tok");
  rp->deliver(caf::ok_atom::value);
  conn_->send(session, bye_atom::value);
}

TEST_F(SessionReplica, WhenThisNodesStoreEndsTheOneThatReplacesItIsPutTheWholeSession) {
  // The session's requests to its node's store carry no timeout: the store's
  // end is what it watches. Here the store ends holding the session's put
  // unanswered; its replacement (registered under the same name) places the
  // replica and is put the whole session.
  auto first = std::make_unique<caf::scoped_actor>(sys_);
  sys_.registry().erase(replica_store_name);  // put() keeps an existing entry
  sys_.registry().put(replica_store_name, caf::actor{*first});
  caf::scoped_actor store{sys_};
  broker_ = spawn_broker(sys_);
  auto session = spawn_session(
      sys_, session_args{"a.1", "tok", session_, broker_, caf::actor{conn_}, transport_, ""});
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "welcome");
  (*first)->receive(
      [&](replica_place_atom, const std::string&, std::uint64_t) {
        return caf::make_message(caf::actor{store}, std::string{"b"});
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no placement asked"; });
  std::optional<caf::response_promise> held;
  (*first)->receive([&](replica_put_atom, const caf::actor&,
                        session_handover&) { held = (*first)->make_response_promise(); },
                    caf::after(await_timeout) >> [] { ADD_FAILURE() << "no put"; });
  held.reset();
  first.reset();
  sys_.registry().erase(replica_store_name);
  sys_.registry().put(replica_store_name, caf::actor{local_});
  place(store);
  std::optional<caf::response_promise> rp;
  auto put = take_put(store, rp);
  EXPECT_EQ(put.token, "tok");
  rp->deliver(caf::ok_atom::value);
  conn_->send(session, subscribe_atom::value, std::string{"news"}, false);
  take_update(store, rp);
  rp->deliver(caf::ok_atom::value);
  EXPECT_EQ(str(parse_frame(*transport_->next_frame()), "type"), "subscribed");
  conn_->send(session, bye_atom::value);
}

}  // namespace
}  // namespace wsvisor::test
