#include "net/http_server.hpp"

#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "tests/support/http_client.hpp"

namespace wsvisor::net {
namespace {

using namespace std::chrono_literals;
using test::http_request;
using test::send_raw;

// A listener on an OS-chosen loopback port, served by one I/O thread.
class HttpServer : public ::testing::Test {
 protected:
  void start(http_options opts) {
    opts.listen = "127.0.0.1:0";
    server_ = std::make_unique<http_server>(ioc_, std::move(opts));
    ASSERT_EQ(server_->start(), "");
    ASSERT_NE(server_->local_port(), 0);
    thread_ = std::thread{[this] { ioc_.run(); }};
  }

  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::uint16_t port() const { return server_->local_port(); }

  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::unique_ptr<http_server> server_;
  std::thread thread_;
};

TEST_F(HttpServer, HealthzAnswersOk) {
  start({});
  auto r = http_request(port(), "GET", "/healthz");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(HttpServer, VersionServesTheConfiguredJson) {
  start({.version_json = R"({"wsvisor":"9.9.9"})"});
  auto r = http_request(port(), "GET", "/version");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"wsvisor":"9.9.9"})");
}

TEST_F(HttpServer, ReadyzFollowsTheReadinessStateOnEveryRequest) {
  auto ready = std::make_shared<readiness>();
  start({.ready = ready});
  auto r = http_request(port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"ready\":true}\n");

  ready->set_upstream("feed", "connecting");
  r = http_request(port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            "{\"ready\":false,\"draining\":false,\"upstreams_down\":"
            "[{\"upstream\":\"feed\",\"state\":\"connecting\"}]}\n");

  ready->set_upstream("feed", "up");
  EXPECT_EQ(http_request(port(), "GET", "/readyz").status, 200);

  ready->set_draining();
  r = http_request(port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "{\"ready\":false,\"draining\":true,\"upstreams_down\":[]}\n");
}

TEST_F(HttpServer, ReadyzWaitsForTheMinimumOfClusterPeers) {
  auto ready = std::make_shared<readiness>();
  start({.ready = ready});
  ready->set_peers(1);  // without a minimum peers do not count
  EXPECT_EQ(http_request(port(), "GET", "/readyz").status, 200);
  ready->set_min_peers(2);
  auto r = http_request(port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body,
            "{\"ready\":false,\"draining\":false,\"upstreams_down\":[],\"peers\":1,"
            "\"ready_min_peers\":2}\n");
  ready->set_peers(2);
  EXPECT_EQ(http_request(port(), "GET", "/readyz").status, 200);
  ready->set_peers(1);  // a peer lost
  EXPECT_EQ(http_request(port(), "GET", "/readyz").status, 503);
}

TEST_F(HttpServer, ReadyzIsNotFoundWithoutAReadinessState) {
  start({});
  EXPECT_EQ(http_request(port(), "GET", "/readyz").status, 404);
}

TEST_F(HttpServer, UnknownPathIsNotFound) {
  start({});
  EXPECT_EQ(http_request(port(), "GET", "/nope").status, 404);
  EXPECT_EQ(http_request(port(), "GET", "/healthzz").status, 404);
}

TEST_F(HttpServer, WritingToHealthzIsMethodNotAllowed) {
  start({});
  EXPECT_EQ(http_request(port(), "DELETE", "/healthz").status, 405);
}

TEST_F(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  start({});
  auto ex = send_raw(port(),
                     "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     5s);
  EXPECT_TRUE(ex.closed_by_server);
  auto first = ex.received.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(ex.received.find("HTTP/1.1 200", first + 1), std::string::npos);
}

TEST_F(HttpServer, HalfARequestIsCutAfterTheRequestTimeout) {
  start({.request_timeout = 300ms});
  // Headers never finished: a slowloris client. The server must close the
  // socket by itself once the request timeout passes.
  auto ex = send_raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n", 10s);
  EXPECT_TRUE(ex.closed_by_server);
  EXPECT_GE(ex.elapsed, 250ms);
  EXPECT_EQ(ex.received, "");
}

TEST_F(HttpServer, SilentClientIsCutAfterTheRequestTimeout) {
  start({.request_timeout = 300ms});
  auto ex = send_raw(port(), "", 10s);
  EXPECT_TRUE(ex.closed_by_server);
  EXPECT_GE(ex.elapsed, 250ms);
}

TEST_F(HttpServer, OversizedHeadersGet431) {
  start({.max_header_bytes = 1024});
  std::string req =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n";
  auto ex = send_raw(port(), req, 5s);
  EXPECT_EQ(ex.received.rfind("HTTP/1.1 431", 0), 0u) << ex.received;
}

TEST_F(HttpServer, GarbageGets400AndTheServerKeepsServing) {
  start({});
  auto ex = send_raw(port(), "\x01\x02 not http\r\n\r\n", 5s);
  EXPECT_EQ(ex.received.rfind("HTTP/1.1 400", 0), 0u) << ex.received;
  EXPECT_EQ(http_request(port(), "GET", "/healthz").status, 200);
}

TEST(HttpServerStart, NamesTheAddressWhenThePortIsTaken) {
  boost::asio::io_context ioc;
  http_server first{ioc, {.listen = "127.0.0.1:0"}};
  ASSERT_EQ(first.start(), "");
  auto taken = "127.0.0.1:" + std::to_string(first.local_port());
  http_server second{ioc, {.listen = taken}};
  auto err = second.start();
  EXPECT_NE(err.find(taken), std::string::npos) << err;
  EXPECT_NE(err.find("in use"), std::string::npos) << err;
}

}  // namespace
}  // namespace wsvisor::net
