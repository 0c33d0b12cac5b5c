#include "tests/integration/wire_client.hpp"

#include <gtest/gtest.h>

namespace wsvisor::test {

namespace json = boost::json;

wire_client::wire_client(std::uint16_t port) {
  auto hs = ws_.connect(port, "/ws", {"wsvisor.v1"});
  if (!hs.ok) ADD_FAILURE() << "upgrade refused: " << hs.status << " " << hs.error;
}

void wire_client::send(const json::object& frame) {
  auto err = ws_.send_text(json::serialize(frame));
  if (!err.empty()) ADD_FAILURE() << "send failed: " << err;
}

std::optional<json::object> wire_client::next(ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) left = ms{1};
    last_ = ws_.receive(left);
    if (last_.type != ws_event::kind::text) return std::nullopt;
    json::error_code ec;
    auto v = json::parse(last_.text, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "server sent a frame that is not a JSON object: " << last_.text;
      return std::nullopt;
    }
    auto obj = v.as_object();
    if (obj["type"] == "ping") {
      if (answer_pings) send({{"type", "pong"}});
      continue;
    }
    return obj;
  }
}

json::object wire_client::expect(std::string_view type, ms timeout) {
  auto f = next(timeout);
  if (!f) {
    ADD_FAILURE() << "expected `" << type << "`, got "
                  << (last_.type == ws_event::kind::closed
                          ? "close " + std::to_string(last_.close_code)
                      : last_.type == ws_event::kind::timeout ? "nothing (timeout)"
                                                              : last_.text);
    return {};
  }
  const auto& t = (*f)["type"];
  if (!t.is_string() || t.as_string() != type) {
    ADD_FAILURE() << "expected `" << type << "`, got " << json::serialize(*f);
    return {};
  }
  return *f;
}

std::uint16_t wire_client::await_close(ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto f = next(std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now()));
    if (!f && last_.type == ws_event::kind::closed) return last_.close_code;
    if (!f && last_.type != ws_event::kind::timeout) return 0;
  }
  return 0;
}

json::object wire_client::hello() {
  send({{"type", "hello"}});
  return expect("welcome");
}

json::object wire_client::resume(const std::string& session, const std::string& token,
                                 std::uint64_t last_seq) {
  send({{"type", "resume"}, {"session", session}, {"token", token}, {"last_seq", last_seq}});
  return expect("welcome");
}

void wire_client::subscribe(const std::string& channel) {
  send({{"type", "subscribe"}, {"channel", channel}});
  auto f = expect("subscribed");
  EXPECT_EQ(f["channel"], channel.c_str());
}

void wire_client::publish(const std::string& channel, const json::value& data, std::uint64_t cseq) {
  send({{"type", "publish"}, {"channel", channel}, {"data", data}, {"cseq", cseq}});
  auto f = expect("ack");
  EXPECT_EQ(f["cseq"].to_number<std::uint64_t>(), cseq);
}

}  // namespace wsvisor::test
