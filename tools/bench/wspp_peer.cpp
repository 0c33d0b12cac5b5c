// wspp_peer: WebSocket++ 0.8 echo/broadcast server used as a benchmark peer.
//
// Contract (shared with the other benchmark peers):
//   wspp_peer [--port N]     N defaults to 0 (the OS picks a port)
//   - listens on 127.0.0.1 only; once ready prints exactly one line
//     "listening <port>" to stdout and flushes it
//   - /echo:      every message goes back to its sender unchanged (same opcode)
//   - /broadcast: every message goes to every OTHER open /broadcast connection,
//                 in receive order, same opcode (never back to the sender)
//   - any other resource: the handshake is refused with HTTP 404
//   - single-threaded (one io_service::run() thread), no logging,
//     SO_REUSEADDR, listen backlog 4096, max message size 64 MiB,
//     no permessage-deflate, TCP_NODELAY on accepted sockets, soft
//     RLIMIT_NOFILE raised to the hard limit (for ~10,000 connections)
//   - SIGTERM/SIGINT: stop listening and exit 0
//
// Build (Debian 12: libwebsocketpp-dev 0.8.2-4, libboost1.81-dev, g++ 12):
//   g++ -std=c++17 -O2 -DNDEBUG -Wall -Wextra -Werror
//       tools/bench/wspp_peer.cpp -o wspp_peer -pthread    (one command)
// Boost.Asio is used header-only; nothing but -pthread needs linking.
// - g++ 12 cannot build WebSocket++ 0.8.2 as C++20: its class templates
//   declare constructors/destructors as template-ids ("~server<config>()",
//   "basic<concurrency,names>(...)"), which C++20 forbids (CWG 2237); g++
//   rejects them even with -fpermissive. C++17 builds warning-free.
//   (clang++ 14 accepts them: -std=c++20 -Wall -Wextra -Werror builds too.)
// - WebSocket++ uses Boost.Asio's deprecated io_service/strand/
//   expires_from_now API, all still present in Boost 1.81:
//   BOOST_ASIO_NO_DEPRECATED must NOT be defined.
// - No other defines are needed (_WEBSOCKETPP_CPP11_STL_ is implied by
//   __cplusplus >= 201103L).

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>

namespace {

using server_t = websocketpp::server<websocketpp::config::asio>;
using connection_hdl = websocketpp::connection_hdl;
using message_ptr = server_t::message_ptr;
namespace asio = websocketpp::lib::asio;

constexpr std::size_t kMaxMessageSize = 64u * 1024u * 1024u;
constexpr int kListenBacklog = 4096;

void usage(char const* argv0) { std::fprintf(stderr, "usage: %s [--port N]\n", argv0); }

bool parse_port(char const* text, std::uint16_t& port) {
  if (text == nullptr || *text == '\0') {
    return false;
  }
  char* end = nullptr;
  errno = 0;
  unsigned long value = std::strtoul(text, &end, 10);
  if (errno != 0 || end == nullptr || *end != '\0' || value > 65535UL) {
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

// The benchmark opens ~10,000 connections: lift the soft fd limit to the hard
// limit so accept() does not fail with EMFILE under the default 1024.
void raise_fd_limit() {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Strip any query string: "/echo?x=1" -> "/echo".
std::string resource_path(std::string const& resource) {
  return resource.substr(0, resource.find('?'));
}

// Turn a received (already unmasked and, for text, UTF-8-validated) message
// into a prepared outgoing server frame in place: an unmasked, uncompressed,
// final frame with the same opcode and payload. The payload is neither copied
// nor re-validated, and one prepared message can be queued on any number of
// connections (WebSocket++ sends prepared messages as they are).
void prepare_in_place(message_ptr const& msg) {
  std::size_t const size = msg->get_payload().size();
  websocketpp::frame::basic_header const header(msg->get_opcode(), size, /*fin=*/true,
                                                /*mask=*/false,
                                                /*rsv1 (compressed)=*/false);
  websocketpp::frame::extended_header const ext(size);
  msg->set_header(websocketpp::frame::prepare_header(header, ext));
  msg->set_prepared(true);
}

class peer {
 public:
  peer() {
    m_server.clear_access_channels(websocketpp::log::alevel::all);
    m_server.clear_error_channels(websocketpp::log::elevel::all);

    m_server.init_asio();
    m_server.set_reuse_addr(true);
    m_server.set_listen_backlog(kListenBacklog);
    m_server.set_max_message_size(kMaxMessageSize);

    using std::placeholders::_1;
    using std::placeholders::_2;
    m_server.set_tcp_pre_init_handler(std::bind(&peer::on_tcp_pre_init, this, _1));
    m_server.set_validate_handler(std::bind(&peer::on_validate, this, _1));
    m_server.set_open_handler(std::bind(&peer::on_open, this, _1));
    m_server.set_close_handler(std::bind(&peer::on_close, this, _1));
    m_server.set_fail_handler(std::bind(&peer::on_close, this, _1));
    m_server.set_message_handler(std::bind(&peer::on_message, this, _1, _2));

    // Install the SIGINT/SIGTERM handlers before "listening" is printed so
    // that a signal sent right after reading that line is never lost.
    m_signals = std::make_unique<asio::signal_set>(m_server.get_io_service(), SIGINT, SIGTERM);
    m_signals->async_wait([this](asio::error_code const& ec, int /*signo*/) {
      if (ec) {
        return;
      }
      websocketpp::lib::error_code ignored;
      m_server.stop_listening(ignored);
      // Do not wait for closing handshakes: the benchmark wants a prompt
      // exit. Pending handlers (and their connections) are destroyed
      // with the io_service.
      m_server.stop();
    });
  }

  // Binds 127.0.0.1:port and returns the port actually bound.
  std::uint16_t listen(std::uint16_t port) {
    m_server.listen(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port));
    asio::error_code ec;
    asio::ip::tcp::endpoint const local = m_server.get_local_endpoint(ec);
    if (ec) {
      throw std::runtime_error("local_endpoint: " + ec.message());
    }
    m_server.start_accept();
    return local.port();
  }

  void run() { m_server.run(); }

 private:
  void on_tcp_pre_init(connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    server_t::connection_ptr con = m_server.get_con_from_hdl(hdl, ec);
    if (ec || !con) {
      return;
    }
    asio::error_code opt_ec;
    con->get_raw_socket().set_option(asio::ip::tcp::no_delay(true), opt_ec);
  }

  bool on_validate(connection_hdl hdl) {
    server_t::connection_ptr con = m_server.get_con_from_hdl(hdl);
    std::string const path = resource_path(con->get_resource());
    if (path == "/echo" || path == "/broadcast") {
      return true;
    }
    con->set_status(websocketpp::http::status_code::not_found);
    return false;
  }

  void on_open(connection_hdl hdl) {
    server_t::connection_ptr con = m_server.get_con_from_hdl(hdl);
    if (resource_path(con->get_resource()) == "/broadcast") {
      m_broadcast.insert(hdl);
    }
  }

  // Used for both close and fail; erasing a handle that is not in the set
  // (an /echo connection, a rejected handshake) is a no-op.
  void on_close(connection_hdl hdl) { m_broadcast.erase(hdl); }

  void on_message(connection_hdl hdl, message_ptr msg) {
    server_t::connection_ptr con = m_server.get_con_from_hdl(hdl);
    websocketpp::lib::error_code ec;

    if (resource_path(con->get_resource()) != "/broadcast") {
      prepare_in_place(msg);
      ec = con->send(msg);
      (void)ec;  // the connection may be closing; nothing to do then
      return;
    }

    // Fan out one prepared frame to every other /broadcast connection.
    bool prepared = false;
    for (connection_hdl const& other : m_broadcast) {
      if (!other.owner_before(hdl) && !hdl.owner_before(other)) {
        continue;  // the sender
      }
      if (!prepared) {
        prepare_in_place(msg);
        prepared = true;
      }
      m_server.send(other, msg, ec);
      // A failed send means that peer is closing; its close handler
      // removes it from the set.
    }
  }

  server_t m_server;
  std::unique_ptr<asio::signal_set> m_signals;
  std::set<connection_hdl, std::owner_less<connection_hdl>> m_broadcast;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string const arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      if (!parse_port(argv[++i], port)) {
        usage(argv[0]);
        return 2;
      }
    } else if (arg.rfind("--port=", 0) == 0) {
      if (!parse_port(arg.c_str() + 7, port)) {
        usage(argv[0]);
        return 2;
      }
    } else if (arg == "-h" || arg == "--help") {
      usage(argv[0]);
      return 0;
    } else {
      usage(argv[0]);
      return 2;
    }
  }

  // A client that vanishes mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  try {
    peer p;
    std::uint16_t const bound = p.listen(port);
    std::cout << "listening " << bound << std::endl;  // endl flushes
    p.run();
  } catch (websocketpp::exception const& e) {
    std::fprintf(stderr, "wspp_peer: %s\n", e.what());
    return 1;
  } catch (std::exception const& e) {
    std::fprintf(stderr, "wspp_peer: %s\n", e.what());
    return 1;
  }
  return 0;
}
