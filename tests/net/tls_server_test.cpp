#include "net/tls_stream.hpp"

#include <openssl/ssl.h>

#include <future>

#include <gtest/gtest.h>

#include "actors/outbound.hpp"
#include "net/ws_client.hpp"
#include "tests/net/ws_fixture.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/tls_cert.hpp"
#include "tests/support/tls_client.hpp"
#include "tests/support/ws_client.hpp"

// The listener with [server.tls]: the TLS handshake and its bounds, the same
// routes and upgrade checks behind it, and WebSockets over TLS whose closes
// are bounded like plain ones (net/tls_stream.hpp). Certificates are made
// for each test.

namespace wsvisor::net {
namespace {

using namespace ws_testing;
using namespace std::chrono_literals;
using test::tls_socket;

// A frame's header announcing a 1 MiB text message (64-bit length, zero mask).
const std::string one_mib_header{"\x81\xff\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00", 14};
// The server's close frame with code 1009 and no reason (unmasked).
const std::string close_1009{"\x88\x02\x03\xf1", 4};

class TlsServer : public WsServer {
 protected:
  void start_tls(http_options opts = {}, tls_version min = tls_version::v1_2) {
    opts.tls = {.cert = cert_file_.path(), .key = key_file_.path(), .min_version = min};
    start(std::move(opts));
  }

  test::tls_client_options trusting() const { return {.ca_file = cert_file_.path()}; }

  // Connected, trusted and upgraded, or the test fails.
  void upgrade(tls_socket& s, std::string_view origin = {}) {
    ASSERT_EQ(s.connect(port(), trusting()), "");
    ASSERT_TRUE(s.upgrade("/ws", origin)) << s.read({}, 0ms).received;
  }

  test::tls_cert cert_ = test::make_self_signed_cert({.dns = {"localhost"}, .ip = {"127.0.0.1"}});
  test::temp_file cert_file_{cert_.cert_pem};
  test::temp_file key_file_{cert_.key_pem};
};

TEST_F(TlsServer, ServesHealthzOverHttps) {
  start_tls();
  auto r = test::https_get(port(), "/healthz", trusting());
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(TlsServer, AClientThatDoesNotTrustTheCertificateFailsAtOnce) {
  start_tls({.handshake_timeout = 10s});
  tls_socket s;
  auto began = steady::now();
  auto err = s.connect(port(), {});  // the system's CAs only
  EXPECT_NE(err.find("certificate verify failed"), std::string::npos) << err;
  EXPECT_LT(steady::now() - began, 2s);
  EXPECT_EQ(test::https_get(port(), "/healthz", trusting()).status, 200);
}

TEST_F(TlsServer, MinVersion13RefusesAClientThatSpeaksAtMostTls12) {
  start_tls({}, tls_version::v1_3);
  tls_socket old;
  auto err = old.connect(port(), {.ca_file = cert_file_.path(), .max_version = TLS1_2_VERSION});
  EXPECT_NE(err.find("handshake"), std::string::npos) << err;
  tls_socket current;
  ASSERT_EQ(current.connect(port(), trusting()), "");
  EXPECT_EQ(current.version(), "TLSv1.3");
}

TEST_F(TlsServer, MinVersion12AcceptsTls12) {
  start_tls();
  tls_socket s;
  ASSERT_EQ(s.connect(port(), {.ca_file = cert_file_.path(), .max_version = TLS1_2_VERSION}), "");
  EXPECT_EQ(s.version(), "TLSv1.2");
}

TEST_F(TlsServer, PlainHttpAndWsAreClosedAtOnceAndTheServerKeepsServing) {
  start_tls({.request_timeout = 10s, .handshake_timeout = 10s});
  auto plain = test::send_raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
  EXPECT_TRUE(plain.closed_by_server);
  EXPECT_LT(plain.elapsed, 2s);
  EXPECT_EQ(plain.received.find("HTTP/1.1"), std::string::npos) << plain.received;
  ws_client ws;
  EXPECT_FALSE(ws.connect(port(), "/ws", {}, 5s).ok);
  EXPECT_EQ(test::https_get(port(), "/healthz", trusting()).status, 200);
}

TEST_F(TlsServer, ASilentClientIsCutAfterTheHandshakeTimeout) {
  start_tls({.request_timeout = 10s, .handshake_timeout = 300ms});
  auto silent = test::send_raw(port(), "", 5s);
  EXPECT_TRUE(silent.closed_by_server);
  EXPECT_GE(silent.elapsed, 250ms);
  EXPECT_LT(silent.elapsed, 2s);
  // The start of a ClientHello's record, then nothing: the slowloris case.
  auto partial = test::send_raw(port(), std::string{"\x16\x03\x01\x02\x00", 5}, 5s);
  EXPECT_TRUE(partial.closed_by_server);
  EXPECT_GE(partial.elapsed, 250ms);
  EXPECT_LT(partial.elapsed, 2s);
}

TEST_F(TlsServer, UpgradesAndCarriesMessagesBothWays) {
  start_tls();
  tls_socket s;
  upgrade(s);
  ASSERT_EQ(s.write(test::masked_frame(0x1, "over tls")), "");
  EXPECT_NE(s.read("echo:over tls").received.find("echo:over tls"), std::string::npos);
  EXPECT_EQ(rec_->read([](const observed& o) { return o.texts; }),
            std::vector<std::string>{"over tls"});
}

TEST_F(TlsServer, TheOriginAndPerAddressChecksComeBeforeTheUpgrade) {
  start_tls({.max_connections_per_ip = 1, .allowed_origins = {"https://app.example"}});
  tls_socket foreign;
  ASSERT_EQ(foreign.connect(port(), trusting()), "");
  EXPECT_FALSE(foreign.upgrade("/ws", "https://evil.example"));
  auto refused = foreign.read({}, 0ms).received;
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 403")) << refused;
  tls_socket first;
  upgrade(first, "https://app.example");
  tls_socket second;
  ASSERT_EQ(second.connect(port(), trusting()), "");
  EXPECT_FALSE(second.upgrade("/ws", "https://app.example"));
  auto full = second.read({}, 0ms).received;
  EXPECT_TRUE(full.starts_with("HTTP/1.1 429")) << full;
}

TEST_F(TlsServer, AWellBehavedClientsCloseEndsAtOnce) {
  start_tls({.handshake_timeout = 5s});
  std::promise<void> opened;
  std::promise<outbound_result> ended;
  auto socket = open_ws_client(
      ioc_,
      outbound_options{.url = "wss://localhost:" + std::to_string(port()) + "/ws",
                       .ca_file = cert_file_.path()},
      outbound_events{.on_open = [&](std::string) { opened.set_value(); },
                      .on_closed = [&](outbound_result r) { ended.set_value(std::move(r)); }});
  ASSERT_EQ(opened.get_future().wait_for(5s), std::future_status::ready);
  auto asked = steady::now();
  socket->close();
  auto end = ended.get_future();
  ASSERT_EQ(end.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(end.get().kind, outbound_end::closed);
  // Both sides exchanged close frames and close_notify: nobody waited for a deadline.
  ASSERT_TRUE(await_closed(1));
  EXPECT_LT(steady::now() - asked, 2s);
  EXPECT_EQ(closed()[0].code, 1000);
}

TEST_F(TlsServer, PeerCloseFollowedBySilenceIsCutAfterTheHandshakeTimeout) {
  start_tls({.handshake_timeout = 300ms});
  tls_socket s;
  upgrade(s);
  auto sent = steady::now();
  // A close frame, then neither close_notify nor FIN: OpenSSL's shutdown
  // would wait for either forever.
  ASSERT_EQ(s.write(test::masked_frame(0x8, std::string{"\x03\xe8", 2})), "");
  ASSERT_TRUE(await_closed(1));
  EXPECT_GE(steady::now() - sent, 250ms);
  EXPECT_EQ(closed()[0].code, 1000);
  EXPECT_TRUE(s.await_tcp_close(3s));
  EXPECT_LT(steady::now() - sent, 3s);
}

TEST_F(TlsServer, ActorCloseIsBoundedWhenTheClientNeverAnswers) {
  start_tls({.handshake_timeout = 300ms});
  tls_socket s;
  upgrade(s);
  auto asked = steady::now();
  ASSERT_EQ(s.write(test::masked_frame(0x1, "close:4408")), "");
  // The client reads nothing from now on, so it never answers the close frame.
  ASSERT_TRUE(await_closed(1));
  EXPECT_GE(steady::now() - asked, 250ms);
  EXPECT_EQ(closed()[0].code, 4408);
  EXPECT_EQ(server_->open_websockets(), 0u);
}

TEST_F(TlsServer, AClientStillWritingAnOversizedFrameReads1009) {
  start_tls({.max_message_bytes = 1024, .handshake_timeout = 300ms});
  tls_socket s;
  upgrade(s);
  ASSERT_EQ(s.write(one_mib_header), "");
  // The server fails the frame at its header; what follows is drained
  // during the TLS shutdown, so the close frame is not lost to a reset.
  ASSERT_EQ(s.write(std::string(128 * 1024, 'x')), "");
  auto got = s.read({}, 5s);
  EXPECT_TRUE(got.closed_by_server);
  EXPECT_NE(got.received.find(close_1009), std::string::npos);
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 1009);
}

TEST_F(TlsServer, OversizedFrameFollowedBySilenceStillReports1009) {
  start_tls({.max_message_bytes = 1024, .handshake_timeout = 300ms});
  tls_socket s;
  upgrade(s);
  auto sent = steady::now();
  ASSERT_EQ(s.write(one_mib_header), "");
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 1009);
  EXPECT_TRUE(s.await_tcp_close(3s));
  EXPECT_LT(steady::now() - sent, 3s);
}

TEST_F(TlsServer, StartFailsNamingTheFileWhenTheCertificateDoesNotLoad) {
  test::temp_file not_pem{"not a certificate\n"};
  http_server server{
      ioc_, {.listen = "127.0.0.1:0", .tls = {.cert = not_pem.path(), .key = key_file_.path()}}};
  auto err = server.start();
  EXPECT_NE(err.find("server.tls.cert " + not_pem.path()), std::string::npos) << err;
  EXPECT_EQ(server.local_port(), 0);  // nothing was bound
}

}  // namespace
}  // namespace wsvisor::net
