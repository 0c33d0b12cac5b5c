#include "actors/broker.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "tests/actors/fake_transport.hpp"

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
    add_message_types(cfg);
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
  std::uint64_t subscribers(const std::string& ch) { return ask(broker_stats_atom::value, ch); }

  void sub(const caf::actor& who, const std::string& ch) {
    caf::anon_send(broker_, subscribe_atom::value, ch, who);
  }

  void unsub(const caf::actor& who, const std::string& ch) {
    caf::anon_send(broker_, unsubscribe_atom::value, ch, who);
  }

  /// The next delivery to `self`; fails the test if none arrives.
  shared_body delivery(caf::scoped_actor& self, const std::string& channel) {
    shared_body out;
    self->receive(
        [&](deliver_atom, const std::string& ch, const shared_body& body, std::uint64_t,
            std::uint64_t) {
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
  caf::anon_send(broker_, publish_atom::value, std::string{"news"}, shared_body{body});
  auto other = std::make_shared<const std::string>(R"("channel":"other","data":2})");
  caf::anon_send(broker_, publish_atom::value, std::string{"other"}, shared_body{other});
  EXPECT_EQ(delivery(a, "news").get(), body.get());
  EXPECT_EQ(delivery(b, "news").get(), body.get());
  // c's first delivery is the second publish: it never saw the first.
  EXPECT_EQ(delivery(c, "other").get(), other.get());
}

TEST_F(Broker, SubscribingTwiceDeliversOnce) {
  caf::scoped_actor a{sys_};
  sub(a, "news");
  sub(a, "news");
  EXPECT_EQ(subscribers("news"), 1u);
  auto first = std::make_shared<const std::string>("1");
  auto second = std::make_shared<const std::string>("2");
  caf::anon_send(broker_, publish_atom::value, std::string{"news"}, shared_body{first});
  caf::anon_send(broker_, publish_atom::value, std::string{"news"}, shared_body{second});
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
  caf::anon_send(broker_, publish_atom::value, std::string{"x"},
                 shared_body{std::make_shared<const std::string>("x")});
  auto y = std::make_shared<const std::string>("y");
  caf::anon_send(broker_, publish_atom::value, std::string{"y"}, shared_body{y});
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
  auto deadline = std::chrono::steady_clock::now() + await_timeout;
  while (channels() != 1u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  EXPECT_EQ(channels(), 1u);
  EXPECT_EQ(subscribers("a"), 1u);
  EXPECT_EQ(subscribers("b"), 0u);
}

}  // namespace
}  // namespace wsvisor
