// The chaos proxy over real sockets: the test owns both ends, the client
// connected to the proxy and the connection the target accepted for it, and
// observes each fault from them. Times are asserted as lower bounds only.

#include "tools/chaos-proxy/chaos_proxy.hpp"

#include <array>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace wsvisor::chaos {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto await_timeout = 20s;
constexpr auto c2s = direction::client_to_server;
constexpr auto s2c = direction::server_to_client;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng{seed};
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

struct outcome {
  error_code ec = asio::error::timed_out;  // until the operation completes
  std::string bytes;
};

class ChaosProxy : public ::testing::Test {
 protected:
  // One proxied connection, both ends held by the test.
  struct link {
    tcp::socket client;
    tcp::socket server;
  };

  link connect() {
    link l{tcp::socket{ioc_}, tcp::socket{ioc_}};
    l.client.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), proxy_.port()});
    error_code accepted = asio::error::timed_out;
    target_.async_accept(l.server, [&](error_code ec) { accepted = ec; });
    run();
    EXPECT_FALSE(accepted) << "the target did not see the proxied connection: "
                           << accepted.message();
    return l;
  }

  // Runs the test's I/O until every started operation is done (bounded).
  void run() {
    ioc_.restart();
    ioc_.run_for(await_timeout);
  }

  // Starts reading exactly `n` bytes into `out`.
  void start_read(tcp::socket& s, std::size_t n, outcome& out) {
    out.bytes.assign(n, '\0');
    asio::async_read(s, asio::buffer(out.bytes), [&out](error_code ec, std::size_t got) {
      out.ec = ec;
      out.bytes.resize(got);
    });
  }

  outcome read(tcp::socket& s, std::size_t n) {
    outcome out;
    start_read(s, n, out);
    run();
    return out;
  }

  // Reads until the connection ends; the bytes before the end and how it ended.
  outcome read_to_end(tcp::socket& s) {
    outcome out;
    out.bytes.clear();
    auto chunk = std::make_shared<std::array<char, 4096>>();
    std::function<void()> more = [&] {
      s.async_read_some(asio::buffer(*chunk), [&, chunk](error_code ec, std::size_t n) {
        out.bytes.append(chunk->data(), n);
        if (ec) {
          out.ec = ec;
          return;
        }
        more();
      });
    };
    more();
    run();
    return out;
  }

  void write(tcp::socket& s, const std::string& bytes) { asio::write(s, asio::buffer(bytes)); }

  asio::io_context ioc_;
  tcp::acceptor target_{ioc_, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  chaos_proxy proxy_{target_.local_endpoint().port()};
};

TEST_F(ChaosProxy, ForwardsBytesUnchangedBothWaysAtOnce) {
  auto l = connect();
  auto up = random_bytes(1u << 20, 1);
  auto down = random_bytes(1u << 20, 2);
  outcome got_up, got_down;
  start_read(l.server, up.size(), got_up);
  start_read(l.client, down.size(), got_down);
  error_code wrote_up = asio::error::timed_out, wrote_down = asio::error::timed_out;
  asio::async_write(l.client, asio::buffer(up), [&](error_code ec, std::size_t) { wrote_up = ec; });
  asio::async_write(l.server, asio::buffer(down),
                    [&](error_code ec, std::size_t) { wrote_down = ec; });
  run();
  EXPECT_FALSE(wrote_up || wrote_down);
  ASSERT_FALSE(got_up.ec) << got_up.ec.message();
  ASSERT_FALSE(got_down.ec) << got_down.ec.message();
  EXPECT_TRUE(got_up.bytes == up) << "client to server bytes changed";
  EXPECT_TRUE(got_down.bytes == down) << "server to client bytes changed";
  // The proxy counts a write once it completes, which may be after the peer read it.
  EXPECT_TRUE(proxy_.wait_for(
      [&](const proxy_stats& s) {
        return s.c2s.forwarded == up.size() && s.s2c.forwarded == down.size();
      },
      await_timeout));
  auto s = proxy_.stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.active, 1u);
  EXPECT_EQ(s.cuts, 0u);
  EXPECT_EQ(s.c2s.received, up.size());
  EXPECT_EQ(s.s2c.received, down.size());
}

TEST_F(ChaosProxy, CutAllResetsBothSides) {
  auto a = connect();
  auto b = connect();
  EXPECT_EQ(proxy_.cut_all(), 2u);
  for (auto* l : {&a, &b}) {
    EXPECT_EQ(read(l->client, 1).ec, asio::error::connection_reset);
    EXPECT_EQ(read(l->server, 1).ec, asio::error::connection_reset);
  }
  auto s = proxy_.stats();
  EXPECT_EQ(s.cuts, 2u);
  EXPECT_EQ(s.active, 0u);
}

TEST_F(ChaosProxy, PassesAnOrderlyCloseOnAsOne) {
  auto l = connect();
  write(l.client, "bye");
  EXPECT_EQ(read(l.server, 3).bytes, "bye");
  l.client.shutdown(tcp::socket::shutdown_send);
  EXPECT_EQ(read(l.server, 1).ec, asio::error::eof);
  write(l.server, "last");  // the other direction still flows
  EXPECT_EQ(read(l.client, 4).bytes, "last");
  l.server.shutdown(tcp::socket::shutdown_send);
  EXPECT_EQ(read(l.client, 1).ec, asio::error::eof);
  EXPECT_TRUE(proxy_.wait_for([](const proxy_stats& s) { return s.active == 0; }, await_timeout));
  EXPECT_EQ(proxy_.stats().cuts, 0u);
}

TEST_F(ChaosProxy, PassesAResetOnAsOne) {
  auto l = connect();
  l.client.set_option(asio::socket_base::linger(true, 0));
  l.client.close();
  EXPECT_EQ(read(l.server, 1).ec, asio::error::connection_reset);
  EXPECT_EQ(proxy_.stats().cuts, 0u) << "the peer's reset is not the proxy's cut";
}

TEST_F(ChaosProxy, CutsRandomlyOnASeededSchedule) {
  std::vector<link> links;
  for (int i = 0; i < 3; ++i) links.push_back(connect());
  proxy_.cut_randomly(5ms, 15ms, 1234);
  for (auto& l : links) EXPECT_EQ(read(l.client, 1).ec, asio::error::connection_reset);
  proxy_.stop_cutting();
  EXPECT_EQ(proxy_.stats().cuts, 3u);
  EXPECT_EQ(proxy_.stats().active, 0u);
}

TEST_F(ChaosProxy, TheSameSeedCutsTheSameConnectionsInTheSameOrder) {
  // The order in which the clients see their resets; cuts are >= 20 ms apart.
  auto cut_order = [&](std::uint64_t seed) {
    std::vector<link> links;
    for (int i = 0; i < 4; ++i) links.push_back(connect());
    std::vector<int> order;
    std::array<char, 1> buf{};
    for (int i = 0; i < 4; ++i)
      links[i].client.async_read_some(asio::buffer(buf),
                                      [&order, i](error_code, std::size_t) { order.push_back(i); });
    proxy_.cut_randomly(20ms, 40ms, seed);
    run();
    proxy_.stop_cutting();
    return order;
  };
  auto first = cut_order(99);
  auto second = cut_order(99);
  EXPECT_EQ(first.size(), 4u);
  EXPECT_EQ(first, second);
}

TEST_F(ChaosProxy, CutsEveryConnectionAtTheScheduledMoments) {
  auto a = connect();
  auto b = connect();
  auto t0 = clock::now();
  proxy_.cut_at({100ms});
  EXPECT_EQ(read(a.client, 1).ec, asio::error::connection_reset);
  EXPECT_EQ(read(b.server, 1).ec, asio::error::connection_reset);
  EXPECT_GE(clock::now() - t0, 100ms);
  EXPECT_EQ(proxy_.stats().cuts, 2u);
}

TEST_F(ChaosProxy, CutsAConnectionAfterTheConfiguredBytes) {
  proxy_.cut_after_bytes(10);
  auto l = connect();
  write(l.client, "abcdef");
  EXPECT_EQ(read(l.server, 6).bytes, "abcdef");
  write(l.server, "0123456789");  // 4 of these reach the limit, mid-chunk
  auto got = read_to_end(l.client);
  EXPECT_EQ(got.bytes, "0123");
  EXPECT_EQ(got.ec, asio::error::connection_reset);
  EXPECT_EQ(read(l.server, 1).ec, asio::error::connection_reset);
  EXPECT_EQ(proxy_.stats().cuts, 1u);
  proxy_.cut_after_bytes(std::nullopt);
  auto next = connect();
  write(next.client, "abcdefghijkl");
  EXPECT_EQ(read(next.server, 12).bytes, "abcdefghijkl");
}

TEST_F(ChaosProxy, DelaysEachDirectionByAtLeastTheConfiguredLatency) {
  auto l = connect();
  proxy_.set_delay(c2s, 200ms);
  auto t0 = clock::now();
  write(l.client, "up");
  EXPECT_EQ(read(l.server, 2).bytes, "up");
  EXPECT_GE(clock::now() - t0, 200ms);

  proxy_.set_delay(c2s, 0ms);
  proxy_.set_delay(s2c, 150ms);
  t0 = clock::now();
  write(l.server, "down");
  EXPECT_EQ(read(l.client, 4).bytes, "down");
  EXPECT_GE(clock::now() - t0, 150ms);
}

TEST_F(ChaosProxy, ThrottlesEachDirectionToTheConfiguredRate) {
  auto l = connect();
  constexpr std::uint64_t rate = 20'000;  // bytes per second
  constexpr std::size_t n = 20'000;
  // The first slice (a twentieth of the rate) goes at once; the rest waits
  // its turn, so n bytes take at least (n - slice) / rate.
  constexpr auto at_least = std::chrono::milliseconds{(n - rate / 20) * 1000 / rate};
  for (auto [d, from, to] :
       {std::tuple{c2s, &l.client, &l.server}, std::tuple{s2c, &l.server, &l.client}}) {
    proxy_.set_throttle(d, rate);
    auto data = random_bytes(n, 3);
    auto t0 = clock::now();
    write(*from, data);
    auto got = read(*to, n);
    EXPECT_GE(clock::now() - t0, at_least) << to_string(d);
    EXPECT_TRUE(got.bytes == data) << to_string(d);
    proxy_.set_throttle(d, 0);
  }
}

TEST_F(ChaosProxy, StallStopsOneDirectionOnlyUntilUnstalled) {
  auto l = connect();
  proxy_.set_stalled(c2s, true);
  write(l.client, "held");
  // Once the proxy has read the bytes, only the stall keeps them from the server.
  ASSERT_TRUE(
      proxy_.wait_for([](const proxy_stats& s) { return s.c2s.received == 4; }, await_timeout));
  write(l.server, "flows");
  EXPECT_EQ(read(l.client, 5).bytes, "flows");
  EXPECT_EQ(l.server.available(), 0u);
  EXPECT_EQ(proxy_.stats().c2s.forwarded, 0u);
  EXPECT_EQ(proxy_.stats().active, 1u) << "a stall closes nothing";

  proxy_.set_stalled(c2s, false);
  EXPECT_EQ(read(l.server, 4).bytes, "held");
  write(l.client, "again");
  EXPECT_EQ(read(l.server, 5).bytes, "again");
  EXPECT_EQ(proxy_.stats().cuts, 0u);
}

TEST_F(ChaosProxy, TruncateDeliversAPrefixOfTheNextChunkThenResets) {
  auto l = connect();
  proxy_.truncate_next({.dir = s2c, .keep = 4});
  write(l.server, "0123456789");
  auto got = read_to_end(l.client);
  EXPECT_EQ(got.bytes, "0123");
  EXPECT_EQ(got.ec, asio::error::connection_reset);
  EXPECT_EQ(read(l.server, 1).ec, asio::error::connection_reset);
  auto s = proxy_.stats();
  EXPECT_EQ(s.cuts, 1u);
  EXPECT_EQ(s.truncations, 1u);

  // One-shot: the next connection is left alone.
  auto next = connect();
  write(next.server, "0123456789");
  EXPECT_EQ(read(next.client, 10).bytes, "0123456789");
}

TEST_F(ChaosProxy, RandomCutsCanTruncateInstead) {
  auto l = connect();
  proxy_.cut_randomly(10ms, 20ms, 5, truncation{.dir = c2s, .keep = 2});
  // Messages go through whole until the truncation is armed; then one
  // arrives cut short and the connection is reset.
  outcome got;
  for (int i = 0; i < 10'000; ++i) {
    write(l.client, "abcdef");
    got = read(l.server, 6);
    if (got.ec) break;
    ASSERT_EQ(got.bytes, "abcdef");
  }
  proxy_.stop_cutting();
  EXPECT_EQ(got.ec, asio::error::connection_reset);
  EXPECT_EQ(got.bytes, "ab");
  EXPECT_EQ(proxy_.stats().truncations, 1u);
}

TEST_F(ChaosProxy, RefusingResetsNewConnections) {
  proxy_.set_refusing(true);
  tcp::socket c{ioc_};
  c.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), proxy_.port()});
  EXPECT_EQ(read(c, 1).ec, asio::error::connection_reset);
  EXPECT_EQ(proxy_.stats().accepted, 1u);
  EXPECT_EQ(proxy_.stats().cuts, 1u);
  proxy_.set_refusing(false);
  auto l = connect();
  write(l.client, "ok");
  EXPECT_EQ(read(l.server, 2).bytes, "ok");
}

}  // namespace
}  // namespace wsvisor::chaos
