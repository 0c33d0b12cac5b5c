#include "net/http_server.hpp"

#include <gtest/gtest.h>

#include "net/ws_upgrade.hpp"
#include "tests/net/ws_fixture.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/ws_client.hpp"

// Upgrades on the HTTP listener: routing, subprotocols, refusals.

namespace wsvisor::net {
namespace {

using namespace ws_testing;
using namespace std::chrono_literals;

TEST_F(WsServer, UpgradesOnThePathAndSelectsTheSubprotocol) {
  start();
  ws_client c;
  auto h = c.connect(port(), "/ws", {"wsvisor.v1"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.status, 101);
  EXPECT_EQ(h.subprotocol, "wsvisor.v1");
  EXPECT_EQ(server_->open_websockets(), 1u);
  ASSERT_EQ(c.send_text("hi"), "");
  auto e = c.receive();
  EXPECT_EQ(e.type, kind::text);
  EXPECT_EQ(e.text, "echo:hi");
}

TEST_F(WsServer, SelectsTheSubprotocolFromAListOfOffers) {
  start();
  ws_client c;
  auto h = c.connect(port(), "/ws", {"chat", "wsvisor.v1", "mqtt"});
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.subprotocol, "wsvisor.v1");
}

TEST_F(WsServer, AcceptsAClientThatOffersNoSubprotocol) {
  start();
  ws_client c;
  auto h = c.connect(port(), "/ws");
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.subprotocol, "");
}

TEST_F(WsServer, RefusesAClientThatOffersOnlyForeignSubprotocolsWith400) {
  start();
  ws_client c;
  auto h = c.connect(port(), "/ws", {"chat", "mqtt"});
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.status, 400);
  EXPECT_NE(h.body.find("wsvisor.v1"), std::string::npos) << h.body;
  EXPECT_EQ(server_->open_websockets(), 0u);
}

TEST_F(WsServer, IgnoresTheQueryStringOfTheUpgradeTarget) {
  start();
  ws_client c;
  EXPECT_TRUE(c.connect(port(), "/ws?token=abc").ok);
}

TEST_F(WsServer, UpgradeOnAnotherPathIsNotFound) {
  start();
  ws_client c;
  auto h = c.connect(port(), "/other", {"wsvisor.v1"});
  EXPECT_FALSE(h.ok);
  EXPECT_EQ(h.status, 404);
}

TEST_F(WsServer, PlainGetOnTheWebSocketPathIsUpgradeRequired) {
  start();
  EXPECT_EQ(test::http_request(port(), "GET", "/ws").status, 426);
  EXPECT_EQ(test::http_request(port(), "GET", "/healthz").status, 200);
}

TEST_F(WsServer, RefusesFramesSentBeforeTheUpgradeCompleted) {
  start();
  // RFC 6455 §4.1: a client waits for the 101 before sending frames. Bytes
  // behind the request would be lost in the hand-over to the WebSocket.
  std::string bytes =
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  bytes += std::string{"\x81\x80\x00\x00\x00\x00", 6};  // an empty masked text frame
  auto ex = test::send_raw(port(), bytes, 5s);
  EXPECT_EQ(ex.received.rfind("HTTP/1.1 400", 0), 0u) << ex.received;
  EXPECT_EQ(server_->open_websockets(), 0u);
}

TEST_F(WsServer, RefusesConnectionsBeyondMaxConnectionsUntilOneCloses) {
  start({.max_connections = 2});
  ws_client a, b, c;
  ASSERT_TRUE(a.connect(port()).ok);
  ASSERT_TRUE(b.connect(port()).ok);
  auto refused = c.connect(port());
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.retry_after, "5");
  EXPECT_EQ(server_->open_websockets(), 2u);

  auto bye = a.close(1000);
  EXPECT_EQ(bye.type, kind::closed);
  EXPECT_EQ(bye.close_code, 1000);
  // The slot is returned before the actor hears ws_closed.
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 1000);
  ws_client d;
  EXPECT_TRUE(d.connect(port()).ok);
}

TEST_F(WsServer, RefusesConnectionsBeyondThePerAddressLimitWith429) {
  start({.max_connections_per_ip = 2});
  ws_client a, b, c;
  ASSERT_TRUE(a.connect(port()).ok);
  ASSERT_TRUE(b.connect(port()).ok);
  auto refused = c.connect(port());
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.retry_after, "5");
  EXPECT_EQ(server_->open_websockets(), 2u);
  // Closing one gives its address the slot back.
  EXPECT_EQ(a.close(1000).type, kind::closed);
  ASSERT_TRUE(await_closed(1));
  EXPECT_TRUE(c.connect(port()).ok);
}

namespace {
std::string upgrade_from(std::string_view origin) {
  std::string req =
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (!origin.empty()) req += "Origin: " + std::string{origin} + "\r\n";
  return req + "\r\n";
}
}  // namespace

TEST_F(WsServer, AnOriginOutsideTheAllowListIsRefusedWith403) {
  start({.allowed_origins = {"https://app.example", "http://localhost:3000"}});
  auto allowed = test::send_raw(port(), upgrade_from("https://app.example"), 5s, "\r\n\r\n");
  EXPECT_EQ(allowed.received.rfind("HTTP/1.1 101", 0), 0u) << allowed.received;
  auto other = test::send_raw(port(), upgrade_from("https://evil.example"), 5s);
  EXPECT_EQ(other.received.rfind("HTTP/1.1 403", 0), 0u) << other.received;
  auto port_differs = test::send_raw(port(), upgrade_from("http://localhost:3001"), 5s);
  EXPECT_EQ(port_differs.received.rfind("HTTP/1.1 403", 0), 0u) << port_differs.received;
  // Not a browser: no Origin, no check.
  auto none = test::send_raw(port(), upgrade_from(""), 5s, "\r\n\r\n");
  EXPECT_EQ(none.received.rfind("HTTP/1.1 101", 0), 0u) << none.received;
}

TEST_F(WsServer, AnyOriginIsAcceptedWithoutAnAllowList) {
  start();
  auto any = test::send_raw(port(), upgrade_from("https://anywhere.example"), 5s, "\r\n\r\n");
  EXPECT_EQ(any.received.rfind("HTTP/1.1 101", 0), 0u) << any.received;
}

TEST(WsSlots, CountPerAddressAndForgetAddressesWithNothingOpen) {
  ws_slots slots{3, 2};
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), ws_slots::refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), ws_slots::refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.1"), ws_slots::refusal::per_ip);
  EXPECT_EQ(slots.try_acquire("10.0.0.2"), ws_slots::refusal::none);
  EXPECT_EQ(slots.try_acquire("10.0.0.3"), ws_slots::refusal::total);
  EXPECT_EQ(slots.open(), 3u);
  slots.release("10.0.0.2");
  EXPECT_EQ(slots.open_from("10.0.0.2"), 0u);
  EXPECT_EQ(slots.try_acquire("10.0.0.3"), ws_slots::refusal::none);
  EXPECT_EQ(slots.open_from("10.0.0.1"), 2u);
}

TEST(ChooseSubprotocol, ReadsEveryHeaderFieldAndTrimsTokens) {
  namespace http = boost::beast::http;
  http::request<http::string_body> req;
  EXPECT_TRUE(choose_subprotocol(req).acceptable);
  EXPECT_EQ(choose_subprotocol(req).selected, "");
  req.insert(http::field::sec_websocket_protocol, " chat ,  ");
  EXPECT_FALSE(choose_subprotocol(req).acceptable);
  req.insert(http::field::sec_websocket_protocol, "x,\twsvisor.v1 ");
  EXPECT_TRUE(choose_subprotocol(req).acceptable);
  EXPECT_EQ(choose_subprotocol(req).selected, "wsvisor.v1");
  http::request<http::string_body> upper;
  upper.set(http::field::sec_websocket_protocol, "WSVISOR.V1");
  EXPECT_FALSE(choose_subprotocol(upper).acceptable);  // tokens are case-sensitive
}

}  // namespace
}  // namespace wsvisor::net
