#include "net/ws_upgrade.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/beast/http/field.hpp>

namespace wsvisor::net {
namespace {

namespace http = boost::beast::http;
using refusal = ws_slots::refusal;

/// An upgrade request with one Sec-WebSocket-Protocol field per value.
http::request<http::string_body> offering(std::initializer_list<std::string_view> fields) {
  http::request<http::string_body> req{http::verb::get, "/ws", 11};
  for (auto value : fields) req.insert(http::field::sec_websocket_protocol, value);
  return req;
}

// -- ws_slots ----------------------------------------------------------------

TEST(WsSlots, TakesSlotsUpToTheTotalLimitAndRefusesTheNext) {
  ws_slots slots{2, 0};
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.3"), refusal::total);
  EXPECT_EQ(slots.open(), 2u);
  // Without a per-address limit, addresses are not counted.
  EXPECT_EQ(slots.open_from("10.0.0.1"), 0u);
}

TEST(WsSlots, AReleasedSlotCanBeTakenAgain) {
  ws_slots slots{1, 0};
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::total);
  slots.release("10.0.0.1");
  EXPECT_EQ(slots.open(), 0u);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::none);
  EXPECT_EQ(slots.open(), 1u);
}

TEST(WsSlots, RefusesAnAddressAtItsLimitButNotTheOthers) {
  ws_slots slots{10, 2};
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::per_ip);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::none);
  EXPECT_EQ(slots.open_from("10.0.0.1"), 2u);
  EXPECT_EQ(slots.open_from("10.0.0.2"), 1u);
  EXPECT_EQ(slots.open_from("10.0.0.3"), 0u);
  EXPECT_EQ(slots.open(), 3u);
}

TEST(WsSlots, APerAddressRefusalGivesBackTheSlotItTookFromTheTotal) {
  ws_slots slots{2, 1};
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::per_ip);
  EXPECT_EQ(slots.open(), 1u);
  // The refused one holds nothing: the last slot is still free.
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.3"), refusal::total);
}

TEST(WsSlots, ChecksTheTotalLimitBeforeThePerAddressLimit) {
  ws_slots slots{1, 1};
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::total);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::total);
  EXPECT_EQ(slots.open_from("10.0.0.1"), 1u);
  EXPECT_EQ(slots.open_from("10.0.0.2"), 0u);
}

TEST(WsSlots, AnAddressIsForgottenWithItsLastConnectionAndMayComeBack) {
  ws_slots slots{10, 2};
  slots.try_acquire("10.0.0.1");
  slots.try_acquire("10.0.0.1");
  slots.release("10.0.0.1");
  EXPECT_EQ(slots.open_from("10.0.0.1"), 1u);
  slots.release("10.0.0.1");
  EXPECT_EQ(slots.open_from("10.0.0.1"), 0u);
  EXPECT_EQ(slots.open(), 0u);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::per_ip);
}

TEST(WsSlots, ANewPerAddressLimitAppliesToNewUpgradesAndKeepsTheOpenOnes) {
  ws_slots slots{10, 3};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  slots.set_max_per_ip(1);
  EXPECT_EQ(slots.open_from("10.0.0.1"), 3u);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::per_ip);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), refusal::per_ip);
  // Above the new limit until enough of the open ones have gone.
  slots.release("10.0.0.1");
  slots.release("10.0.0.1");
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::per_ip);
  slots.release("10.0.0.1");
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  // Raised again.
  slots.set_max_per_ip(4);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), refusal::per_ip);
}

TEST(WsSlots, ANewPerAddressLimitCanNeitherTurnCountingOffNorOn) {
  ws_slots limited{10, 1};
  limited.set_max_per_ip(0);  // ignored: the limit stays 1
  EXPECT_EQ(limited.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(limited.try_acquire("10.0.0.1"), refusal::per_ip);

  ws_slots unlimited{10, 0};
  unlimited.set_max_per_ip(1);  // ignored: addresses were never counted
  EXPECT_EQ(unlimited.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(unlimited.try_acquire("10.0.0.1"), refusal::none);
  EXPECT_EQ(unlimited.open_from("10.0.0.1"), 0u);
  EXPECT_EQ(unlimited.open(), 2u);
}

TEST(WsSlots, NeverHandsOutMoreSlotsThanTheLimitsUnderContention) {
  // Every thread tries 100 times; the limits decide exactly how many succeed.
  auto race = [](ws_slots& slots) {
    std::vector<std::thread> threads;
    std::vector<int> taken(4, 0);
    for (std::size_t t = 0; t < taken.size(); ++t)
      threads.emplace_back([&slots, &mine = taken[t]] {
        for (int i = 0; i < 100; ++i)
          if (slots.try_acquire("10.0.0.1") == refusal::none) ++mine;
      });
    for (auto& t : threads) t.join();
    int total = 0;
    for (int n : taken) total += n;
    return total;
  };
  ws_slots by_total{50, 0};
  EXPECT_EQ(race(by_total), 50);
  EXPECT_EQ(by_total.open(), 50u);
  ws_slots by_address{1000, 25};
  EXPECT_EQ(race(by_address), 25);
  EXPECT_EQ(by_address.open(), 25u);
  EXPECT_EQ(by_address.open_from("10.0.0.1"), 25u);
}

// -- origin_allowed ----------------------------------------------------------

TEST(OriginAllowed, AllowsAnyOriginWhenNoneIsConfigured) {
  EXPECT_TRUE(origin_allowed({}, "https://app.example"));
  EXPECT_TRUE(origin_allowed({}, "null"));
  EXPECT_TRUE(origin_allowed({}, ""));
}

TEST(OriginAllowed, AllowsOnlyAConfiguredOriginSpelledExactly) {
  std::vector<std::string> allowed{"https://app.example", "http://localhost:8080"};
  EXPECT_TRUE(origin_allowed(allowed, "https://app.example"));
  EXPECT_TRUE(origin_allowed(allowed, "http://localhost:8080"));
  EXPECT_FALSE(origin_allowed(allowed, "https://evil.example"));
  EXPECT_FALSE(origin_allowed(allowed, "https://app.example/"));
  EXPECT_FALSE(origin_allowed(allowed, "https://app.example.evil.example"));
  EXPECT_FALSE(origin_allowed(allowed, "http://app.example"));
  EXPECT_FALSE(origin_allowed(allowed, "HTTPS://APP.EXAMPLE"));
  EXPECT_FALSE(origin_allowed(allowed, "http://localhost"));
  EXPECT_FALSE(origin_allowed(allowed, ""));
}

// -- choose_subprotocol ------------------------------------------------------

TEST(ChooseSubprotocol, AcceptsAClientThatOffersNoneAndSelectsNone) {
  auto choice = choose_subprotocol(offering({}));
  EXPECT_TRUE(choice.acceptable);
  EXPECT_EQ(choice.selected, "");
}

TEST(ChooseSubprotocol, SelectsWsvisorV1WhenOffered) {
  auto choice = choose_subprotocol(offering({"wsvisor.v1"}));
  EXPECT_TRUE(choice.acceptable);
  EXPECT_EQ(choice.selected, "wsvisor.v1");
  EXPECT_EQ(choice.selected, ws_subprotocol);
}

TEST(ChooseSubprotocol, FindsWsvisorV1AnywhereInACommaSeparatedList) {
  for (auto list : {"chat, wsvisor.v1", "wsvisor.v1,chat", "chat ,  wsvisor.v1  , mqtt",
                    "chat,\twsvisor.v1\t"}) {
    auto choice = choose_subprotocol(offering({list}));
    EXPECT_TRUE(choice.acceptable) << list;
    EXPECT_EQ(choice.selected, "wsvisor.v1") << list;
  }
}

TEST(ChooseSubprotocol, LooksThroughEverySubprotocolField) {
  auto choice = choose_subprotocol(offering({"chat", "mqtt, wsvisor.v1"}));
  EXPECT_TRUE(choice.acceptable);
  EXPECT_EQ(choice.selected, "wsvisor.v1");
}

TEST(ChooseSubprotocol, RefusesAClientThatOffersOnlyOtherProtocols) {
  for (auto fields : {offering({"chat"}), offering({"chat, mqtt"}), offering({"chat", "mqtt"})}) {
    auto choice = choose_subprotocol(fields);
    EXPECT_FALSE(choice.acceptable);
    EXPECT_EQ(choice.selected, "");
  }
}

TEST(ChooseSubprotocol, MatchesTheNameExactly) {
  for (auto name :
       {"wsvisor", "wsvisor.v2", "wsvisor.v10", "WSVISOR.V1", "wsvisor.v1;q=1", "\"wsvisor.v1\""}) {
    auto choice = choose_subprotocol(offering({name}));
    EXPECT_FALSE(choice.acceptable) << name;
    EXPECT_EQ(choice.selected, "") << name;
  }
}

TEST(ChooseSubprotocol, EmptyEntriesOfAListOfferNothing) {
  for (auto list : {"", " ", ",", " , ,\t"}) {
    auto choice = choose_subprotocol(offering({list}));
    EXPECT_TRUE(choice.acceptable) << '"' << list << '"';
    EXPECT_EQ(choice.selected, "") << '"' << list << '"';
  }
  auto choice = choose_subprotocol(offering({", ,wsvisor.v1,"}));
  EXPECT_TRUE(choice.acceptable);
  EXPECT_EQ(choice.selected, "wsvisor.v1");
}

}  // namespace
}  // namespace wsvisor::net
