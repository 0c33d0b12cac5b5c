#pragma once

/// Shared by the hostile-input suites (hostile_http_test, hostile_ws_test):
/// a real node, a well-behaved client connected before the hostile act, and
/// the check every test ends with: that client and a new one are still
/// served end to end (hello → subscribe → publish → message).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/node_fixture.hpp"
#include "tests/integration/wire_client.hpp"
#include "tests/support/json_fields.hpp"
#include "tests/support/raw_ws.hpp"

namespace wsvisor::test::hostile {

using namespace std::chrono_literals;
namespace json = boost::json;
using ms = std::chrono::milliseconds;

/// A client that behaves: hello (with `auth` when given; after a `goaway`
/// it waits the `retry_ms` it was told and tries again), then subscribe to `chat`.
struct good_client {
  good_client(std::uint16_t port, const std::string& auth) {
    json::object hello{{"type", "hello"}};
    if (!auth.empty()) hello["auth"] = auth;
    for (int attempt = 0; attempt < 5; ++attempt) {
      conn = std::make_unique<wire_client>(port);
      conn->send(hello);
      auto f = conn->next();
      if (f && str(*f, "type") == "goaway" && str(*f, "reason") == "overload") {
        std::this_thread::sleep_for(ms{f->at("retry_ms").to_number<std::int64_t>()});
        continue;
      }
      if (!f || str(*f, "type") != "welcome") {
        ADD_FAILURE() << "no welcome: " << (f ? json::serialize(*f) : "nothing");
        return;
      }
      welcome = *f;
      conn->subscribe("chat");
      return;
    }
    ADD_FAILURE() << "refused five times in a row";
  }
  wire_client& c() { return *conn; }

  std::unique_ptr<wire_client> conn;
  json::object welcome;
  std::uint64_t cseq = 0;  // of its last publish
  std::uint64_t seq = 0;   // of the last message it received
};

/// A raw client speaking wsvisor.v1 in frames it builds itself.
struct raw_client {
  raw_ws ws;
  std::uint16_t close_code = 0;  // once the server's close frame (or the end) arrived

  bool upgrade(std::uint16_t port, std::string_view source = "127.0.0.1") {
    return ws.upgrade(port, source);
  }
  bool send(std::string_view text) { return ws.write(ws_frame(op::text, text)); }
  bool send(const json::object& frame) { return send(json::serialize(frame)); }

  /// The next text frame as JSON; nullopt at the close (see close_code) or the deadline.
  std::optional<json::object> next(ms timeout = 5s) {
    while (auto f = ws.read_frame(timeout)) {
      if (f->opcode == op::close) {
        close_code = f->close_code();
        return std::nullopt;
      }
      if (f->opcode != op::text) continue;
      json::error_code ec;
      auto v = json::parse(f->payload, ec);
      if (ec || !v.is_object()) {
        ADD_FAILURE() << "not a JSON object: " << f->payload;
        return std::nullopt;
      }
      return v.as_object();
    }
    if (ws.ended() && close_code == 0) close_code = 1006;
    return std::nullopt;
  }

  /// The `code` of the next frame, which must be an `error` ("" otherwise).
  std::string next_error(ms timeout = 5s) {
    auto f = next(timeout);
    if (!f || str(*f, "type") != "error") return f ? json::serialize(*f) : "(none)";
    return str(*f, "code");
  }

  /// The close code: 1006 when TCP ended without a close frame, 0 on timeout.
  std::uint16_t await_close(ms timeout = 5s) {
    if (close_code == 0) close_code = ws.await_close(timeout);
    return close_code;
  }

  /// hello → welcome (nullopt, with the frame that came instead in `got`, otherwise).
  std::optional<json::object> hello(std::string* got = nullptr) {
    send(R"({"type":"hello"})");
    auto f = next();
    if (f && str(*f, "type") == "welcome") return f;
    if (got) *got = f ? json::serialize(*f) : "close " + std::to_string(close_code);
    return std::nullopt;
  }
};

class Hostile : public NodeTest {
 protected:
  /// Starts the node and connects the well-behaved client.
  void start() {
    start_node();
    before_ = std::make_unique<good_client>(port(), good_auth_);
  }

  /// The client connected before, and a new one, are served end to end:
  /// each publishes on `chat` and both receive both messages.
  void expect_still_served() {
    SCOPED_TRACE("a well-behaved client is still served");
    ASSERT_TRUE(before_);
    good_client after{port(), good_auth_};
    ASSERT_NO_FATAL_FAILURE(publish(after, "from a new client", {&after, before_.get()}));
    ASSERT_NO_FATAL_FAILURE(
        publish(*before_, "from the client connected before", {&after, before_.get()}));
  }

  /// Publishes `text` on `chat` from `from`; it gets its ack, and every one of
  /// `subscribers` the message, with the next seq.
  static void publish(good_client& from, const std::string& text,
                      std::initializer_list<good_client*> subscribers) {
    from.c().send(
        {{"type", "publish"}, {"channel", "chat"}, {"data", text}, {"cseq", ++from.cseq}});
    for (auto* to : subscribers) {
      // The publisher gets its ack and its own message, in either order.
      bool want_ack = to == &from;
      bool got_message = false;
      while (!got_message || want_ack) {
        auto f = to->c().next();
        ASSERT_TRUE(f) << "nothing came for `" << text << "`";
        auto type = str(*f, "type");
        if (type == "ack" && want_ack) {
          EXPECT_EQ(f->at("cseq").to_number<std::uint64_t>(), from.cseq);
          want_ack = false;
        } else if (type == "message") {
          EXPECT_EQ(f->at("seq").to_number<std::uint64_t>(), ++to->seq) << json::serialize(*f);
          EXPECT_EQ(str(*f, "channel"), "chat");
          EXPECT_EQ(str(*f, "data"), text);
          got_message = true;
        } else {
          FAIL() << "unexpected frame " << json::serialize(*f);
        }
      }
    }
  }

  std::string good_auth_;  // the JWT well-behaved clients send, when [auth] is on
  std::unique_ptr<good_client> before_;
};

}  // namespace wsvisor::test::hostile
