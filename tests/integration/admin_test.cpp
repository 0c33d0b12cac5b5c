// The admin API (docs/api.md) against a real node over real sockets: what it
// says about sessions, the supervision tree and channels, what DELETE and
// disconnect do to a client, and who may ask.

#include <gtest/gtest.h>

#include <algorithm>
#include <caf/all.hpp>
#include <mutex>

#include "actors/supervision/supervisor.hpp"
#include "tests/integration/node_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json_fields.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// A root child the test can crash: each incarnation is kept here.
struct crashable {
  std::mutex mutex;
  caf::actor current;

  caf::actor get() {
    std::lock_guard lock{mutex};
    return current;
  }
};

class Admin : public NodeTest {
 protected:
  /// Starts the node with `crashy`, a child of the root under the policy
  /// "crashy" (restarts after 50 ms, no jitter).
  void start_with_crashy() {
    auto p = policy{};
    p.backoff_min = duration{50};
    p.backoff_max = duration{50};
    p.jitter = jitter_kind::none;
    cfg_.policies["crashy"] = p;
    node_options opts{.handle_signals = false};
    opts.extra_root_children.push_back(child_spec{
        .name = "crashy",
        .factory =
            [c = crashy_](caf::actor_system& sys) {
              auto a = sys.spawn(
                  [](caf::event_based_actor*, int) -> caf::behavior { return {[](int) {}}; }, 0);
              std::lock_guard lock{c->mutex};
              c->current = a;
              return a;
            },
        .restart = restart_kind::permanent,
        .policy = "crashy"});
    node_ = std::make_unique<node>(cfg_, std::move(opts));
    ASSERT_EQ(node_->start(), "");
    runner_ = std::thread{[this] { status_ = node_->run(); }};
  }

  http_reply call(std::string method, std::string target, std::string token = {}) {
    http_call c{.method = std::move(method), .target = std::move(target)};
    if (!token.empty()) c.headers.emplace_back("Authorization", "Bearer " + token);
    return http_send(port(), c);
  }

  /// GET `target`, which must answer 200 with a JSON object.
  json::object get(const std::string& target) {
    auto r = call("GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << target << ": not a JSON object: " << r.body;
      return {};
    }
    return v.as_object();
  }

  static std::string error_of(const http_reply& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error"))
      return "(no error: " + r.body + ")";
    return str(v.as_object()["error"]);
  }

  // The child called `name` in a supervisor's JSON, or an empty object.
  static json::object child(json::object& sup, std::string_view name) {
    for (auto& c : sup["children"].as_array())
      if (c.as_object()["name"].as_string() == name) return c.as_object();
    ADD_FAILURE() << "no child " << name << " in " << json::serialize(sup);
    return {};
  }

  std::shared_ptr<crashable> crashy_ = std::make_shared<crashable>();
};

TEST_F(Admin, ListsSessionsByIdInPagesWithTheirStateAndNeverTheirToken) {
  start_node();
  wire_client a{port()}, b{port()}, c{port()};
  std::vector<json::object> welcomes{a.hello(), b.hello(), c.hello()};
  a.subscribe("news");
  std::vector<std::string> ids;
  for (auto& w : welcomes) ids.push_back(str(w["session"]));
  std::sort(ids.begin(), ids.end());

  auto first = get("/api/sessions?limit=2");
  EXPECT_EQ(first["node"], "local");
  auto& page = first["sessions"].as_array();
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(str(page[0].as_object()["id"]), ids[0]);
  EXPECT_EQ(str(page[1].as_object()["id"]), ids[1]);
  EXPECT_EQ(str(first["next"]), ids[1]);
  auto second = get("/api/sessions?limit=2&after=" + ids[1]);
  ASSERT_EQ(second["sessions"].as_array().size(), 1u);
  EXPECT_EQ(str(second["sessions"].as_array()[0].as_object()["id"]), ids[2]);
  EXPECT_TRUE(second["next"].is_null());

  auto all = call("GET", "/api/sessions");
  for (auto& w : welcomes) EXPECT_EQ(all.body.find(str(w["token"])), std::string::npos);
  auto one = get("/api/sessions/" + str(welcomes[0]["session"]));
  EXPECT_EQ(one["state"], "attached");
  EXPECT_EQ(one["node"], "local");
  EXPECT_EQ(one["subscriptions"], (json::array{"news"}));
  EXPECT_TRUE(one["remote"].is_string());
  EXPECT_TRUE(one["expires_ms"].is_null());
  EXPECT_EQ(one["replay"].as_object()["max_messages"], cfg_.session.replay_buffer);
  EXPECT_FALSE(one.contains("token"));
}

TEST_F(Admin, FiltersSessionsByState) {
  start_node();
  wire_client stays{port()}, leaves{port()};
  auto kept = str(stays.hello()["session"]);
  auto gone = str(leaves.hello()["session"]);
  leaves.socket().drop();
  json::object detached;
  EXPECT_TRUE(eventually([&] {
    detached = get("/api/sessions?state=detached");
    return detached["sessions"].as_array().size() == 1;
  }));
  auto s = detached["sessions"].as_array()[0].as_object();
  EXPECT_EQ(str(s["id"]), gone);
  EXPECT_EQ(s["state"], "detached");
  EXPECT_TRUE(s["remote"].is_null());
  EXPECT_GT(s["expires_ms"].to_number<std::int64_t>(), s["since_ms"].to_number<std::int64_t>());
  auto attached = get("/api/sessions?state=attached");
  ASSERT_EQ(attached["sessions"].as_array().size(), 1u);
  EXPECT_EQ(str(attached["sessions"].as_array()[0].as_object()["id"]), kept);
  EXPECT_EQ(call("GET", "/api/sessions?state=gone").status, 400);
}

TEST_F(Admin, AnswersNotFoundForASessionThisNodeDoesNotHold) {
  start_node();
  for (auto [method, target] : {std::pair{"GET", "/api/sessions/no-such-session"},
                                std::pair{"DELETE", "/api/sessions/no-such-session"},
                                std::pair{"POST", "/api/sessions/no-such-session/disconnect"}}) {
    auto r = call(method, target);
    EXPECT_EQ(r.status, 404) << method << " " << target;
    EXPECT_EQ(error_of(r), "not_found");
  }
}

TEST_F(Admin, DeleteEndsTheSessionClosesItsClientWith4410AndRefusesItsResume) {
  start_node();
  wire_client c{port()};
  auto w = c.hello();
  auto id = str(w["session"]);
  auto r = call("DELETE", "/api/sessions/" + id);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(c.await_close(), 4410);
  EXPECT_TRUE(eventually([&] { return call("GET", "/api/sessions/" + id).status == 404; }));
  wire_client again{port()};
  auto refused = again.resume(id, str(w["token"]), 0);
  EXPECT_EQ(refused["resumed"], false);
  EXPECT_EQ(refused["reason"], "unknown");
}

TEST_F(Admin, DisconnectCutsTheConnectionAndTheClientResumesWithWhatItMissed) {
  start_node();
  wire_client sub{port()}, pub{port()};
  auto w = sub.hello();
  sub.subscribe("news");
  pub.hello();
  auto id = str(w["session"]);
  auto r = call("POST", "/api/sessions/" + id + "/disconnect");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(sub.await_close(), 4411);
  EXPECT_TRUE(eventually([&] { return get("/api/sessions/" + id)["state"] == "detached"; }));
  auto again = call("POST", "/api/sessions/" + id + "/disconnect");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(error_of(again), "not_attached");
  pub.publish("news", 42, 1);
  EXPECT_TRUE(eventually(
      [&] { return get("/api/sessions/" + id)["replay"].as_object()["messages"] == 1; }));
  wire_client back{port()};
  auto resumed = back.resume(id, str(w["token"]), 0);
  EXPECT_EQ(resumed["resumed"], true);
  auto m = back.expect("message");
  EXPECT_EQ(m["seq"], 1);
  EXPECT_EQ(m["data"], 42);
}

TEST_F(Admin, SupervisionShowsTheTreeAndARestartAfterACrash) {
  start_with_crashy();
  auto tree = get("/api/supervision");
  EXPECT_EQ(tree["node"], "local");
  auto& root = tree["supervisor"].as_object();
  EXPECT_EQ(root["name"], "root");
  EXPECT_EQ(root["strategy"], "one_for_one");
  for (auto name : {"sessions", "upstreams", "crashy"})
    EXPECT_EQ(child(root, name)["state"], "running") << name;
  auto upstreams = child(root, "upstreams");
  ASSERT_TRUE(upstreams["supervisor"].is_object()) << json::serialize(upstreams);
  EXPECT_EQ(upstreams["supervisor"].as_object()["name"], "upstream_links");
  EXPECT_TRUE(child(root, "sessions")["supervisor"].is_null());
  auto before = child(root, "crashy");
  EXPECT_EQ(before["restarts"], 0);
  EXPECT_EQ(before["policy"], "crashy");
  EXPECT_EQ(before["restart"], "permanent");
  EXPECT_TRUE(before["last_exit_reason"].is_null());
  EXPECT_TRUE(before["restart_in_ms"].is_null());

  auto first = crashy_->get();
  ASSERT_TRUE(first);
  caf::anon_send_exit(first, caf::exit_reason::kill);
  json::object after;
  EXPECT_TRUE(eventually([&] {
    auto t = get("/api/supervision");
    after = child(t["supervisor"].as_object(), "crashy");
    return after["restarts"] == 1 && after["state"] == "running";
  })) << json::serialize(after);
  EXPECT_TRUE(after["last_exit_reason"].is_string());
  EXPECT_NE(crashy_->get(), first);
}

TEST_F(Admin, ChannelsListsSubscriberCountsByName) {
  start_node();
  wire_client a{port()}, b{port()};
  a.hello();
  b.hello();
  a.subscribe("news");
  b.subscribe("news");
  b.subscribe("alerts");
  auto all = get("/api/channels");
  EXPECT_EQ(all["node"], "local");
  auto& list = all["channels"].as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].as_object()["name"], "alerts");
  EXPECT_EQ(list[0].as_object()["subscribers"], 1);
  EXPECT_EQ(list[1].as_object()["name"], "news");
  EXPECT_EQ(list[1].as_object()["subscribers"], 2);
  EXPECT_TRUE(list[1].as_object()["upstream"].is_null());
  EXPECT_TRUE(all["next"].is_null());
  auto page = get("/api/channels?limit=1");
  ASSERT_EQ(page["channels"].as_array().size(), 1u);
  EXPECT_EQ(page["next"], "alerts");
}

TEST_F(Admin, WithATokenEveryEndpointNeedsIt) {
  cfg_.api.token = "s3cret-token-for-the-admin-api";
  start_node();
  wire_client c{port()};
  auto id = str(c.hello()["session"]);
  for (auto [method, target] :
       {std::pair{std::string{"GET"}, std::string{"/api/sessions"}},
        std::pair{std::string{"GET"}, "/api/sessions/" + id},
        std::pair{std::string{"GET"}, std::string{"/api/supervision"}},
        std::pair{std::string{"GET"}, std::string{"/api/channels"}},
        std::pair{std::string{"POST"}, "/api/sessions/" + id + "/disconnect"},
        std::pair{std::string{"DELETE"}, "/api/sessions/" + id}}) {
    auto none = call(method, target);
    EXPECT_EQ(none.status, 401) << method << " " << target;
    EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
    EXPECT_EQ(call(method, target, "wrong-token").status, 401) << method << " " << target;
    EXPECT_EQ(call(method, target, cfg_.api.token).status, 200) << method << " " << target;
  }
}

TEST_F(Admin, WithoutATokenANonLoopbackListenRefusesEveryEndpoint) {
  cfg_.server.listen = "0.0.0.0:0";
  start_node();
  for (auto [method, target] :
       {std::pair{"GET", "/api/sessions"}, std::pair{"GET", "/api/sessions/x"},
        std::pair{"DELETE", "/api/sessions/x"}, std::pair{"POST", "/api/sessions/x/disconnect"},
        std::pair{"GET", "/api/supervision"}, std::pair{"GET", "/api/channels"}}) {
    auto r = call(method, target);
    EXPECT_EQ(r.status, 403) << method << " " << target;
    EXPECT_EQ(error_of(r), "api_disabled");
  }
}

TEST_F(Admin, AWrongMethodGets405WithAllow) {
  start_node();
  auto r = call("POST", "/api/supervision");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET");
  EXPECT_EQ(call("PUT", "/api/sessions/x").header("Allow"), "GET, DELETE");
}

// Every refusal under /api and on /metrics is the API's JSON error, also
// where no route decides it: a body sent to a route that takes none, a wrong
// method on /metrics, a path the API does not have.
TEST_F(Admin, EveryRefusalOfTheApiAndMetricsIsJson) {
  start_node();
  struct refusal {
    http_call call;
    int status;
    std::string error;
    std::string allow;
  };
  const std::vector<refusal> refusals{
      {{.method = "POST", .target = "/api/supervision", .body = "{}"}, 413, "too_large", ""},
      {{.method = "DELETE", .target = "/api/sessions/x", .body = "x"}, 413, "too_large", ""},
      {{.method = "GET", .target = "/metrics", .body = "x"}, 413, "too_large", ""},
      {{.method = "POST", .target = "/metrics"}, 405, "method_not_allowed", "GET, HEAD"},
      {{.method = "DELETE", .target = "/metrics"}, 405, "method_not_allowed", "GET, HEAD"},
      {{.method = "GET", .target = "/api/nothing"}, 404, "not_found", ""},
      {{.method = "GET", .target = "/api"}, 404, "not_found", ""},
  };
  for (const auto& r : refusals) {
    auto reply = http_send(port(), r.call);
    auto what = r.call.method + " " + r.call.target;
    EXPECT_EQ(reply.status, r.status) << what << ": " << reply.body;
    EXPECT_EQ(reply.content_type, "application/json") << what;
    EXPECT_EQ(error_of(reply), r.error) << what << ": " << reply.body;
    if (!r.allow.empty()) {
      EXPECT_EQ(reply.header("Allow"), r.allow) << what;
    }
  }
}

}  // namespace
}  // namespace wsvisor::test
