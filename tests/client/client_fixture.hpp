#pragma once

/// Shared set-up of the client suites: an actor system configured for the
/// client, fast deterministic reconnect policies, and small helpers.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "client/client.hpp"
#include "client/errors.hpp"
#include "tests/client/fake_server.hpp"
#include "tests/client/recorder.hpp"

namespace wsvisor::test {

using namespace std::chrono_literals;

/// Generous: awaiting is not timing. A passing test never waits this long.
constexpr std::chrono::milliseconds await_timeout = client_recorder::default_timeout;

struct system_holder {
  system_holder() : sys(init(cfg)) {}
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    add_client_types(c);
    return c;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys;
};

/// Exact delays (jitter none), no give-up: what most tests want.
inline policy fast_policy(std::chrono::milliseconds min = 10ms,
                          std::chrono::milliseconds max = 80ms) {
  policy p;
  p.backoff_min = min;
  p.backoff_max = max;
  p.backoff_multiplier = 2.0;
  p.jitter = jitter_kind::none;
  p.reset_after = 60s;
  p.max_restarts = 0;
  p.restart_window = 60s;
  p.on_give_up = give_up_action::stop;
  return p;
}

inline client_options options_for(std::string url) {
  client_options o;
  o.url = std::move(url);
  o.reconnect = fast_policy();
  o.seed = 42;
  return o;
}

inline std::string proxied_url(std::uint16_t port) {
  return "ws://127.0.0.1:" + std::to_string(port) + "/ws";
}

inline std::uint64_t num(const received_frame& f, const char* key) {
  return f.body.at(key).to_number<std::uint64_t>();
}

inline std::string str(const received_frame& f, const char* key) {
  return std::string{f.body.at(key).as_string()};
}

/// Frames of `type` received on connection `conn` (0: any), in order.
inline std::vector<received_frame> frames_of(const fake_server& srv, const std::string& type,
                                             std::size_t conn = 0) {
  std::vector<received_frame> out;
  for (auto& f : srv.frames())
    if (f.type == type && (conn == 0 || f.conn == conn)) out.push_back(f);
  return out;
}

inline auto type_is(std::string type) {
  return [type](const received_frame& f) { return f.type == type; };
}

inline std::chrono::milliseconds ms_between(std::chrono::steady_clock::time_point a,
                                            std::chrono::steady_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
}

/// A port on which nothing listens: connecting is refused at once.
inline std::uint16_t closed_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a{
      ioc, boost::asio::ip::tcp::endpoint{boost::asio::ip::make_address("127.0.0.1"), 0}};
  return a.local_endpoint().port();  // closed again when `a` goes
}

}  // namespace wsvisor::test
