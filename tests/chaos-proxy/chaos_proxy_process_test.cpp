// The chaos-proxy executable, observed from outside: it forwards, applies
// faults from its command line, stops cleanly on SIGTERM and rejects bad
// arguments with an error naming them.

#include <signal.h>

#include <string>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "tests/support/process.hpp"

namespace wsvisor::chaos {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using test::child_process;
using test::run_to_exit;

const std::string binary = CHAOS_PROXY_BINARY;

TEST(ChaosProxyProcess, ForwardsWithItsFaultsAndStopsOnSigterm) {
  asio::io_context ioc;
  tcp::acceptor target{ioc, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  child_process p{
      binary,
      {"--listen", "127.0.0.1:0", "--target",
       "127.0.0.1:" + std::to_string(target.local_endpoint().port()), "--cut-after-bytes", "8"}};
  auto port = test::await_loopback_port(p, "listening on");
  ASSERT_NE(port, 0) << p.stderr_text();
  tcp::socket client{ioc};
  client.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  auto server = target.accept();
  asio::write(client, asio::buffer(std::string{"0123456789"}));
  std::string got(10, '\0');
  boost::system::error_code ec;
  auto n = asio::read(server, asio::buffer(got), ec);
  EXPECT_EQ(got.substr(0, n), "01234567");
  EXPECT_EQ(ec, asio::error::connection_reset);

  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
  EXPECT_NE(p.stderr_text().find("cuts=1"), std::string::npos) << p.stderr_text();
}

TEST(ChaosProxyProcess, HelpExitsZero) {
  auto r = run_to_exit(binary, {"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: chaos-proxy"), std::string::npos);
}

TEST(ChaosProxyProcess, BadArgumentExitsTwoNamingIt) {
  auto r = run_to_exit(
      binary, {"--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--stall", "upwards"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--stall: `upwards`"), std::string::npos) << r.err;
}

TEST(ChaosProxyProcess, ListenFailureExitsOneNamingTheAddress) {
  asio::io_context ioc;
  tcp::acceptor taken{ioc, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  auto address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  auto r = run_to_exit(binary, {"--listen", address, "--target", "127.0.0.1:1"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("listen " + address), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wsvisor::chaos
