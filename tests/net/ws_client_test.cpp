#include "net/ws_client.hpp"

#include <gtest/gtest.h>

#include "tests/net/ws_client_fixture.hpp"
#include "tests/support/tls_cert.hpp"

// Outbound WebSockets against scripted in-test servers: how each ending is
// reported, and TLS.

namespace wsvisor::net {
namespace {

using namespace ws_client_testing;
using ws = websocket::stream<tcp::socket&>;
using stopping = std::shared_future<void>;
using steady = std::chrono::steady_clock;

TEST_F(WsClient, OpensAndReportsTheSelectedSubprotocol) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "wsvisor.v1");
    echo(s, server_notes_);
  });
  open({.url = url(), .subprotocols = {"chat", "wsvisor.v1"}, .require_subprotocol = true});
  ASSERT_TRUE(await_open());
  EXPECT_EQ(client_.read([](auto& n) { return *n.opened; }), "wsvisor.v1");
}

TEST_F(WsClient, ExchangesTextInOrderAndReportsEachWrittenTag) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    echo(s, server_notes_);
  });
  open({.url = url()});
  // Sent before the upgrade completes: queued, then written in order.
  for (std::uint64_t tag = 1; tag <= 3; ++tag) socket_->send("m" + std::to_string(tag), tag);
  ASSERT_TRUE(client_.await([](auto& n) { return n.texts.size() == 3 && n.written.size() == 3; }));
  client_.read([](const client_notes& n) {
    EXPECT_EQ(n.texts, (std::vector<std::string>{"echo:m1", "echo:m2", "echo:m3"}));
    EXPECT_EQ(n.written, (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(n.opened, "");
    EXPECT_TRUE(n.closed.empty());
    return 0;
  });
  EXPECT_EQ(server_notes_.read([](auto& n) { return n.texts; }),
            (std::vector<std::string>{"m1", "m2", "m3"}));
}

TEST_F(WsClient, SendsExtraHeadersUserAgentAndOneSubprotocolHeader) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "b");
    echo(s, server_notes_);
  });
  open({.url = url(),
        .subprotocols = {"a", "b"},
        .headers = {{"X-Token", "secret"}, {"X-Node", "n1"}},
        .user_agent = "wsvisor-test/1"});
  ASSERT_TRUE(await_open());
  auto req = server_notes_.read([](auto& n) { return n.requests.front(); });
  EXPECT_EQ(req[http::field::user_agent], "wsvisor-test/1");
  EXPECT_EQ(req["X-Token"], "secret");
  EXPECT_EQ(req["X-Node"], "n1");
  EXPECT_EQ(req.count(http::field::sec_websocket_protocol), 1u);
  EXPECT_EQ(req[http::field::sec_websocket_protocol], "a, b");
  EXPECT_EQ(req.target(), "/ws");
}

TEST_F(WsClient, OffersPermessageDeflateWhenAskedAndExchangesCompressedMessages) {
  serve_plain([this](ws& s, const stopping&) {
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;  // Beast's server compresses what it sends, inflates what it gets
    s.set_option(pmd);
    accept_upgrade(s, server_notes_, "");
    echo(s, server_notes_);
  });
  open({.url = url(), .compression = true});
  auto big = std::string(5000, 'q') + "end";
  socket_->send(big, 1);
  ASSERT_TRUE(client_.await([](auto& n) { return n.texts.size() == 1; }));
  EXPECT_EQ(client_.read([](auto& n) { return n.texts.front(); }), "echo:" + big);
  auto req = server_notes_.read([](auto& n) { return n.requests.front(); });
  EXPECT_TRUE(req[http::field::sec_websocket_extensions].starts_with("permessage-deflate"))
      << req[http::field::sec_websocket_extensions];
  EXPECT_EQ(server_notes_.read([](auto& n) { return n.texts; }), std::vector<std::string>{big});
}

TEST_F(WsClient, OffersNoExtensionByDefault) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    echo(s, server_notes_);
  });
  open({.url = url()});
  ASSERT_TRUE(await_open());
  auto req = server_notes_.read([](auto& n) { return n.requests.front(); });
  EXPECT_EQ(req.count(http::field::sec_websocket_extensions), 0u);
}

TEST_F(WsClient, FailsTheHandshakeWhenARequiredSubprotocolIsNotSelected) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    echo(s, server_notes_);
  });
  open({.url = url(), .subprotocols = {"wsvisor.v1"}, .require_subprotocol = true});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::handshake_failed) << describe(r);
  EXPECT_NE(r.detail.find("none of the offered subprotocols"), std::string::npos) << r.detail;
  EXPECT_FALSE(client_.read([](auto& n) { return n.opened.has_value(); }));
}

TEST_F(WsClient, FailsTheHandshakeWhenTheServerSelectsAnUnofferedSubprotocol) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "mqtt");
    echo(s, server_notes_);
  });
  open({.url = url(), .subprotocols = {"wsvisor.v1"}});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::handshake_failed) << describe(r);
  EXPECT_NE(r.detail.find("mqtt"), std::string::npos) << r.detail;
}

TEST_F(WsClient, ReportsTheHttpStatusOfARefusedUpgrade) {
  serve([](tcp::socket& s, const stopping&) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(s, buffer, req);
    http::response<http::string_body> res{http::status::internal_server_error, 11};
    res.body() = "boom";
    res.prepare_payload();
    http::write(s, res);
  });
  open({.url = url()});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::handshake_failed) << describe(r);
  EXPECT_EQ(r.http_status, 500u);
  EXPECT_FALSE(r.detail.empty());
}

TEST_F(WsClient, TimesOutAServerThatNeverAnswersTheUpgrade) {
  serve([](tcp::socket&, const stopping& stop) { stop.wait(); });
  auto start = steady::now();
  open({.url = url(), .connect_timeout = 300ms});
  auto r = await_closed();
  auto took = steady::now() - start;
  EXPECT_EQ(r.kind, outbound_end::connect_timeout) << describe(r);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
}

TEST_F(WsClient, ReportsAnUnresolvableHost) {
  // A resolver that has to time out (no DNS server answering) may take many
  // seconds; the answer, not its speed, is under test.
  open({.url = "ws://nonexistent.invalid/ws", .connect_timeout = 60s});
  auto r = await_closed(60s);
  EXPECT_EQ(r.kind, outbound_end::resolve_failed) << describe(r);
  EXPECT_NE(r.detail.find("nonexistent.invalid"), std::string::npos) << r.detail;
}

TEST_F(WsClient, ReportsARefusedConnection) {
  std::uint16_t port = 0;
  {
    // A port that was just free: nothing listens there now.
    asio::io_context ioc;
    tcp::acceptor a{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
    port = a.local_endpoint().port();
  }
  open({.url = "ws://127.0.0.1:" + std::to_string(port) + "/ws"});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::connect_failed) << describe(r);
}

TEST_F(WsClient, ReportsABadUrlOffTheCallersThread) {
  open({.url = "http://example.org/ws"});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::bad_url) << describe(r);
  EXPECT_NE(client_.read([](auto& n) { return n.closed_on; }), std::this_thread::get_id());
  socket_->send("ignored", 1);
  socket_->close();
}

TEST_F(WsClient, ReportsThePeersCloseCodeAndReason) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    s.close(websocket::close_reason{static_cast<websocket::close_code>(4000), "go away"});
  });
  open({.url = url()});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::closed_by_peer) << describe(r);
  EXPECT_EQ(r.close_code, 4000);
  EXPECT_EQ(r.detail, "go away");
}

TEST_F(WsClient, ReportsACloseFrameWithoutCodeAs1005) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    s.close(websocket::close_reason{});
  });
  open({.url = url()});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::closed_by_peer) << describe(r);
  EXPECT_EQ(r.close_code, 1005);
}

TEST_F(WsClient, ReportsAResetAsConnectionLost) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    s.next_layer().set_option(asio::socket_base::linger{true, 0});
    s.next_layer().close();
  });
  open({.url = url()});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::connection_lost) << describe(r);
  EXPECT_TRUE(client_.read([](auto& n) { return n.opened.has_value(); }));
}

TEST_F(WsClient, EndsWithHeartbeatTimeoutWhenThePeerStopsAnsweringPings) {
  serve_plain([this](ws& s, const stopping& stop) {
    accept_upgrade(s, server_notes_, "");
    stop.wait();  // never reads: pings stay unanswered
  });
  auto start = steady::now();
  open({.url = url(), .heartbeat_timeout = 400ms});
  ASSERT_TRUE(await_open());
  auto r = await_closed();
  auto took = steady::now() - start;
  EXPECT_EQ(r.kind, outbound_end::heartbeat_timeout) << describe(r);
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 3s);
}

TEST_F(WsClient, KeepsAPeerThatAnswersPingsOpen) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    echo(s, server_notes_);
  });
  open({.url = url(), .heartbeat_timeout = 600ms});
  ASSERT_TRUE(await_open());
  // Idle past the heartbeat timeout: kept alive by pings alone.
  ASSERT_TRUE(server_notes_.await([](auto& n) { return n.pings >= 3; }));
  EXPECT_TRUE(client_.read([](auto& n) { return n.closed.empty(); }));
}

TEST_F(WsClient, ReportsWriteOverflowWhenTheQueuePassesItsBound) {
  serve([](tcp::socket&, const stopping& stop) { stop.wait(); });  // never upgrades
  open({.url = url(), .max_queued_bytes = 100});
  socket_->send(std::string(60, 'a'), 1);
  socket_->send(std::string(60, 'b'), 2);
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::write_overflow) << describe(r);
  EXPECT_TRUE(client_.read([](auto& n) { return n.written.empty(); }));
}

TEST_F(WsClient, CloseWritesTheQueueThenClosesNormally) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    echo(s, server_notes_);
  });
  open({.url = url()});
  ASSERT_TRUE(await_open());
  socket_->send("last", 7);
  socket_->close();
  socket_->send("dropped", 8);
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::closed) << describe(r);
  EXPECT_EQ(r.detail, "");
  EXPECT_EQ(client_.read([](auto& n) { return n.written; }), std::vector<std::uint64_t>{7});
  ASSERT_TRUE(server_notes_.await([](auto& n) { return n.ended == 1; }));
  EXPECT_EQ(server_notes_.read([](auto& n) { return n.texts; }), std::vector<std::string>{"last"});
  EXPECT_FALSE(client_.read([](auto& n) { return n.after_close; }));
}

TEST_F(WsClient, AbortEndsTheConnectionAndReportsNothing) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    echo(s, server_notes_);
  });
  open({.url = url()});
  ASSERT_TRUE(await_open());
  socket_->abort();
  // The server sees the connection end, which the client does only after it
  // stopped reporting.
  ASSERT_TRUE(server_notes_.await([](auto& n) { return n.ended == 1; }));
  EXPECT_TRUE(client_.read([](auto& n) { return n.closed.empty(); }));
}

TEST_F(WsClient, EndsTheConnectionOnAFrameOverTheLimit) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    s.write(asio::buffer(std::string(2000, 'x')));
    echo(s, server_notes_);
  });
  open({.url = url(), .max_frame_bytes = 1000});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::connection_lost) << describe(r);
  EXPECT_EQ(r.detail, "frame larger than 1000 bytes");
}

TEST_F(WsClient, IgnoresBinaryFrames) {
  serve_plain([this](ws& s, const stopping&) {
    accept_upgrade(s, server_notes_, "");
    s.binary(true);
    s.write(asio::buffer(std::string("\x01\x02", 2)));
    s.text(true);
    s.write(asio::buffer(std::string("after")));
    echo(s, server_notes_);
  });
  open({.url = url()});
  ASSERT_TRUE(client_.await([](auto& n) { return !n.texts.empty(); }));
  EXPECT_EQ(client_.read([](auto& n) { return n.texts; }), std::vector<std::string>{"after"});
}

// wss:// against a certificate made for the test.
class WssClient : public WsClient {
 protected:
  void serve_tls(const test::tls_cert& cert) {
    server_tls_.use_certificate_chain(asio::buffer(cert.cert_pem));
    server_tls_.use_private_key(asio::buffer(cert.key_pem), ssl::context::pem);
    using tls_ws = websocket::stream<ssl::stream<tcp::socket&>&>;
    serve(over_tls(server_tls_, server_notes_, [this](tls_ws& s, const stopping&) {
      accept_upgrade(s, server_notes_, "wsvisor.v1");
      echo(s, server_notes_);
    }));
  }

  ssl::context server_tls_{ssl::context::tls_server};
};

TEST_F(WssClient, SpeaksTlsToACertificateTrustedThroughTheCaFile) {
  auto cert = test::make_self_signed_cert();
  test::temp_file ca{cert.cert_pem};
  serve_tls(cert);
  open({.url = url("wss", "localhost"), .subprotocols = {"wsvisor.v1"}, .ca_file = ca.path()});
  ASSERT_TRUE(await_open()) << describe(await_closed(0ms));
  socket_->send("over tls", 1);
  ASSERT_TRUE(client_.await([](auto& n) { return !n.texts.empty(); }));
  EXPECT_EQ(client_.read([](auto& n) { return n.texts.front(); }), "echo:over tls");
  EXPECT_EQ(server_notes_.read([](auto& n) { return n.sni; }), "localhost");
  socket_->close();
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::closed) << describe(r);
  EXPECT_EQ(r.detail, "");
}

TEST_F(WssClient, VerifiesAnIpAddressAgainstTheCertificatesIpNames) {
  auto cert = test::make_self_signed_cert({.dns = {}, .ip = {"127.0.0.1"}});
  test::temp_file ca{cert.cert_pem};
  serve_tls(cert);
  open({.url = url("wss", "127.0.0.1"), .subprotocols = {"wsvisor.v1"}, .ca_file = ca.path()});
  ASSERT_TRUE(await_open()) << describe(await_closed(0ms));
  EXPECT_EQ(server_notes_.read([](auto& n) { return n.sni; }), "");  // no SNI for addresses
}

TEST_F(WssClient, FailsTlsWhenTheCertificateIsNotTrusted) {
  auto cert = test::make_self_signed_cert();
  serve_tls(cert);
  open({.url = url("wss", "localhost")});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::tls_failed) << describe(r);
}

TEST_F(WssClient, FailsTlsWhenTheHostNameDoesNotMatch) {
  auto cert = test::make_self_signed_cert({.dns = {"localhost"}});
  test::temp_file ca{cert.cert_pem};
  serve_tls(cert);
  open({.url = url("wss", "127.0.0.1"), .ca_file = ca.path()});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::tls_failed) << describe(r);
}

TEST_F(WssClient, FailsTlsWhenTheCaFileCannotBeLoaded) {
  open({.url = "wss://localhost:1/ws", .ca_file = "/nonexistent/ca.pem"});
  auto r = await_closed();
  EXPECT_EQ(r.kind, outbound_end::tls_failed) << describe(r);
  EXPECT_NE(r.detail.find("/nonexistent/ca.pem"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace wsvisor::net
