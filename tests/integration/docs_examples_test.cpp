// Examples in docs/ replayed against a real node on the built-in defaults, so
// that they cannot drift from the code: docs/protocol.md's transcript (every
// frame the server sends, byte for byte, up to the random session ids and
// tokens) and docs/api.md's GET /api/supervision answer (every field in its
// place; values that depend on the moment are checked for their kind only).

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "tests/integration/node_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/ws_client.hpp"

namespace wsvisor::test {
namespace {

namespace json = boost::json;
using kind = ws_event::kind;

std::string read_doc(const std::string& relative) {
  std::ifstream in{std::string{WSVISOR_SOURCE_DIR} + "/" + relative};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The lines of the first block fenced with `fence` (such as "```text") after
// the line `heading`.
std::vector<std::string> block_after(const std::string& doc, std::string_view heading,
                                     std::string_view fence) {
  std::istringstream in{doc};
  std::vector<std::string> lines;
  enum { seeking_heading, seeking_fence, inside } at = seeking_heading;
  for (std::string line; std::getline(in, line);) {
    if (at == seeking_heading && line == heading)
      at = seeking_fence;
    else if (at == seeking_fence && line == fence)
      at = inside;
    else if (at == inside && line == "```")
      return lines;
    else if (at == inside)
      lines.push_back(line);
  }
  ADD_FAILURE() << "no " << fence << " block after " << heading;
  return {};
}

std::string replaced(std::string text, const std::map<std::string, std::string>& with) {
  for (const auto& [from, to] : with)
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  return text;
}

class DocsExamples : public NodeTest {};

TEST_F(DocsExamples, TheProtocolTranscriptIsWhatANodeSays) {
  start_node();
  auto lines = block_after(read_doc("docs/protocol.md"), "## Transcript", "```text");
  ASSERT_GT(lines.size(), 10u);
  std::map<char, std::unique_ptr<ws_client>> clients;
  auto client = [&](char who) -> ws_client& {
    auto& c = clients[who];
    if (!c) {
      c = std::make_unique<ws_client>();
      EXPECT_TRUE(c->connect(port(), "/ws", {"wsvisor.v1"}).ok);
    }
    return *c;
  };
  std::map<std::string, std::string> this_run;  // the doc's session ids and tokens -> ours
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    auto step = std::string_view{line}.substr(line.find_first_not_of(' '));
    if (step.starts_with("(")) {
      char who = step[1];
      if (step.find("connection drops: TCP reset") != std::string_view::npos)
        client(who).drop(true);
      else if (step.find("reconnects") != std::string_view::npos)
        clients[who].reset(), client(who);
      else
        FAIL() << "a step this test does not know";
      continue;
    }
    ASSERT_GE(step.size(), 6u);
    char who = step[0];
    auto arrow = step.substr(2, 2);
    auto frame = std::string{step.substr(5)};
    if (arrow == "->") {
      ASSERT_EQ(client(who).send_text(replaced(frame, this_run)), "");
      continue;
    }
    ASSERT_EQ(arrow, "<-");
    auto got = client(who).receive();
    if (frame.starts_with("close ")) {
      ASSERT_EQ(got.type, kind::closed) << got.text;
      EXPECT_EQ("close " + std::to_string(got.close_code) + " " + got.text, frame);
      continue;
    }
    ASSERT_EQ(got.type, kind::text) << got.text;
    auto doc_frame = json::parse(frame).as_object();
    auto our_frame = json::parse(got.text).as_object();
    for (const char* random : {"session", "token"}) {
      if (!doc_frame.contains(random) || !our_frame.contains(random)) continue;
      auto doc_value = std::string{doc_frame.at(random).as_string()};
      auto our_value = std::string{our_frame.at(random).as_string()};
      auto [known, fresh] = this_run.emplace(doc_value, our_value);
      EXPECT_EQ(known->second, our_value) << random << " changed";
    }
    EXPECT_EQ(got.text, replaced(frame, this_run));
  }
}

// `ours` has the fields of `doc`, in the same order, with the same values;
// where `doc` shows a value of the moment (a count, a time, an error's
// detail elided with "…") only its kind, or the text around the "…", must
// match.
void expect_like(const json::value& doc, const json::value& ours, const std::string& where) {
  static const std::set<std::string_view> of_the_moment{"restarts", "restart_at_ms",
                                                        "restart_in_ms"};
  if (doc.is_object()) {
    ASSERT_TRUE(ours.is_object()) << where << ": " << json::serialize(ours);
    const auto& d = doc.as_object();
    const auto& o = ours.as_object();
    std::vector<std::string> doc_keys, our_keys;
    for (const auto& kv : d) doc_keys.emplace_back(kv.key());
    for (const auto& kv : o) our_keys.emplace_back(kv.key());
    ASSERT_EQ(our_keys, doc_keys) << where;
    for (const auto& kv : d) {
      auto at = where + "." + std::string{kv.key()};
      if (of_the_moment.contains(kv.key())) {
        EXPECT_EQ(o.at(kv.key()).kind(), kv.value().kind()) << at;
        continue;
      }
      expect_like(kv.value(), o.at(kv.key()), at);
    }
  } else if (doc.is_array()) {
    ASSERT_TRUE(ours.is_array()) << where;
    ASSERT_EQ(ours.as_array().size(), doc.as_array().size())
        << where << ": " << json::serialize(ours);
    for (std::size_t i = 0; i < doc.as_array().size(); ++i)
      expect_like(doc.as_array()[i], ours.as_array()[i], where + "[" + std::to_string(i) + "]");
  } else if (auto text = doc.is_string() ? std::string_view{doc.as_string()} : "";
             text.find("…") != std::string_view::npos) {
    // "…" stands for what the moment says (an error's detail).
    ASSERT_TRUE(ours.is_string()) << where;
    auto cut = text.find("…");
    auto before = text.substr(0, cut), after = text.substr(cut + std::string_view{"…"}.size());
    auto our_text = std::string_view{ours.as_string()};
    EXPECT_TRUE(our_text.size() >= before.size() + after.size() && our_text.starts_with(before) &&
                our_text.ends_with(after))
        << where << ": " << our_text;
  } else {
    EXPECT_EQ(json::serialize(ours), json::serialize(doc)) << where;
  }
}

TEST_F(DocsExamples, TheSupervisionTreeIsWhatANodeAnswers) {
  // The doc's node: one upstream, "ticker", whose host refuses connections.
  cfg_.upstreams.push_back(
      upstream_config{.name = "ticker", .url = "ws://127.0.0.1:1/feed", .channel = "ticker"});
  start_node();
  auto lines = block_after(read_doc("docs/api.md"), "### `GET /api/supervision`", "```json");
  std::string doc_text;
  for (const auto& line : lines) doc_text += line + "\n";
  auto doc = json::parse(doc_text);
  json::value ours;
  // The link is refused at once, and then again after each backoff: await
  // the answer that shows a restart pending, as the doc's does.
  ASSERT_TRUE(eventually([&] {
    auto r = http_send(port(), http_call{.target = "/api/supervision"});
    if (r.status != 200) return false;
    ours = json::parse(r.body);
    return json::serialize(ours).find(R"("name":"ticker","state":"restarting")") !=
           std::string::npos;
  })) << json::serialize(ours);
  expect_like(doc, ours, "answer");
}

}  // namespace
}  // namespace wsvisor::test
