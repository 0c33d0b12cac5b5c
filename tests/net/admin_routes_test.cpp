// The admin API's routing and checks (net/api_routes.hpp), without sockets.

#include <gtest/gtest.h>

#include <string>

#include "net/api_routes.hpp"

namespace wsvisor::net {
namespace {

using kind = admin_request::kind;

const std::string token = "0123456789abcdef";
const std::string bearer = "Bearer " + token;

admin_request routed(std::string_view method, std::string_view target) {
  auto r = route_admin(method, target, bearer, token, false);
  if (auto* answer = std::get_if<api_answer>(&r)) {
    ADD_FAILURE() << method << " " << target << ": " << answer->status << " " << answer->body;
    return {};
  }
  return std::get<admin_request>(r);
}

api_answer refused(std::string_view method, std::string_view target,
                   std::string_view authorization = bearer, std::string_view key = token,
                   bool loopback = false) {
  auto r = route_admin(method, target, authorization, key, loopback);
  if (std::holds_alternative<admin_request>(r)) {
    ADD_FAILURE() << method << " " << target << " was accepted";
    return {};
  }
  return std::get<api_answer>(r);
}

bool has_error(const api_answer& a, std::string_view code) {
  return a.body.find("\"error\":\"" + std::string{code} + "\"") != std::string::npos;
}

TEST(AdminRoutes, KnowsTheAdminPathsAndNoOthers) {
  for (auto path : {"/api/sessions", "/api/sessions/abc", "/api/sessions/abc/disconnect",
                    "/api/supervision", "/api/channels", "/api/cluster"})
    EXPECT_TRUE(is_admin_path(path)) << path;
  for (auto path : {"/api/publish", "/api", "/api/", "/api/sessionsx", "/api/channels/x",
                    "/healthz", "/api/supervision/root"})
    EXPECT_FALSE(is_admin_path(path)) << path;
}

TEST(AdminRoutes, RoutesEachMethodAndPathToItsRequest) {
  EXPECT_EQ(routed("GET", "/api/sessions").what, kind::list_sessions);
  auto get = routed("GET", "/api/sessions/node-1.Ab_9");
  EXPECT_EQ(get.what, kind::get_session);
  EXPECT_EQ(get.id, "node-1.Ab_9");
  auto del = routed("DELETE", "/api/sessions/abc");
  EXPECT_EQ(del.what, kind::end_session);
  EXPECT_EQ(del.id, "abc");
  auto cut = routed("POST", "/api/sessions/abc/disconnect");
  EXPECT_EQ(cut.what, kind::disconnect_session);
  EXPECT_EQ(cut.id, "abc");
  EXPECT_EQ(routed("GET", "/api/supervision").what, kind::supervision);
  EXPECT_EQ(routed("GET", "/api/channels").what, kind::channels);
  EXPECT_EQ(routed("GET", "/api/cluster").what, kind::cluster);
  EXPECT_EQ(refused("POST", "/api/cluster").status, 405u);
}

TEST(AdminRoutes, ScopeIsNodeByDefaultClusterOnRequestAndNothingElse) {
  EXPECT_FALSE(routed("GET", "/api/sessions").cluster_scope);
  EXPECT_FALSE(routed("GET", "/api/sessions?scope=node").cluster_scope);
  EXPECT_TRUE(routed("GET", "/api/sessions?scope=cluster&limit=5").cluster_scope);
  EXPECT_TRUE(routed("GET", "/api/channels?scope=cluster").cluster_scope);
  auto bad = refused("GET", "/api/channels?scope=world");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_TRUE(has_error(bad, "bad_request")) << bad.body;
  EXPECT_NE(bad.body.find("scope must be node or cluster"), std::string::npos) << bad.body;
}

TEST(AdminRoutes, ReadsLimitCursorAndStateFromTheQuery) {
  auto defaults = routed("GET", "/api/sessions");
  EXPECT_EQ(defaults.limit, 100u);
  EXPECT_EQ(defaults.after, "");
  EXPECT_EQ(defaults.state, "");
  auto page = routed("GET", "/api/sessions?limit=5&after=n1.x%3Ay&state=detached&other=1");
  EXPECT_EQ(page.limit, 5u);
  EXPECT_EQ(page.after, "n1.x:y");
  EXPECT_EQ(page.state, "detached");
  EXPECT_EQ(routed("GET", "/api/sessions?limit=1000").limit, 1000u);
  // As an HTML form sends it: '+' is a space, %2B a plus.
  EXPECT_EQ(routed("GET", "/api/sessions?after=a+b%2Bc").after, "a b+c");
  auto chans = routed("GET", "/api/channels?after=news&limit=2");
  EXPECT_EQ(chans.after, "news");
  EXPECT_EQ(chans.limit, 2u);
}

TEST(AdminRoutes, ReadsOnlyTheQueryItIsGivenNotTheBytesAfterIt) {
  // The HTTP parser hands a view into its buffer: what follows the target is
  // another header, not a NUL.
  std::string buffer = "/api/sessions?limit=5\r\nHost: x";
  auto page = routed("GET", std::string_view{buffer}.substr(0, buffer.find('\r')));
  EXPECT_EQ(page.limit, 5u);
}

TEST(AdminRoutes, RefusesABadLimitCursorOrStateWith400) {
  for (auto target : {"/api/sessions?limit=0", "/api/sessions?limit=1001",
                      "/api/sessions?limit=", "/api/sessions?limit=-1", "/api/sessions?limit=1e2",
                      "/api/sessions?limit=99999999999999999999", "/api/sessions?state=gone",
                      "/api/sessions?after=%zz", "/api/sessions?after=%4", "/api/sessions?after=a%",
                      "/api/channels?limit=0"}) {
    auto answer = refused("GET", target);
    EXPECT_EQ(answer.status, 400u) << target;
    EXPECT_TRUE(has_error(answer, "bad_request")) << target << answer.body;
  }
  auto long_cursor = "/api/sessions?after=" + std::string(300, 'a');
  EXPECT_EQ(refused("GET", long_cursor).status, 400u);
}

TEST(AdminRoutes, AnswersWrongMethodsWith405NamingTheAllowedOnes) {
  struct {
    std::string_view method, target, allow;
  } cases[] = {{"POST", "/api/sessions", "GET"},
               {"DELETE", "/api/sessions", "GET"},
               {"POST", "/api/sessions/abc", "GET, DELETE"},
               {"GET", "/api/sessions/abc/disconnect", "POST"},
               {"DELETE", "/api/supervision", "GET"},
               {"PUT", "/api/channels", "GET"},
               {"ET", "/api/sessions/abc", "GET, DELETE"},
               {"", "/api/sessions/abc", "GET, DELETE"}};
  for (auto& c : cases) {
    auto answer = refused(c.method, c.target);
    EXPECT_EQ(answer.status, 405u) << c.method << " " << c.target;
    EXPECT_EQ(answer.allow, c.allow) << c.method << " " << c.target;
    EXPECT_TRUE(has_error(answer, "method_not_allowed"));
  }
}

TEST(AdminRoutes, AnswersUnknownSubpathsAndMalformedIdsWith404) {
  for (auto target : {"/api/sessions/abc/kick", "/api/sessions/abc/disconnect/x", "/api/sessions/",
                      "/api/sessions//disconnect", "/api/sessions/a%20b", "/api/sessions/a b"}) {
    auto answer = refused("GET", target);
    EXPECT_EQ(answer.status, 404u) << target;
    EXPECT_TRUE(has_error(answer, "not_found")) << target;
  }
  auto long_id = "/api/sessions/" + std::string(300, 'a');
  EXPECT_EQ(refused("GET", long_id).status, 404u);
}

TEST(AdminRoutes, AppliesTheApiAccessRuleToEveryRoute) {
  for (auto [method, target] :
       {std::pair{"GET", "/api/sessions"}, std::pair{"GET", "/api/sessions/abc"},
        std::pair{"DELETE", "/api/sessions/abc"}, std::pair{"POST", "/api/sessions/abc/disconnect"},
        std::pair{"GET", "/api/supervision"}, std::pair{"GET", "/api/channels"}}) {
    for (bool loopback : {true, false}) {
      auto missing = refused(method, target, "", token, loopback);
      EXPECT_EQ(missing.status, 401u) << target;
      EXPECT_TRUE(missing.challenge);
      EXPECT_EQ(refused(method, target, "Bearer wrong", token, loopback).status, 401u);
    }
    auto exposed = refused(method, target, "", "", false);
    EXPECT_EQ(exposed.status, 403u) << target;
    EXPECT_TRUE(has_error(exposed, "api_disabled"));
    EXPECT_TRUE(std::holds_alternative<admin_request>(route_admin(method, target, "", "", true)))
        << target;
  }
}

TEST(AdminRoutes, ChecksTheMethodBeforeAccessAndAccessBeforeTheQuery) {
  EXPECT_EQ(refused("POST", "/api/sessions?limit=0", "", token).status, 405u);
  EXPECT_EQ(refused("GET", "/api/sessions?limit=0", "", token).status, 401u);
  EXPECT_EQ(refused("GET", "/api/sessions?limit=0", "", "", false).status, 403u);
}

TEST(AdminRoutes, AnswersAnOutcomeWithItsBodyOrItsError) {
  auto ok = answer_admin({.status = 200, .body = R"({"sessions":[]})"});
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.body, R"({"sessions":[]})");
  auto missing = answer_admin({.status = 404, .error = "not_found", .message = "no session x"});
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.body, R"({"error":"not_found","message":"no session x"})");
}

TEST(AdminRoutes, AReplyDroppedUnansweredAnswers500) {
  admin_outcome got;
  int calls = 0;
  {
    auto reply = make_admin_reply([&](admin_outcome o) {
      got = std::move(o);
      ++calls;
    });
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got.status, 500u);
  EXPECT_EQ(got.error, "internal");
  auto reply = make_admin_reply([&](admin_outcome o) {
    got = std::move(o);
    ++calls;
  });
  reply({.status = 200, .body = "{}"});
  reply({.status = 500, .error = "late"});
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(got.body, "{}");
}

}  // namespace
}  // namespace wsvisor::net
