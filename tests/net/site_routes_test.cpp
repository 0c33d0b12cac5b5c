#include "net/site_routes.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace wsvisor::net {
namespace {

// A small site of the shape web/site/ has; the embedded one is served end
// to end by tests/app and the browser suites (tests/web).
const web::asset client{"wsvisor-client.js", "text/javascript; charset=utf-8",
                        "export class WsvisorClient {}", "\"c1\""};
const std::array<web::asset, 5> files{{
    {"dashboard.html", "text/html; charset=utf-8", "<p>dashboard", "\"d1\""},
    {"demo.js", "text/javascript; charset=utf-8", "import '/client.js';", "\"j1\""},
    {"index.html", "text/html; charset=utf-8", "<p>demo", "\"i1\""},
    {"login.html", "text/html; charset=utf-8", "<form>token", "\"l1\""},
    {"style.css", "text/css; charset=utf-8", "body{}", "\"s1\""},
}};
const site_content site{&client, files};

std::optional<site_answer> get(std::string_view path, std::string_view token = {},
                               bool loopback = true, std::string_view authorization = {},
                               std::string_view cookie = {}) {
  return route_site(
      {.method = "GET", .path = path, .authorization = authorization, .cookie = cookie}, site,
      token, loopback);
}

TEST(SiteRoutes, ServesTheDemoAtTheRootTheClientAndStaticFilesWithTheirTypesAndTags) {
  auto demo = get("/");
  ASSERT_TRUE(demo);
  EXPECT_EQ(demo->status, 200u);
  EXPECT_EQ(demo->body, "<p>demo");
  EXPECT_EQ(demo->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(demo->etag, "\"i1\"");
  EXPECT_TRUE(demo->page);
  auto js = get("/client.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->body, "export class WsvisorClient {}");
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_FALSE(js->page);
  auto css = get("/static/style.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->body, "body{}");
  EXPECT_EQ(css->etag, "\"s1\"");
}

TEST(SiteRoutes, LeavesOtherPathsAndHtmlUnderStaticToTheCaller) {
  for (auto path : {"/static/", "/static/nope.js", "/static/index.html", "/static/login.html",
                    "/static/dashboard.html", "/index.html", "/dashboard/", "/client.js/x",
                    "/healthz", "/static/../index.html", "/static/sub/style.css"})
    EXPECT_FALSE(get(path)) << path;
  EXPECT_FALSE(route_site({.method = "GET", .path = "/client.js"}, {nullptr, files}, {}, true));
  EXPECT_FALSE(route_site({.method = "GET", .path = "/"}, {&client, {}}, {}, true));
}

TEST(SiteRoutes, WithoutPagesOnlyTheClientIsServed) {
  const site_content no_pages{&client, files, false};
  for (auto path : {"/", "/dashboard", "/static/style.css", "/static/demo.js"})
    EXPECT_FALSE(route_site({.method = "GET", .path = path}, no_pages, {}, true)) << path;
  auto js = route_site({.method = "GET", .path = "/client.js"}, no_pages, {}, true);
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200u);
  EXPECT_EQ(js->body, "export class WsvisorClient {}");
}

TEST(SiteRoutes, AcceptsGzipOnlyWhereTheFieldAllowsIt) {
  for (auto field : {"gzip", "gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "x-gzip", "*",
                     "deflate, *;q=0.1", " gzip ; q=1 "})
    EXPECT_TRUE(accepts_gzip(field)) << field;
  for (auto field : {"", "identity", "br, deflate", "gzip;q=0", "gzip; q=0.000", "*, gzip;q=0",
                     "*;q=0", "gzipx"})
    EXPECT_FALSE(accepts_gzip(field)) << field;
}

TEST(SiteRoutes, AFileWithAGzipRepresentationIsSentCompressedToThoseWhoAcceptIt) {
  const web::asset packed{
      "app.js", "text/javascript; charset=utf-8", "plain body", "\"p1\"", "GZIPPED", "\"p1-gz\""};
  const std::array<web::asset, 1> one{{packed}};
  const site_content content{&client, one};
  auto ask = [&](std::string_view accept, std::string_view if_none_match = {}) {
    return route_site({.method = "GET",
                       .path = "/static/app.js",
                       .if_none_match = if_none_match,
                       .accept_encoding = accept},
                      content, {}, true);
  };
  auto zipped = ask("gzip, br");
  ASSERT_TRUE(zipped);
  EXPECT_EQ(zipped->body, "GZIPPED");
  EXPECT_EQ(zipped->etag, "\"p1-gz\"");
  EXPECT_TRUE(zipped->gzip);
  EXPECT_TRUE(zipped->vary);
  EXPECT_EQ(zipped->content_type, "text/javascript; charset=utf-8");
  auto plain = ask("identity");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->body, "plain body");
  EXPECT_EQ(plain->etag, "\"p1\"");
  EXPECT_FALSE(plain->gzip);
  EXPECT_TRUE(plain->vary);
  // Each representation revalidates with its own tag.
  EXPECT_EQ(ask("gzip", "\"p1-gz\"")->status, 304u);
  EXPECT_EQ(ask("gzip", "\"p1\"")->status, 200u);
  EXPECT_EQ(ask("", "\"p1\"")->status, 304u);
  // A file without one: never compressed, no Vary.
  auto css = route_site({.method = "GET", .path = "/static/style.css", .accept_encoding = "gzip"},
                        site, {}, true);
  ASSERT_TRUE(css);
  EXPECT_FALSE(css->gzip);
  EXPECT_FALSE(css->vary);
  EXPECT_EQ(css->body, "body{}");
}

TEST(SiteRoutes, SiteJsonTellsThePagesTheWebSocketPath) {
  auto body = site_json_of("/live/socket");
  EXPECT_EQ(body, R"({"ws_path":"/live/socket"})");
  EXPECT_EQ(site_json_of(R"(/a"b)"), R"({"ws_path":"/a\"b"})");
  const site_content with_json{&client, files, true, body};
  auto answer = route_site({.method = "GET", .path = "/site.json"}, with_json, {}, true);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200u);
  EXPECT_EQ(answer->content_type, "application/json");
  EXPECT_EQ(answer->body, body);
  EXPECT_FALSE(answer->page);
  auto post = route_site({.method = "POST", .path = "/site.json"}, with_json, {}, true);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405u);
  // Not without pages, nor without a body to send.
  const site_content no_pages{&client, files, false, body};
  EXPECT_FALSE(route_site({.method = "GET", .path = "/site.json"}, no_pages, {}, true));
  EXPECT_FALSE(get("/site.json"));
}

TEST(SiteRoutes, AnswersOtherMethodsWith405AndHeadLikeGet) {
  auto post = route_site({.method = "POST", .path = "/"}, site, {}, true);
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405u);
  EXPECT_EQ(post->allow, "GET, HEAD");
  auto head = route_site({.method = "HEAD", .path = "/client.js"}, site, {}, true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->body, client.body);  // the connection sends its length only
}

TEST(SiteRoutes, AnUnchangedFileIsAnswered304) {
  auto again = route_site({.method = "GET", .path = "/static/demo.js", .if_none_match = "\"j1\""},
                          site, {}, true);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304u);
  EXPECT_EQ(again->etag, "\"j1\"");
  EXPECT_TRUE(again->body.empty());
  auto changed = route_site({.method = "GET", .path = "/static/demo.js", .if_none_match = "\"j0\""},
                            site, {}, true);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->status, 200u);
}

TEST(SiteRoutes, TheDashboardFollowsTheApiAccessRuleWithTheHeaderOrTheCookie) {
  // No token: loopback only.
  EXPECT_EQ(get("/dashboard", {}, true)->status, 200u);
  auto exposed = get("/dashboard", {}, false);
  EXPECT_EQ(exposed->status, 403u);
  EXPECT_NE(exposed->body.find("[api] token"), std::string_view::npos);
  // A token: the login page with 401 until it is sent, by header or cookie.
  auto login = get("/dashboard", "s3cret", true);
  EXPECT_EQ(login->status, 401u);
  EXPECT_EQ(login->body, "<form>token");
  EXPECT_TRUE(login->challenge);
  EXPECT_TRUE(login->etag.empty());
  EXPECT_EQ(get("/dashboard", "s3cret", false, "Bearer s3cret")->body, "<p>dashboard");
  EXPECT_EQ(get("/dashboard", "s3cret", false, {}, "a=1; wsvisor_token=s3cret; b=2")->status, 200u);
  EXPECT_EQ(get("/dashboard", "s3cret", false, {}, "wsvisor_token=wrong")->status, 401u);
  EXPECT_EQ(get("/dashboard", "s3cret", false, "Bearer wrong", "wsvisor_token=s3cret")->status,
            401u);  // a header, when sent, is the credential
  // The other files are not secret: the dashboard's script loads for the login page too.
  EXPECT_EQ(get("/static/demo.js", "s3cret", false)->status, 200u);
}

TEST(SiteRoutes, WithoutALoginPageA401SaysHowToSendTheToken) {
  const std::array<web::asset, 1> only{{files[0]}};
  auto answer = route_site({.method = "GET", .path = "/dashboard"}, {&client, only}, "t", true);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 401u);
  EXPECT_NE(answer->body.find("Authorization: Bearer"), std::string_view::npos);
}

TEST(SiteCookies, FindsTheNamedCookieDecoded) {
  EXPECT_EQ(cookie_value("wsvisor_token=abc", "wsvisor_token"), "abc");
  EXPECT_EQ(cookie_value("x=1;  wsvisor_token = a%20b%3D ; y=2", "wsvisor_token"), "a b=");
  EXPECT_EQ(cookie_value("wsvisor_token=\"q\"", "wsvisor_token"), "q");
  EXPECT_EQ(cookie_value("wsvisor_token=a+b", "wsvisor_token"), "a+b");  // not a form
  EXPECT_EQ(cookie_value("wsvisor_token=%zz%4", "wsvisor_token"), "%zz%4");
  EXPECT_EQ(cookie_value("my_wsvisor_token=abc", "wsvisor_token"), std::nullopt);
  EXPECT_EQ(cookie_value("", "wsvisor_token"), std::nullopt);
  EXPECT_EQ(cookie_value("wsvisor_token", "wsvisor_token"), std::nullopt);
}

TEST(SiteEtags, MatchListsWeakTagsAndTheWildcard) {
  EXPECT_TRUE(etag_matches("\"a\"", "\"a\""));
  EXPECT_TRUE(etag_matches("\"x\", W/\"a\"", "\"a\""));
  EXPECT_TRUE(etag_matches("*", "\"a\""));
  EXPECT_FALSE(etag_matches("\"ab\"", "\"a\""));
  EXPECT_FALSE(etag_matches("a", "\"a\""));
  EXPECT_FALSE(etag_matches("", "\"a\""));
  EXPECT_FALSE(etag_matches("*", ""));
}

}  // namespace
}  // namespace wsvisor::net
