// The admin API's JSON (app/admin.hpp): field names, nulls and nesting.

#include "app/admin.hpp"

#include <memory>

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace wsvisor {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::object parsed(const std::string& text) { return json::parse(text).as_object(); }

session_info attached_session() {
  return {.id = "abc",
          .attached = true,
          .peer = "127.0.0.1:5000",
          .subject = "alice",
          .channels = {"a", "b"},
          .seq = 9,
          .acked = 4,
          .buffered = 5,
          .buffered_bytes = 120,
          .buffer_max = 1024,
          .buffer_max_bytes = 4096,
          .since_ms = 1000,
          .expires_ms = 0};
}

TEST(AdminJson, SessionShowsEveryFieldOfAnAttachedSession) {
  auto s = parsed(session_json(attached_session(), "n1"));
  EXPECT_EQ(s["id"], "abc");
  EXPECT_EQ(s["state"], "attached");
  EXPECT_EQ(s["node"], "n1");
  EXPECT_EQ(s["subject"], "alice");
  EXPECT_EQ(s["subscriptions"], (json::array{"a", "b"}));
  EXPECT_EQ(s["seq"], 9);
  EXPECT_EQ(s["acked"], 4);
  EXPECT_EQ(
      s["replay"],
      (json::object{{"messages", 5}, {"bytes", 120}, {"max_messages", 1024}, {"max_bytes", 4096}}));
  EXPECT_EQ(s["since_ms"], 1000);
  EXPECT_TRUE(s["expires_ms"].is_null());
  EXPECT_EQ(s["remote"], "127.0.0.1:5000");
  EXPECT_EQ(s.size(), 11u);
}

TEST(AdminJson, DetachedSessionHasAnExpiryAndNoRemoteOrSubject) {
  auto info = attached_session();
  info.attached = false;
  info.peer.clear();
  info.subject.clear();
  info.expires_ms = 31000;
  auto s = parsed(session_json(info, "local"));
  EXPECT_EQ(s["state"], "detached");
  EXPECT_EQ(s["expires_ms"], 31000);
  EXPECT_TRUE(s["remote"].is_null());
  EXPECT_TRUE(s["subject"].is_null());
}

TEST(AdminJson, SessionsPageCarriesTheCursorOrNull) {
  auto more = parsed(sessions_json({attached_session()}, "local", "abc"));
  EXPECT_EQ(more["node"], "local");
  EXPECT_EQ(more["sessions"].as_array().size(), 1u);
  EXPECT_EQ(more["next"], "abc");
  auto last = parsed(sessions_json({}, "local", ""));
  EXPECT_TRUE(last["sessions"].as_array().empty());
  EXPECT_TRUE(last["next"].is_null());
}

TEST(AdminJson, SupervisionNestsChildSupervisorsAndTimesAPendingRestart) {
  auto now = std::chrono::system_clock::time_point{1'700'000'000'000ms};
  supervision_node root;
  root.tree = {"root", strategy_kind::rest_for_one, {}};
  root.tree.children.push_back(child_info{.name = "feed",
                                          .state = child_state::restarting,
                                          .restart_at = now + 1500ms,
                                          .restarts = 3,
                                          .last_exit_reason = "boom",
                                          .policy = "upstream",
                                          .restart = restart_kind::transient,
                                          .max_restarts = 20,
                                          .restart_window = duration{60'000}});
  root.tree.children.push_back(
      child_info{.name = "ups", .state = child_state::running, .supervisor = true});
  auto links = std::make_shared<supervision_node>();
  links->tree = {"links", strategy_kind::one_for_one, {child_info{.name = "l1"}}};
  root.nested = {nullptr, links};

  auto j = parsed(supervision_json(root, "local", now));
  EXPECT_EQ(j["node"], "local");
  auto& sup = j["supervisor"].as_object();
  EXPECT_EQ(sup["name"], "root");
  EXPECT_EQ(sup["strategy"], "rest_for_one");
  auto& feed = sup["children"].as_array()[0].as_object();
  EXPECT_EQ(feed["name"], "feed");
  EXPECT_EQ(feed["state"], "restarting");
  EXPECT_EQ(feed["restart"], "transient");
  EXPECT_EQ(feed["policy"], "upstream");
  EXPECT_EQ(feed["max_restarts"], 20);
  EXPECT_EQ(feed["restart_window_ms"], 60000);
  EXPECT_EQ(feed["restarts"], 3);
  EXPECT_EQ(feed["last_exit_reason"], "boom");
  EXPECT_EQ(feed["restart_at_ms"], 1'700'000'001'500);
  EXPECT_EQ(feed["restart_in_ms"], 1500);
  EXPECT_TRUE(feed["supervisor"].is_null());
  auto& ups = sup["children"].as_array()[1].as_object();
  EXPECT_TRUE(ups["restart_at_ms"].is_null());
  EXPECT_TRUE(ups["restart_in_ms"].is_null());
  EXPECT_TRUE(ups["last_exit_reason"].is_null());
  auto& nested = ups["supervisor"].as_object();
  EXPECT_EQ(nested["name"], "links");
  EXPECT_EQ(nested["children"].as_array()[0].as_object()["state"], "stopped");
}

TEST(AdminJson, ARestartAlreadyDueShowsZeroMillisecondsToGo) {
  auto now = std::chrono::system_clock::time_point{1'700'000'000'000ms};
  supervision_node root;
  root.tree = {
      "root", strategy_kind::one_for_one, {child_info{.name = "late", .restart_at = now - 10ms}}};
  auto j = parsed(supervision_json(root, "local", now));
  EXPECT_EQ(j["supervisor"].as_object()["children"].as_array()[0].as_object()["restart_in_ms"], 0);
}

TEST(AdminJson, ANestedSupervisorThatDidNotAnswerShowsNull) {
  auto now = std::chrono::system_clock::time_point{1'700'000'000'000ms};
  supervision_node root;
  root.tree = {"root", strategy_kind::one_for_one, {child_info{.name = "upstreams"}}};
  root.nested = {std::make_shared<supervision_node>()};  // asked; its answer was an error
  auto j = parsed(supervision_json(root, "local", now));
  EXPECT_TRUE(
      j["supervisor"].as_object()["children"].as_array()[0].as_object()["supervisor"].is_null());
}

TEST(AdminJson, ChannelsNameTheirUpstreamOrNull) {
  std::vector<channel_info> page{{.name = "feed", .subscribers = 2, .peers = 1, .owned = true},
                                 {.name = "news", .subscribers = 5}};
  auto j = parsed(channels_json(page, {"ticker", ""}, "n1", "news"));
  EXPECT_EQ(j["node"], "n1");
  EXPECT_EQ(j["next"], "news");
  auto& feed = j["channels"].as_array()[0].as_object();
  EXPECT_EQ(feed, (json::object{{"name", "feed"},
                                {"subscribers", 2},
                                {"peers", 1},
                                {"owned", true},
                                {"upstream", "ticker"}}));
  auto& news = j["channels"].as_array()[1].as_object();
  EXPECT_FALSE(news["owned"].as_bool());
  EXPECT_TRUE(news["upstream"].is_null());
}

}  // namespace
}  // namespace wsvisor
