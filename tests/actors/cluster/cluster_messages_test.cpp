// Messages that cross nodes, sent between two actor systems over CAF's
// middleman on loopback (a real TCP connection, real serialisation). CAF 0.17
// delivers a type that a node did not register as an empty message, without
// an error: each shape the cluster sends is echoed back here and compared.

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/publish.hpp>
#include <caf/io/remote_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/skip.hpp>

#include "actors/cluster/messages.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;

caf::actor_system_config& node_config(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  add_cluster_message_types(cfg);
  return cfg;
}

/// Answers every message with itself (wrapped in a message, so that any
/// content matches one handler), and errors with an errc error.
caf::behavior echo(caf::event_based_actor* self, int /*unused: CAF 0.17 cannot spawn without*/) {
  self->set_default_handler(
      [](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
        return caf::make_message(caf::ok_atom::value, x.move_content_to_message());
      });
  return {
      [](caf::get_atom, std::uint8_t code) -> caf::result<caf::ok_atom> {
        return make_error(static_cast<errc>(code), "context");
      },
  };
}

class ClusterMessages : public ::testing::Test {
 protected:
  ClusterMessages() : a_(node_config(cfg_a_)), b_(node_config(cfg_b_)) {
    auto server = b_.spawn(echo, 0);
    auto port = caf::io::publish(server, 0, "127.0.0.1");
    EXPECT_TRUE(port) << b_.render(port.error());
    auto remote = caf::io::remote_actor(a_, "127.0.0.1", *port);
    EXPECT_TRUE(remote) << a_.render(remote.error());
    remote_ = *remote;
  }

  ~ClusterMessages() override { caf::anon_send_exit(remote_, caf::exit_reason::user_shutdown); }

  /// Sends `msg` across and returns what came back.
  caf::message round_trip(caf::message msg) {
    caf::scoped_actor self{a_};
    caf::message out;
    self->request(remote_, 5s, std::move(msg))
        .receive([&](caf::ok_atom, caf::message& x) { out = std::move(x); },
                 [&](caf::error& err) { ADD_FAILURE() << a_.render(err); });
    return out;
  }

  caf::actor_system_config cfg_a_;
  caf::actor_system_config cfg_b_;
  caf::actor_system a_;
  caf::actor_system b_;
  caf::actor remote_;
};

TEST_F(ClusterMessages, SessionHandoverCrossesIntact) {
  session_handover h{.id = "a.0123",
                     .token = "tok",
                     .seq = 42,
                     .last_cseq = 7,
                     .acked_through = 30,
                     .lost_through = 12,
                     .channels = {"x", "y"},
                     .buffer_seqs = {41, 42},
                     .buffer_bodies = {R"("channel":"x","data":1})", R"("channel":"y","data":2})"},
                     .through_origins = {5, 6},
                     .through_counters = {99, 100}};
  auto back = round_trip(caf::make_message(adopt_session_atom::value, h));
  ASSERT_TRUE((back.match_elements<adopt_session_atom, session_handover>())) << to_string(back);
  auto& got = back.get_as<session_handover>(1);
  EXPECT_EQ(got.id, h.id);
  EXPECT_EQ(got.token, h.token);
  EXPECT_EQ(got.seq, 42u);
  EXPECT_EQ(got.last_cseq, 7u);
  EXPECT_EQ(got.acked_through, 30u);
  EXPECT_EQ(got.lost_through, 12u);
  EXPECT_EQ(got.channels, h.channels);
  EXPECT_EQ(got.buffer_seqs, h.buffer_seqs);
  EXPECT_EQ(got.buffer_bodies, h.buffer_bodies);
  EXPECT_EQ(got.through_origins, h.through_origins);
  EXPECT_EQ(got.through_counters, h.through_counters);
}

TEST_F(ClusterMessages, EveryOtherShapeTheClusterSendsCrossesIntact) {
  std::vector<caf::message> shapes{
      caf::make_message(cluster_hello_atom::value),
      caf::make_message(cluster_join_atom::value, std::string{"a"}, remote_,
                        std::string{"ws://h/ws"}, std::string{"10.0.0.1:7070"},
                        std::vector<std::string>{"c1", "c2"},
                        received_marks{.origins = {5, 6}, .counters = {1, 2}}),
      caf::make_message(std::string{"b"}, std::string{"ws://b/ws"}, std::string{"10.0.0.2:7070"},
                        std::vector<std::string>{"c3"}, received_marks{}),
      caf::make_message(cluster_gap_atom::value, std::vector<std::string>{"c1"}),
      caf::make_message(cluster_leave_atom::value, std::string{"a"}),
      caf::make_message(cluster_admin_atom::value, std::uint8_t{0}, std::string{"a.1"},
                        std::uint64_t{100}, std::string{"attached"}),
      caf::make_message(std::uint16_t{200}, std::string{R"({"node":"b"})"}),
      caf::make_message(std::vector<cluster_member_info>{{.node = "b",
                                                          .address = "10.0.0.2:7070",
                                                          .public_url = "ws://b/ws",
                                                          .state = "up",
                                                          .since_ms = 1,
                                                          .last_seen_ms = 2,
                                                          .caf_node = "x",
                                                          .actor = remote_.address()}}),
      caf::make_message(cluster_interest_atom::value, std::string{"a"}, std::string{"c"}, true),
      caf::make_message(cluster_publish_atom::value, std::string{"c"}, std::string{"body"},
                        std::uint64_t{9}, std::uint64_t{10}),
      caf::make_message(
          cluster_publishes_atom::value,
          cluster_publishes{
              .origin = 9, .channels = {"c", "d"}, .bodies = {"b1", "b2"}, .counters = {10, 11}}),
      caf::make_message(
          replica_batch_atom::value,
          replica_batch{.puts = {session_handover{.id = "a.2", .token = "t"}},
                        .updates = {replica_update{
                            .id = "a.1",
                            .epoch = 2,
                            .seq = 3,
                            .channels_changed = true,
                            .channels = {"c"},
                            .entries = {replica_entry{.seq = 3, .origin = 9, .counter = 10},
                                        replica_entry{.seq = 4, .body = "b"}},
                            .through_origins = {9},
                            .through_counters = {10}}},
                        .whole = {0, 1}}),
      caf::make_message(std::vector<char>{0, 1}),
      caf::make_message(cluster_lookup_atom::value, std::string{"a.1"}, std::string{"tok"}),
      caf::make_message(remote_attach_atom::value, remote_, std::string{"1.2.3.4:5"},
                        std::string{"tok"}, std::uint64_t{3}),
      caf::make_message(connection_write_atom::value, std::string{R"({"type":"ping"})"}),
      caf::make_message(connection_credit_atom::value, std::uint64_t{123}),
      caf::make_message(drop_connection_atom::value, std::uint16_t{4409}, std::string{"moved"}),
      caf::make_message(publish_atom::value, std::string{"c"}, std::string{"body"},
                        std::uint64_t{4}),
      caf::make_message(subscribe_atom::value, std::string{"c"}, true),
      caf::make_message(presence_query_atom::value, std::string{"c"}),
      caf::make_message(presence_rows_atom::value, std::string{"c"}),
      caf::make_message(std::uint64_t{7}, std::uint64_t{12},
                        std::vector<std::string>{R"("member":"m","channel":"c","subject":null,)"
                                                 R"("state":"away"})"}),
      caf::make_message(client_ack_atom::value, std::uint64_t{5}),
      caf::make_message(cluster_barrier_atom::value, std::uint64_t{1}, remote_),
      caf::make_message(cluster_echo_atom::value, std::uint64_t{1}),
      caf::make_message(handoff_delivery_atom::value, std::string{"c"}, std::string{"body"},
                        std::uint64_t{9}, std::uint64_t{11}),
      caf::make_message(handoff_done_atom::value, std::uint64_t{8}),
      caf::make_message(handoff_subscription_atom::value, std::string{"c"}, true),
      caf::make_message(remote_),
  };
  for (auto& msg : shapes) {
    auto back = round_trip(msg);
    EXPECT_EQ(to_string(back), to_string(msg));
    EXPECT_EQ(back.size(), msg.size()) << to_string(msg);
  }
}

TEST_F(ClusterMessages, WsvisorErrorsCrossWithCodeAndContext) {
  for (auto code : {errc::resume_unknown, errc::resume_overflow, errc::session_expired,
                    errc::duplicate_node, errc::shutting_down}) {
    caf::scoped_actor self{a_};
    self->request(remote_, 5s, caf::get_atom::value, static_cast<std::uint8_t>(code))
        .receive([](caf::ok_atom) { ADD_FAILURE() << "no error"; },
                 [&](caf::error& err) {
                   EXPECT_EQ(err, code);
                   EXPECT_EQ(context_of(err), "context");
                 });
  }
}

}  // namespace
}  // namespace wsvisor
