#include "tests/support/tcp_proxy.hpp"

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace wsvisor::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

constexpr auto await_timeout = 20s;

/// Echoes every byte back; records how each connection ended.
class echo_server {
 public:
  echo_server() : acceptor_(ioc_, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~echo_server() {
    asio::post(ioc_, [this] {
      error_code ignored;
      acceptor_.close(ignored);
      for (auto& s : sockets_) s->close(ignored);
    });
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  /// Waits until `n` connections ended; returns how.
  std::vector<error_code> await_ends(std::size_t n) {
    std::unique_lock lock{mtx_};
    cv_.wait_for(lock, await_timeout, [&] { return ends_.size() >= n; });
    return ends_;
  }

 private:
  void accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket s) {
      if (ec) return;
      auto sock = std::make_shared<tcp::socket>(std::move(s));
      sockets_.push_back(sock);
      echo(sock, std::make_shared<std::array<char, 4096>>());
      accept();
    });
  }
  void echo(std::shared_ptr<tcp::socket> s, std::shared_ptr<std::array<char, 4096>> buf) {
    s->async_read_some(asio::buffer(*buf), [this, s, buf](error_code ec, std::size_t n) {
      if (ec) {
        error_code ignored;
        s->close(ignored);  // an orderly EOF is answered with one
        std::lock_guard guard{mtx_};
        ends_.push_back(ec);
        cv_.notify_all();
        return;
      }
      asio::async_write(*s, asio::buffer(*buf, n), [this, s, buf](error_code ec, std::size_t) {
        if (!ec) echo(s, buf);
      });
    });
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::thread thread_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<error_code> ends_;
};

/// A blocking client socket whose reads have a deadline.
struct test_client {
  explicit test_client(std::uint16_t port) : socket(ioc) {
    socket.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
  }
  void write(const std::string& text) { asio::write(socket, asio::buffer(text)); }
  /// Reads exactly `n` bytes, or until an error or the deadline.
  std::pair<error_code, std::string> read(std::size_t n) {
    std::string out(n, '\0');
    error_code result = asio::error::timed_out;
    asio::async_read(socket, asio::buffer(out), [&](error_code ec, std::size_t got) {
      result = ec;
      out.resize(got);
    });
    ioc.restart();
    ioc.run_for(await_timeout);
    return {result, out};
  }
  asio::io_context ioc;
  tcp::socket socket;
};

TEST(TcpProxy, ForwardsBytesBothWays) {
  echo_server echo;
  tcp_proxy proxy{echo.port()};
  test_client c{proxy.port()};
  c.write("hello");
  auto [ec, text] = c.read(5);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(text, "hello");
  EXPECT_EQ(proxy.accepted(), 1u);
  EXPECT_EQ(proxy.active(), 1u);
  EXPECT_EQ(proxy.cut(), 0u);
}

TEST(TcpProxy, CutAllResetsBothSides) {
  echo_server echo;
  tcp_proxy proxy{echo.port()};
  test_client a{proxy.port()};
  test_client b{proxy.port()};
  for (auto* c : {&a, &b}) {
    c->write("x");
    ASSERT_FALSE(c->read(1).first);
  }
  EXPECT_EQ(proxy.cut_all(), 2u);
  for (auto* c : {&a, &b}) EXPECT_EQ(c->read(1).first, asio::error::connection_reset);
  auto ends = echo.await_ends(2);
  ASSERT_EQ(ends.size(), 2u);
  for (auto& ec : ends) EXPECT_EQ(ec, asio::error::connection_reset) << ec.message();
  EXPECT_EQ(proxy.cut(), 2u);
  EXPECT_EQ(proxy.active(), 0u);
}

TEST(TcpProxy, PassesAnOrderlyCloseOnAsOne) {
  echo_server echo;
  tcp_proxy proxy{echo.port()};
  test_client c{proxy.port()};
  c.write("bye");
  ASSERT_FALSE(c.read(3).first);
  c.socket.shutdown(tcp::socket::shutdown_send);
  auto ends = echo.await_ends(1);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0], asio::error::eof);
  EXPECT_EQ(c.read(1).first, asio::error::eof);
  EXPECT_EQ(proxy.cut(), 0u);
}

TEST(TcpProxy, CutsRandomlyOnASeededSchedule) {
  echo_server echo;
  tcp_proxy proxy{echo.port()};
  std::vector<std::unique_ptr<test_client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<test_client>(proxy.port()));
    clients.back()->write("x");
    ASSERT_FALSE(clients.back()->read(1).first);
  }
  proxy.cut_randomly(5ms, 15ms, 1234);
  for (auto& c : clients) EXPECT_EQ(c->read(1).first, asio::error::connection_reset);
  proxy.stop_cutting();
  EXPECT_EQ(proxy.cut(), 3u);
  EXPECT_EQ(proxy.active(), 0u);
}

TEST(TcpProxy, RefusingResetsNewConnections) {
  echo_server echo;
  tcp_proxy proxy{echo.port()};
  proxy.set_refusing(true);
  test_client c{proxy.port()};
  EXPECT_EQ(c.read(1).first, asio::error::connection_reset);
  EXPECT_EQ(proxy.accepted(), 1u);
  EXPECT_EQ(proxy.cut(), 1u);
  proxy.set_refusing(false);
  test_client d{proxy.port()};
  d.write("ok");
  EXPECT_EQ(d.read(2).second, "ok");
}

}  // namespace
}  // namespace wsvisor::test
