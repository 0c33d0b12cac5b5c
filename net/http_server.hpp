#pragma once

/// The node's HTTP listener: accepts TCP connections on `server.listen` and
/// serves `GET /healthz` (200 "ok") and `GET /version` (build information as
/// JSON); any other path is 404. A client must deliver each request within
/// `request_timeout` and may idle between keep-alive requests for at most the
/// same time: a slow or silent client cannot hold a socket forever.
///
/// Threading: all socket work runs on the `io_context` given to the
/// constructor; `start`, `stop` and `local_port` may be called from any thread
/// that does not race with each other (in practice: the owner's thread).
/// Beast and Asio stay out of this header so that it is cheap to include.

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace wsvisor::net {

struct http_options {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 lets the OS choose
  duration request_timeout{10'000};       // deliver a request, or idle, at most this long
  std::uint64_t max_header_bytes = 8192;  // larger request headers get 431
  std::string version_json = "{}";        // body of GET /version
};

class http_server {
 public:
  http_server(boost::asio::io_context& ioc, http_options opts);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Resolves, binds and starts accepting. Returns an empty string on
  /// success, otherwise a message naming the address and the cause.
  std::string start();

  /// Stops accepting new connections; connections already open finish their
  /// current request and close.
  void stop();

  /// The bound port (useful after listening on port 0); 0 before `start`.
  std::uint16_t local_port() const;

  /// The bound address as `host:port`.
  std::string local_address() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// Splits `host:port` or `[v6]:port`. Returns false when malformed.
bool split_host_port(const std::string& address, std::string& host, std::string& port);

}  // namespace wsvisor::net
