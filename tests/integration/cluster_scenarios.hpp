#pragma once

/// What the cluster scenarios (tests/integration/cluster_*_test.cpp) share:
/// the harness's timing bounds, reading frames, and a check that a stream of
/// numbered messages arrives complete, in order and once.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/cluster_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/cluster_nodes.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json_fields.hpp"
#include "tests/support/prometheus_text.hpp"
#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::test::cluster_scenarios {

using namespace std::chrono_literals;
namespace json = boost::json;
using clock = std::chrono::steady_clock;

// The harness's defaults (node_settings): what the bounds below are made of.
inline constexpr ms peer_timeout{1000};
inline constexpr ms detection_slack{2000};  // scheduling, an ASan build, two busy cores
inline constexpr ms detection_wait{5000};   // how long a test waits for `peer down` at all
inline constexpr ms rejoin_wait{15'000};    // restart (ASan start-up) + backoff up to 1 s

inline std::uint64_t num(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_number()) return ~std::uint64_t{0};
  return v->to_number<std::uint64_t>();
}

inline bool is_true(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

// `home.<32 hex digits>`: a session homed on node `home`.
inline bool homed_on(const std::string& session, const std::string& home) {
  if (session.size() != home.size() + 1 + 32 ||
      session.compare(0, home.size() + 1, home + ".") != 0)
    return false;
  for (auto c : session.substr(home.size() + 1))
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

inline json::object numbered(const std::string& publisher, std::int64_t n) {
  return {{"p", publisher}, {"n", n}};
}

inline std::string ms_text(clock::duration d) {
  return std::to_string(std::chrono::duration_cast<ms>(d).count()) + " ms";
}

// b's only link to a goes through `proxy` (made on a's middleman port): a
// knows no address of b's, so every link between them crosses the proxy.
inline void link_through(chaos::chaos_proxy& proxy, cluster_node& a, cluster_node& b) {
  a.settings().peers.clear();
  b.settings().peers = {"127.0.0.1:" + std::to_string(proxy.port())};
}

// Receives `count` message frames (anything else fails the test), in order.
inline std::vector<json::object> take_messages(wire_client& c, std::size_t count,
                                               ms timeout = 10s) {
  std::vector<json::object> out;
  auto deadline = clock::now() + timeout;
  while (out.size() < count) {
    auto left = std::chrono::duration_cast<ms>(deadline - clock::now());
    if (left <= ms{0}) break;
    auto f = c.next(left);
    if (!f) break;
    if (str(*f, "type") != "message") {
      ADD_FAILURE() << "expected a message, got " << json::serialize(*f);
      continue;
    }
    out.push_back(std::move(*f));
  }
  EXPECT_EQ(out.size(), count) << "messages received before the deadline";
  return out;
}

// Nothing more arrives within `quiet`: no late duplicate.
inline void expect_quiet(wire_client& c, const std::string& who, ms quiet = 150ms) {
  auto f = c.next(quiet);
  EXPECT_FALSE(f) << who << " received more than expected: " << json::serialize(*f);
}

// Publishes `numbers` in a pipeline (all sent, then every ack awaited).
inline void publish_numbered(wire_client& pub, const std::string& name, const std::string& channel,
                             std::int64_t first, std::int64_t last, std::uint64_t& cseq) {
  auto first_cseq = cseq + 1;
  for (auto n = first; n <= last; ++n)
    pub.send(
        {{"type", "publish"}, {"channel", channel}, {"data", numbered(name, n)}, {"cseq", ++cseq}});
  for (auto c = first_cseq; c <= cseq; ++c) {
    auto ack = pub.expect("ack");
    EXPECT_EQ(num(ack, "cseq"), c) << json::serialize(ack);
  }
}

// One subscriber's view of a channel fed by numbered publishers: seq +1 each
// from `first_seq`, and per publisher n +1 each.
struct stream_check {
  std::string who;
  std::uint64_t next_seq = 1;
  std::map<std::string, std::int64_t> last_n;
  std::map<std::string, std::size_t> count;

  void feed(const json::object& m) {
    EXPECT_EQ(num(m, "seq"), next_seq) << who << ": " << json::serialize(m);
    next_seq = num(m, "seq") + 1;
    const auto* data = m.if_contains("data");
    if (!data || !data->is_object()) {
      ADD_FAILURE() << who << ": message without object data: " << json::serialize(m);
      return;
    }
    auto p = str(data->as_object(), "p");
    auto n = data->as_object().at("n").to_number<std::int64_t>();
    auto& last = last_n[p];
    EXPECT_EQ(n, last + 1) << who << ": publisher " << p << " out of order or duplicated";
    last = n;
    ++count[p];
  }
};

// ---------------------------------------------------------------------------

}  // namespace wsvisor::test::cluster_scenarios
