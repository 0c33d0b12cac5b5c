#pragma once

/// Helpers for tests that run C++ clients through the chaos proxy
/// (tools/chaos-proxy), which keeps cutting their connections.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "client/client.hpp"

namespace wsvisor::test {

/// Reconnects quickly (5–50 ms, full jitter) and never gives up: the proxy
/// keeps cutting, and every cut must be ridden out.
inline policy relentless_reconnect() {
  using namespace std::chrono_literals;
  policy p;
  p.backoff_min = 5ms;
  p.backoff_max = 50ms;
  p.jitter = jitter_kind::full;
  p.reset_after = 100ms;
  p.max_restarts = 0;
  p.on_give_up = give_up_action::stop;
  return p;
}

/// `n` clients of `sys` (configured with add_client_types) connecting to
/// ws://127.0.0.1:`port`/ws with relentless reconnects, client i seeded
/// i + 1 and given `callbacks_for(i)`, each subscribed to `channel`.
inline std::vector<std::unique_ptr<client>> connect_clients(
    caf::actor_system& sys, std::uint16_t port, int n, const std::string& channel,
    const std::function<client_callbacks(int)>& callbacks_for) {
  std::vector<std::unique_ptr<client>> out;
  for (int i = 0; i < n; ++i) {
    client_options opts{.url = "ws://127.0.0.1:" + std::to_string(port) + "/ws",
                        .reconnect = relentless_reconnect(),
                        .seed = static_cast<std::uint64_t>(i + 1)};
    out.push_back(std::make_unique<client>(sys, opts, callbacks_for(i)));
    EXPECT_TRUE(out.back()->subscribe(channel)) << "client " << i;
  }
  return out;
}

/// A subscription is not retroactive, so traffic may start only once every
/// subscriber demonstrably receives on the channel: publishes
/// `{"probe":true}` from `publisher` on `channel` until `everyone_got_one()`
/// holds, at most 100 rounds of 200 ms. False if it never held.
inline bool probe_until_subscribed(client& publisher, const std::string& channel,
                                   const std::function<bool()>& everyone_got_one) {
  using namespace std::chrono_literals;
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (everyone_got_one()) return true;
    if (publisher.publish(channel, R"({"probe":true})") != publish_result::queued) return false;
    publisher.wait_for([&](const client_stats&) { return everyone_got_one(); }, 200ms);
  }
  return everyone_got_one();
}

}  // namespace wsvisor::test
