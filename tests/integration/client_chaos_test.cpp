// The C++ client against a real node through a proxy that cuts connections
// at random moments: 10 clients publish 1,000 messages each on one channel
// they all subscribe to; every client must receive every message exactly
// once and, per publisher, in order.

#include <mutex>

#include <gtest/gtest.h>
#include <boost/json.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "client/client.hpp"
#include "client/errors.hpp"
#include "tests/integration/chaos_clients.hpp"
#include "tests/integration/node_fixture.hpp"
#include "tools/chaos-proxy/chaos_proxy.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

constexpr int clients = 10;
constexpr int publishes = 1000;

// What one client received, per publisher: the `n` of each message in order.
struct inbox {
  std::mutex mtx;
  std::vector<std::vector<int>> from = std::vector<std::vector<int>>(clients);
  std::uint64_t last_seq = 0;
  bool seq_ok = true;
  std::uint64_t probes = 0;  // warm-up messages, not counted per publisher
};

class ClientChaos : public NodeTest {};

TEST_F(ClientChaos, TenClientsThroughRandomCutsGetEveryMessageOnceInOrder) {
  // Room to replay whatever a client misses while it is cut off.
  cfg_.session.replay_buffer = 100'000;
  cfg_.session.replay_buffer_bytes = 64u << 20;
  start_node();
  chaos::chaos_proxy proxy{port()};

  caf::actor_system_config caf_cfg;
  add_client_types(caf_cfg);
  caf::actor_system sys{caf_cfg};

  std::vector<std::unique_ptr<inbox>> inboxes;
  for (int i = 0; i < clients; ++i) inboxes.push_back(std::make_unique<inbox>());
  auto cs = connect_clients(sys, proxy.port(), clients, "all", [&](int i) {
    return client_callbacks{.on_message = [&box = *inboxes[i]](const client_message& m) {
      auto v = boost::json::parse(m.data).as_object();
      std::lock_guard guard{box.mtx};
      box.seq_ok = box.seq_ok && m.seq == box.last_seq + 1;
      box.last_seq = m.seq;
      if (v.contains("probe"))
        ++box.probes;
      else
        box.from.at(v.at("p").to_number<std::size_t>()).push_back(v.at("n").to_number<int>());
    }};
  });
  auto probes_everywhere = [&] {
    for (auto& box : inboxes) {
      std::lock_guard guard{box->mtx};
      if (box->probes == 0) return false;
    }
    return true;
  };
  ASSERT_TRUE(probe_until_subscribed(*cs[0], "all", probes_everywhere))
      << "not every client got subscribed";

  proxy.cut_randomly(50ms, 300ms, 2026);
  for (int n = 1; n <= publishes; ++n)
    for (int i = 0; i < clients; ++i)
      ASSERT_EQ(
          cs[i]->publish("all", boost::json::serialize(boost::json::object{{"p", i}, {"n", n}})),
          publish_result::queued);

  const std::uint64_t total = static_cast<std::uint64_t>(clients) * publishes;
  for (int i = 0; i < clients; ++i) {
    auto& c = cs[i];
    auto& box = *inboxes[i];
    auto expected = [&box, total] {
      std::lock_guard guard{box.mtx};
      return total + box.probes;
    };
    if (c->wait_for(
            [&](const client_stats& s) {
              return s.messages >= expected() && s.pending_publishes == 0;
            },
            120s))
      continue;
    auto st = c->stats();
    std::string missing;
    {
      std::lock_guard guard{inboxes[i]->mtx};
      for (int p = 0; p < clients; ++p) {
        const auto& got = inboxes[i]->from[p];
        for (std::size_t k = 0; k < got.size(); ++k)
          if (got[k] != static_cast<int>(k) + 1) {
            missing += " p" + std::to_string(p) + "@" + std::to_string(k + 1) + "=" +
                       std::to_string(got[k]);
            break;
          }
        if (got.size() != static_cast<std::size_t>(publishes))
          missing += " p" + std::to_string(p) + ":" + std::to_string(got.size());
      }
    }
    ADD_FAILURE() << "client " << i << " received " << st.messages << " of " << total
                  << ", last_seq " << st.last_seq << ", dups " << st.duplicates << ", resets "
                  << st.resets << ", resumes " << st.resumes << ", pending " << st.pending_publishes
                  << ", live " << st.live << "; first bad:" << missing;
  }
  proxy.stop_cutting();
  EXPECT_GE(proxy.stats().cuts, 3u) << "the proxy must really have cut connections";

  std::uint64_t resumes = 0;
  for (int i = 0; i < clients; ++i) {
    auto st = cs[i]->stats();
    EXPECT_EQ(st.resets, 0u) << "client " << i << " lost its session";
    EXPECT_EQ(st.messages, total + inboxes[i]->probes);
    resumes += st.resumes;
    std::lock_guard guard{inboxes[i]->mtx};
    EXPECT_TRUE(inboxes[i]->seq_ok) << "client " << i << " saw a seq gap or repeat";
    for (int p = 0; p < clients; ++p) {
      const auto& got = inboxes[i]->from[p];
      ASSERT_EQ(got.size(), static_cast<std::size_t>(publishes))
          << "client " << i << " from publisher " << p;
      for (int n = 0; n < publishes; ++n)
        ASSERT_EQ(got[n], n + 1) << "client " << i << " from publisher " << p;
    }
  }
  EXPECT_GE(resumes, 1u);
  RecordProperty("cuts", static_cast<int>(proxy.stats().cuts));
  RecordProperty("resumes", static_cast<int>(resumes));
  cs.clear();
}

}  // namespace
}  // namespace wsvisor::test
