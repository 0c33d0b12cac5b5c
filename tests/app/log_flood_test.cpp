// Log floods (issue 21): what one misbehaving client or one failing link
// can make a real `wsvisor` process write, read from its log as an operator
// would. The node runs with the harness of tests/support/cluster_nodes.hpp
// (a node without peers here): its log is drained while it runs, so a flood
// cannot stall it, and lines can be awaited with a deadline and parsed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/support/cluster_nodes.hpp"
#include "tests/support/ws_client.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;
using test::cluster_node;
using test::log_line;
using test::ms;

const std::string binary = WSVISOR_BINARY;
constexpr std::string_view refusal = "subscribe refused: limits.channels reached";

std::string text_of(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

// A client with a session: hello sent, welcome received.
void say_hello(test::ws_client& c, std::uint16_t port) {
  auto hs = c.connect(port, "/ws", {"wsvisor.v1"});
  ASSERT_TRUE(hs.ok) << hs.error;
  ASSERT_EQ(c.send_text(R"({"type":"hello"})"), "");
  auto welcome = c.receive(10s);
  ASSERT_NE(welcome.text.find("\"welcome\""), std::string::npos) << welcome.text;
}

std::string subscribe(const std::string& channel) {
  return R"({"type":"subscribe","channel":")" + channel + R"("})";
}

// The answer to one subscribe: its `type`, or its error `code`.
std::string answer(test::ws_client& c) {
  auto e = c.receive(10s);
  if (e.type != test::ws_event::kind::text) return "no answer: " + e.text;
  auto v = boost::json::parse(e.text).as_object();
  auto type = text_of(v, "type");
  return type == "error" ? text_of(v, "code") : type;
}

std::uint64_t suppressed(const log_line& l) {
  auto s = l.field("suppressed");
  return s.empty() ? 0 : std::stoull(s);
}

// The lines `which` selects, and the events they account for: a line logged
// as its event happened (`is_event`) is one; each line adds the count of
// those held back before it (a line that only says that count is no event).
struct tally {
  std::vector<log_line> lines;
  std::uint64_t logged = 0;
  std::uint64_t held = 0;
  std::uint64_t events() const { return logged + held; }
};

tally count(const cluster_node& node, const test::line_predicate& which,
            const std::function<bool(const log_line&)>& is_event) {
  tally t;
  for (const auto& text : node.lines(which)) {
    auto l = log_line::parse(text);
    if (!l) continue;
    if (is_event(*l)) ++t.logged;
    t.held += suppressed(*l);
    t.lines.push_back(std::move(*l));
  }
  return t;
}

// A refusal logged as it happened names its channel.
tally refusals(const cluster_node& node) {
  return count(node, test::log_event(std::string{refusal}),
               [](const log_line& l) { return !l.field("channel").empty(); });
}

std::string log_of(const cluster_node& node) { return "node log:\n" + node.tail(40); }

TEST(LogFlood, TenThousandRefusedSubscribesWriteAFewLinesThatCountEveryOne) {
  // limits.channels is per node; messages_per_second = 0 so that the flood
  // is refused for its channels, not rate-limited. The default interval.
  cluster_node node{binary, "solo"};
  node.settings().extra_toml = "[limits]\nchannels = 2\nmessages_per_second = 0\n";
  node.start();
  ASSERT_TRUE(node.await_ready()) << log_of(node);
  test::ws_client c;
  ASSERT_NO_FATAL_FAILURE(say_hello(c, node.http_port()));
  for (std::string held : {"a", "b"}) {
    ASSERT_EQ(c.send_text(subscribe(held)), "");
    ASSERT_EQ(answer(c), "subscribed");
  }
  // In batches, every answer awaited, so that the client keeps reading.
  constexpr int refused = 10'000;
  constexpr int batch = 100;
  for (int sent = 0; sent < refused; sent += batch) {
    for (int i = sent; i < sent + batch; ++i)
      ASSERT_EQ(c.send_text(subscribe("c" + std::to_string(i))), "");
    for (int i = sent; i < sent + batch; ++i) ASSERT_EQ(answer(c), "too_many_channels") << i;
  }
  // The first refusal was logged at once, with its channel.
  auto first = node.await_line(test::log_event(std::string{refusal}), 10s);
  ASSERT_TRUE(first) << log_of(node);
  auto first_line = log_line::parse(first->line);
  ASSERT_TRUE(first_line);
  EXPECT_EQ(first_line->field("channel"), "c0") << first->line;
  EXPECT_EQ(first_line->field("suppressed"), "") << first->line;
  // The connection ends: what was held back is said.
  c.close();
  ASSERT_TRUE(node.await_line(test::log_event("session detached"), 10s)) << log_of(node);
  auto t = refusals(node);
  // Two lines unless the flood outlasted a 10 s window.
  EXPECT_LE(t.lines.size(), 3u) << log_of(node);
  EXPECT_EQ(t.events(), static_cast<std::uint64_t>(refused)) << log_of(node);
  ASSERT_FALSE(t.lines.empty());
  const auto& last = t.lines.back();
  EXPECT_GT(suppressed(last), 0u) << log_of(node);
  EXPECT_EQ(last.field("interval"), "10s");
  EXPECT_NE(last.message.find("suppressed in 10s)"), std::string::npos) << last.message;
  EXPECT_EQ(node.terminate(), 0);
}

TEST(LogFlood, TheFirstRefusalAfterTheRepeatIntervalIsLoggedWithTheCountHeldBack) {
  cluster_node node{binary, "solo"};
  node.settings().extra_toml =
      "[limits]\nchannels = 1\nmessages_per_second = 0\n[log]\nrepeat_interval = \"200ms\"\n";
  node.start();
  ASSERT_TRUE(node.await_ready()) << log_of(node);
  test::ws_client c;
  ASSERT_NO_FATAL_FAILURE(say_hello(c, node.http_port()));
  ASSERT_EQ(c.send_text(subscribe("a")), "");
  ASSERT_EQ(answer(c), "subscribed");
  // Refusals one after another until one is logged with a count: the first
  // event after the 200 ms window. Each round trip is awaited; the deadline
  // only bounds a failure.
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + 20s;
  auto with_count = [](const std::string& text) {
    auto l = log_line::parse(text);
    return l && l->message.find(refusal) == 0 && !l->field("channel").empty() && suppressed(*l) > 0;
  };
  std::uint64_t sent = 0;
  while (node.lines(with_count).empty() && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(c.send_text(subscribe("c" + std::to_string(sent++))), "");
    ASSERT_EQ(answer(c), "too_many_channels");
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto hits = node.lines(with_count);
  ASSERT_FALSE(hits.empty()) << sent << " refusals sent; " << log_of(node);
  auto l = log_line::parse(hits.front());
  EXPECT_EQ(l->field("interval"), "200ms") << hits.front();
  EXPECT_NE(l->message.find("suppressed in 200ms)"), std::string::npos) << l->message;
  c.close();
  ASSERT_TRUE(node.await_line(test::log_event("session detached"), 10s)) << log_of(node);
  auto t = refusals(node);
  EXPECT_EQ(t.events(), sent) << log_of(node);
  // At most one line per window, and one for what the end of the connection held.
  EXPECT_LE(t.lines.size(), static_cast<std::size_t>(elapsed / 200ms) + 2) << log_of(node);
  EXPECT_LT(t.lines.size(), sent);
  EXPECT_EQ(node.terminate(), 0);
}

TEST(LogFlood, AFailingUpstreamLogsItsRetriesOncePerRepeatIntervalWithTheCount) {
  // An upstream on a port nobody listens on: the link fails at once and is
  // retried every few milliseconds, without end (max_restarts = 0).
  auto dead = test::free_ports(1).front();
  cluster_node node{binary, "solo"};
  node.settings().extra_toml =
      "[log]\nrepeat_interval = \"300ms\"\n"
      "[policies.upstream]\nbackoff_min = \"5ms\"\n"
      "backoff_max = \"10ms\"\nmax_restarts = 0\n"
      "[[upstream]]\nname = \"feed\"\nurl = \"ws://127.0.0.1:" +
      std::to_string(dead) + "/\"\nchannel = \"feed\"\n";
  auto start = std::chrono::steady_clock::now();  // the link fails from the node's start
  node.start();
  ASSERT_TRUE(node.await_ready()) << log_of(node);
  // The first failure after a window: logged with the count of the retries
  // held back in it.
  auto counted = [](std::string message) {
    return [message](const std::string& text) {
      auto l = log_line::parse(text);
      return l && l->message.find(message) == 0 &&
             l->field("upstream") + l->field("child") == "feed" && suppressed(*l) > 0 &&
             l->field("interval") == "300ms";
    };
  };
  ASSERT_TRUE(node.await_line(counted("upstream down"), 15s)) << log_of(node);
  ASSERT_TRUE(node.await_line(counted("child exited"), 15s)) << log_of(node);
  EXPECT_EQ(node.terminate(), 0);
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto bound = static_cast<std::size_t>(elapsed / 300ms) + 2;
  // Logged as it happened: `upstream down` with its attempt, `child exited`
  // without the restart count that a line saying only the held count has.
  auto downs = count(node, test::log_event("upstream down", {{"upstream", "feed"}}),
                     [](const log_line& l) { return !l.field("attempt").empty(); });
  auto exits = count(node, test::log_event("child exited", {{"child", "feed"}}),
                     [](const log_line& l) { return l.field("restarts").empty(); });
  auto restarts = node.lines(test::log_event("restart", {{"child", "feed"}}));
  EXPECT_LE(downs.lines.size(), bound) << log_of(node);
  EXPECT_LE(exits.lines.size(), bound) << log_of(node);
  EXPECT_LE(restarts.size(), 2 * bound) << log_of(node);  // `restart` and `child restarted`
  // Many more retries than lines, each of them counted.
  EXPECT_GT(downs.events(), 2 * downs.lines.size()) << log_of(node);
  EXPECT_GT(exits.held, 0u);
}

}  // namespace
}  // namespace wsvisor
