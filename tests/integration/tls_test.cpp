// A node serving wss:// and https:// ([server.tls]) to the C++ client and to
// clients it must refuse, over real sockets, with a certificate made for
// each test.

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "client/client.hpp"
#include "client/errors.hpp"
#include "tests/client/recorder.hpp"
#include "tests/integration/node_fixture.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/tls_cert.hpp"
#include "tests/support/tls_client.hpp"
#include "tests/support/ws_client.hpp"
#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
using kind = client_state_kind;

class NodeTls : public NodeTest {
 protected:
  NodeTls() { cfg_.server.tls = {.cert = cert_file_.path(), .key = key_file_.path()}; }

  client_options client_opts(std::uint16_t port, bool trusting = true) const {
    client_options o;
    o.url = "wss://127.0.0.1:" + std::to_string(port) + "/ws";
    if (trusting) o.ca_file = cert_file_.path();
    o.reconnect.backoff_min = 10ms;
    o.reconnect.backoff_max = 50ms;
    o.seed = 7;
    return o;
  }

  tls_cert cert_ = make_self_signed_cert({.dns = {"localhost"}, .ip = {"127.0.0.1"}});
  temp_file cert_file_{cert_.cert_pem};
  temp_file key_file_{cert_.key_pem};
  caf::actor_system_config caf_cfg_ = [] {
    caf::actor_system_config c;
    add_client_types(c);
    return c;
  }();
  caf::actor_system sys_{caf_cfg_};
};

TEST_F(NodeTls, TheClientTrustingTheCaFileSubscribesPublishesAndResumesAfterACut) {
  start_node();
  chaos::chaos_proxy proxy{port()};
  client_recorder rec;
  client c{sys_, client_opts(proxy.port()), rec.callbacks()};
  ASSERT_TRUE(rec.await_state(kind::connected));
  ASSERT_TRUE(c.subscribe("chat"));
  // The subscription is confirmed by the first message coming back.
  ASSERT_EQ(c.publish("chat", R"({"n":1})"), publish_result::queued);
  ASSERT_TRUE(rec.await_messages(1));

  EXPECT_GE(proxy.cut_all(), 1u);
  ASSERT_EQ(c.publish("chat", R"({"n":2})"), publish_result::queued);
  ASSERT_TRUE(rec.await_state(kind::resumed));
  ASSERT_TRUE(rec.await_messages(2));
  auto got = rec.messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message.data, R"({"n":1})");
  EXPECT_EQ(got[1].message.data, R"({"n":2})");
  EXPECT_EQ(got[1].message.seq, 2u);
  auto s = c.stats();
  EXPECT_EQ(s.resets, 0u);
  EXPECT_EQ(s.duplicates, 0u);
}

TEST_F(NodeTls, AClientWithoutTheCaIsRefusedByVerificationNotByATimeout) {
  start_node();
  client_recorder rec;
  auto opts = client_opts(port(), false);
  opts.connect_timeout = 30s;
  auto began = std::chrono::steady_clock::now();
  client c{sys_, opts, rec.callbacks()};
  auto down = rec.await_state(kind::disconnected);
  ASSERT_TRUE(down);
  EXPECT_NE(down->change.why.find("certificate verify failed"), std::string::npos)
      << down->change.why;
  EXPECT_LT(down->at - began, 10s);
  EXPECT_EQ(rec.count(kind::connected), 0u);
}

TEST_F(NodeTls, HealthzOverHttpsWhilePlainClientsAreClosedCleanly) {
  start_node();
  EXPECT_EQ(https_get(port(), "/healthz", {.ca_file = cert_file_.path()}).body, "ok\n");
  auto plain = http_request(port(), "GET", "/healthz", 5s);
  EXPECT_EQ(plain.status, 0);
  EXPECT_NE(plain.error, "");
  ws_client ws;
  EXPECT_FALSE(ws.connect(port(), "/ws", {"wsvisor.v1"}, 5s).ok);
  // The node still serves.
  auto again = https_get(port(), "/healthz", {.ca_file = cert_file_.path()});
  EXPECT_EQ(again.status, 200) << again.error;
}

TEST_F(NodeTls, ATlsHandshakeNeverStartedIsClosedAfterTheHandshakeTimeout) {
  cfg_.server.handshake_timeout = 500ms;
  start_node();
  auto silent = send_raw(port(), "", 10s);
  EXPECT_TRUE(silent.closed_by_server);
  EXPECT_GE(silent.elapsed, 450ms);
  EXPECT_LT(silent.elapsed, 3s);
}

}  // namespace
}  // namespace wsvisor::test
