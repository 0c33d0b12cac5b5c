// The admin API's JSON (app/admin.hpp): field names, nulls and nesting.

#include "app/admin.hpp"
#include "actors/cluster/messages.hpp"
#include "actors/session/messages.hpp"
#include "actors/supervision/messages.hpp"

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
  EXPECT_EQ(s["connection_node"], "n1");  // no id given: its own node
  EXPECT_TRUE(s["replica"].is_null());    // none: a single node
  EXPECT_EQ(s.size(), 13u);
}

TEST(AdminJson, ASessionsReplicaNamesItsNodeAndHowFarItHolds) {
  auto info = attached_session();
  info.replica = "b";
  info.replica_seq = 7;
  auto s = parsed(session_json(info, "a"));
  EXPECT_EQ(s["replica"], (json::object{{"node", "b"}, {"seq", 7}}));
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

TEST(AdminJson, ASessionNamesTheNodeHoldingItsConnection) {
  auto here = attached_session();
  here.connection_node = "id-of-a";
  node_names names{{"id-of-a", "a"}, {"id-of-b", "b"}};
  EXPECT_EQ(parsed(session_json(here, "a", names))["connection_node"], "a");
  auto through_b = here;
  through_b.connection_node = "id-of-b";
  EXPECT_EQ(parsed(session_json(through_b, "a", names))["connection_node"], "b");
  auto detached = here;
  detached.attached = false;
  EXPECT_TRUE(parsed(session_json(detached, "a", names))["connection_node"].is_null());
}

// A node's node-scope page of sessions with these ids.
std::string sessions_page(const std::string& node, const std::vector<std::string>& ids,
                          const std::string& next) {
  std::vector<session_info> page;
  for (auto& id : ids) page.push_back({.id = id});
  return sessions_json(page, node, next);
}

std::vector<std::string> ids_of(const json::object& merged, const std::string& list = "sessions",
                                const std::string& key = "id") {
  std::vector<std::string> out;
  for (auto& row : merged.at(list).as_array())
    out.emplace_back(row.as_object().at(key).as_string());
  return out;
}

TEST(AdminJson, ClusterPagesMergeInIdOrderAndStopWhereANodeWithMoreStopped) {
  using kind = net::admin_request::kind;
  // limit 3: a has more after a.3; b's page is complete; c did not answer.
  std::vector<node_page> pages{
      {.node = "a", .body = sessions_page("a", {"a.1", "a.2", "a.3"}, "a.3")},
      {.node = "b", .body = sessions_page("b", {"b.1"}, "")},
      {.node = "c", .error = "timeout", .message = "the node did not answer in time"}};
  auto first = parsed(merge_cluster_pages(kind::list_sessions, pages, 3, "a"));
  EXPECT_EQ(first["scope"], "cluster");
  EXPECT_EQ(first["answered"], (json::array{"a", "b"}));
  EXPECT_EQ(
      first["missing"],
      (json::array{json::object{
          {"node", "c"}, {"error", "timeout"}, {"message", "the node did not answer in time"}}}));
  EXPECT_EQ(ids_of(first), (std::vector<std::string>{"a.1", "a.2", "a.3"}));
  EXPECT_EQ(first["next"], "a.3");
  // b.1 sorts after a's page end: it waits for the next page, where a's rest
  // is merged before it.
  std::vector<node_page> second_pages{{.node = "a", .body = sessions_page("a", {"a.4"}, "")},
                                      {.node = "b", .body = sessions_page("b", {"b.1"}, "")}};
  auto second = parsed(merge_cluster_pages(kind::list_sessions, second_pages, 3, "a"));
  EXPECT_EQ(ids_of(second), (std::vector<std::string>{"a.4", "b.1"}));
  EXPECT_TRUE(second["next"].is_null());
  // The limit cuts the merged rows: the cursor is the last one shown.
  auto cut = parsed(merge_cluster_pages(kind::list_sessions, second_pages, 1, "a"));
  EXPECT_EQ(ids_of(cut), (std::vector<std::string>{"a.4"}));
  EXPECT_EQ(cut["next"], "a.4");
}

TEST(AdminJson, ClusterChannelRowsNameTheirNodeAndALimitCountsChannelNames) {
  using kind = net::admin_request::kind;
  std::vector<channel_info> on_a{{.name = "news", .subscribers = 2},
                                 {.name = "x", .subscribers = 1}};
  std::vector<channel_info> on_b{{.name = "news", .subscribers = 5}};
  std::vector<node_page> pages{{.node = "a", .body = channels_json(on_a, {}, "a", "")},
                               {.node = "b", .body = channels_json(on_b, {}, "b", "")},
                               {.node = "c", .body = "not json"}};
  auto merged = parsed(merge_cluster_pages(kind::channels, pages, 1, "b"));
  auto& rows = merged["channels"].as_array();
  ASSERT_EQ(rows.size(), 2u) << json::serialize(merged);
  EXPECT_EQ(rows[0].as_object().at("node"), "a");
  EXPECT_EQ(rows[0].as_object().at("subscribers"), 2);
  EXPECT_EQ(rows[1].as_object().at("node"), "b");
  EXPECT_EQ(rows[1].as_object().at("subscribers"), 5);
  EXPECT_EQ(merged["next"], "news");
  EXPECT_EQ(merged["missing"].as_array()[0].as_object().at("node"), "c");
  EXPECT_EQ(merged["missing"].as_array()[0].as_object().at("error"), "internal");
}

TEST(AdminJson, TheClusterViewShowsThisNodeAndEachMember) {
  admin_context ctx{
      .node = "a", .cluster = true, .address = "127.0.0.1:7070", .public_url = "ws://a/ws"};
  std::vector<cluster_member_info> members{{.node = "b",
                                            .address = "127.0.0.1:7071",
                                            .public_url = "ws://b/ws",
                                            .state = "up",
                                            .since_ms = 5,
                                            .last_seen_ms = 9},
                                           {.address = "10.0.0.9:7070", .state = "connecting"}};
  auto j = parsed(cluster_json(ctx, members));
  EXPECT_EQ(j["node"], "a");
  EXPECT_EQ(j["enabled"], true);
  EXPECT_EQ(j["address"], "127.0.0.1:7070");
  EXPECT_EQ(j["public_url"], "ws://a/ws");
  auto& rows = j["members"].as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].as_object(), (json::object{{"node", "b"},
                                               {"address", "127.0.0.1:7071"},
                                               {"public_url", "ws://b/ws"},
                                               {"state", "up"},
                                               {"since_ms", 5},
                                               {"last_seen_ms", 9}}));
  EXPECT_TRUE(rows[1].as_object().at("node").is_null());
  EXPECT_TRUE(rows[1].as_object().at("since_ms").is_null());
  auto single = parsed(cluster_json(admin_context{}, {}));
  EXPECT_EQ(single["enabled"], false);
  EXPECT_TRUE(single["address"].is_null());
  EXPECT_TRUE(single["members"].as_array().empty());
}

}  // namespace
}  // namespace wsvisor
