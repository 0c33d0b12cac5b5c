// The transport a session uses for a connection on another node: frames go
// to the connection actor as messages, and the bytes in flight are bounded by
// the connection's credit (actors/remote_transport.hpp).

#include "actors/remote_transport.hpp"

#include <atomic>
#include <string>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/messages.hpp"
#include "tests/actors/fake_transport.hpp"

namespace wsvisor {
namespace {

using test::await_timeout;

class RemoteTransport : public ::testing::Test {
 protected:
  RemoteTransport() : sys_(configure(cfg_)) {}
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_core_message_types(cfg);
    return cfg;
  }
  caf::actor_system_config cfg_;
  caf::actor_system sys_;
};

TEST_F(RemoteTransport, SendsFramesInOrderAndWaitsForCreditBeyondHalfItsWindow) {
  caf::scoped_actor conn{sys_};
  remote_transport t{caf::actor{conn}, "10.0.0.1:5", 100};
  EXPECT_EQ(t.peer(), "10.0.0.1:5");
  auto body = std::make_shared<const std::string>(std::string(20, 'x'));
  EXPECT_EQ(t.send(out_frame{"h1", body}), send_result::queued);  // 22 bytes
  EXPECT_TRUE(t.has_room());
  EXPECT_EQ(t.send(out_frame{"h2", body}), send_result::queued);  // 44: below 50
  EXPECT_TRUE(t.has_room());
  EXPECT_EQ(t.send(out_frame{"h3", body}), send_result::queued);  // 66: half the window passed
  EXPECT_FALSE(t.has_room());
  for (auto head : {"h1", "h2", "h3"})
    conn->receive(
        [&](connection_write_atom, const std::string& frame) { EXPECT_EQ(frame, head + *body); },
        caf::after(await_timeout) >> [] { ADD_FAILURE() << "no frame"; });
  std::atomic<int> called{0};
  t.when_room([&] { ++called; });
  t.credit(22);  // 44 in flight: not yet below a quarter (25)
  EXPECT_EQ(called, 0);
  t.credit(22);  // 22 in flight
  EXPECT_EQ(called, 1);
  EXPECT_TRUE(t.has_room());
  t.when_room([&] { ++called; });  // already below a quarter: at once
  EXPECT_EQ(called, 2);
}

TEST_F(RemoteTransport, CloseTellsTheConnectionOnceAndRefusesLaterFrames) {
  caf::scoped_actor conn{sys_};
  remote_transport t{caf::actor{conn}, "p", 100};
  t.close(4409, "moved");
  t.close(1000, "again");
  EXPECT_EQ(t.send(out_frame{"late", nullptr}), send_result::closed);
  conn->receive(
      [](drop_connection_atom, std::uint16_t code, const std::string& why) {
        EXPECT_EQ(code, 4409);
        EXPECT_EQ(why, "moved");
      },
      caf::after(await_timeout) >> [] { ADD_FAILURE() << "no close order"; });
  bool more = false;
  conn->receive([&](caf::message&) { more = true; },
                caf::after(std::chrono::milliseconds{50}) >> [] {});
  EXPECT_FALSE(more);
}

}  // namespace
}  // namespace wsvisor
