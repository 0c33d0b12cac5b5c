#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "app/node.hpp"
#include "tests/support/http_client.hpp"
#include "web/assets.hpp"

// The browser files as the node serves them over real HTTP: the embedded
// files of this build (web/), byte for byte, with their types and tags. The
// routing rules one by one are in tests/net/site_routes_test.cpp; the pages
// themselves run in Chromium (tests/web/browser).

namespace wsvisor {
namespace {

class NodeSite : public ::testing::Test {
 protected:
  void start(std::string token = {}, bool pages = true, std::string ws_path = "/ws") {
    config cfg;
    cfg.server.listen = "127.0.0.1:0";
    cfg.server.path = std::move(ws_path);
    cfg.log.level = log_level::warn;
    cfg.api.token = std::move(token);
    cfg.web.pages = pages;
    node_ = std::make_unique<node>(cfg, node_options{.handle_signals = false});
    ASSERT_EQ(node_->start(), "");
    runner_ = std::thread{[this] { node_->run(); }};
  }

  ~NodeSite() override {
    if (!node_) return;
    node_->stop();
    if (runner_.joinable()) runner_.join();
  }

  test::http_reply get(const std::string& target,
                       std::vector<std::pair<std::string, std::string>> headers = {},
                       std::string method = "GET") {
    return test::http_send(node_->http_port(),
                           {.method = std::move(method), .target = target, .headers = headers});
  }

  static void expect_file(const test::http_reply& reply, const web::asset& file) {
    EXPECT_EQ(reply.status, 200) << file.name;
    EXPECT_EQ(reply.body, file.body) << file.name;
    EXPECT_EQ(reply.content_type, file.content_type) << file.name;
    EXPECT_EQ(reply.header("ETag"), file.etag) << file.name;
    EXPECT_EQ(reply.header("Cache-Control"), "no-cache") << file.name;
    EXPECT_EQ(reply.header("X-Content-Type-Options"), "nosniff") << file.name;
  }

  std::unique_ptr<node> node_;
  std::thread runner_;
};

TEST_F(NodeSite, ServesTheClientThePagesAndEveryStaticFileAsBuilt) {
  start();
  const auto* client = web::client_script();
  const auto* demo = web::find_site_file("index.html");
  const auto* dashboard = web::find_site_file("dashboard.html");
  ASSERT_NE(client, nullptr);
  ASSERT_NE(demo, nullptr);
  ASSERT_NE(dashboard, nullptr);
  expect_file(get("/client.js"), *client);
  auto root = get("/");
  expect_file(root, *demo);
  EXPECT_NE(root.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  expect_file(get("/dashboard"), *dashboard);  // loopback, no token
  std::size_t statics = 0;
  for (const auto& file : web::site_files()) {
    if (file.name.ends_with(".html")) {
      EXPECT_EQ(get("/static/" + std::string{file.name}).status, 404) << file.name;
      continue;
    }
    expect_file(get("/static/" + std::string{file.name}), file);
    ++statics;
  }
  EXPECT_GT(statics, 0u);  // the pages' scripts and styles
  EXPECT_EQ(get("/static/no-such-file.js").status, 404);
}

// [web] pages = false, for a production node: no demo page, no dashboard,
// none of their files; the client library is still served.
TEST_F(NodeSite, WithoutPagesOnlyTheClientLibraryIsServed) {
  start({}, false);
  expect_file(get("/client.js"), *web::client_script());
  EXPECT_EQ(get("/").status, 404);
  EXPECT_EQ(get("/dashboard").status, 404);
  EXPECT_EQ(get("/site.json").status, 404);
  for (const auto& file : web::site_files())
    EXPECT_EQ(get("/static/" + std::string{file.name}).status, 404) << file.name;
}

// The embedded files' compressed representations: for a browser that accepts
// gzip, byte for byte as built, with their own tags; never for one that does
// not.
TEST_F(NodeSite, FilesAreSentGzipCompressedWhenTheRequestAcceptsIt) {
  start();
  std::size_t compressed = 0;
  auto all = std::vector<const web::asset*>{web::client_script()};
  for (const auto& file : web::site_files()) all.push_back(&file);
  for (const auto* file : all) {
    auto target = file == web::client_script()     ? std::string{"/client.js"}
                  : file->name == "index.html"     ? std::string{"/"}
                  : file->name == "dashboard.html" ? std::string{"/dashboard"}
                                                   : "/static/" + std::string{file->name};
    if (file->name == "login.html") continue;  // served only as the dashboard's 401
    auto zipped = get(target, {{"Accept-Encoding", "gzip, deflate, br"}});
    auto plain = get(target, {{"Accept-Encoding", "identity"}});
    EXPECT_EQ(plain.body, file->body) << target;
    EXPECT_EQ(plain.header("Content-Encoding"), "") << target;
    if (file->gzip.empty()) {
      EXPECT_EQ(zipped.body, file->body) << target;
      continue;
    }
    ++compressed;
    EXPECT_EQ(zipped.status, 200) << target;
    EXPECT_EQ(zipped.header("Content-Encoding"), "gzip") << target;
    EXPECT_EQ(zipped.header("Vary"), "Accept-Encoding") << target;
    EXPECT_EQ(plain.header("Vary"), "Accept-Encoding") << target;
    EXPECT_EQ(zipped.header("ETag"), file->gzip_etag) << target;
    EXPECT_EQ(zipped.body, file->gzip) << target;
    ASSERT_GE(zipped.body.size(), 10u);
    EXPECT_EQ(zipped.body.substr(0, 2), "\x1f\x8b") << target << ": not gzip";
    EXPECT_LT(zipped.body.size(), plain.body.size() * 9 / 10) << target;
  }
  EXPECT_GT(compressed, 3u) << "the client, the pages' scripts and styles are worth compressing";
}

// The demo page connects where the node listens (server.path), not to /ws.
TEST_F(NodeSite, SiteJsonNamesTheConfiguredWebSocketPath) {
  start({}, true, "/live/socket");
  auto reply = get("/site.json");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, R"({"ws_path":"/live/socket"})");
  const auto* demo = web::find_site_file("demo.js");
  ASSERT_NE(demo, nullptr);
  EXPECT_NE(demo->body.find("site.json"), std::string_view::npos) << "the demo asks for it";
}

TEST_F(NodeSite, AnUnchangedFileIsAnswered304AndHeadSendsTheLengthOnly) {
  start();
  const auto* client = web::client_script();
  ASSERT_NE(client, nullptr);
  auto again = get("/client.js", {{"If-None-Match", std::string{client->etag}}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(again.header("ETag"), client->etag);
  EXPECT_EQ(get("/client.js", {{"If-None-Match", "\"stale\""}}).status, 200);
  auto head = get("/client.js", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.header("Content-Length"), std::to_string(client->body.size()));
  auto post = get("/client.js", {}, "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("Allow"), "GET, HEAD");
}

TEST_F(NodeSite, TheDashboardAsksForTheTokenAndTakesItByHeaderOrCookie) {
  start("dashboard-token-0123456789");
  const auto* dashboard = web::find_site_file("dashboard.html");
  const auto* login = web::find_site_file("login.html");
  ASSERT_NE(dashboard, nullptr);
  ASSERT_NE(login, nullptr);
  auto refused = get("/dashboard");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body, login->body);
  EXPECT_EQ(get("/dashboard", {{"Cookie", "wsvisor_token=wrong"}}).status, 401);
  expect_file(get("/dashboard", {{"Cookie", "wsvisor_token=dashboard-token-0123456789"}}),
              *dashboard);
  expect_file(get("/dashboard", {{"Authorization", "Bearer dashboard-token-0123456789"}}),
              *dashboard);
  // The demo and the client need no token.
  EXPECT_EQ(get("/").status, 200);
  EXPECT_EQ(get("/client.js").status, 200);
  // The cookie opens the page only: the API still wants the bearer token.
  EXPECT_EQ(
      get("/api/supervision", {{"Cookie", "wsvisor_token=dashboard-token-0123456789"}}).status,
      401);
}

}  // namespace
}  // namespace wsvisor
