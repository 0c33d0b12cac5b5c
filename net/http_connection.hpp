#pragma once

/// One accepted connection of the listener, plain or TLS: reads requests,
/// answers the routes of net/http_server.hpp, and hands an upgrade that
/// passed the checks to a ws_session over the same stream. Internal to net/.

#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "net/http_server.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace wsvisor::net {

class ws_slots;

/// Serves `socket`, just accepted (its executor is the connection's strand).
/// With `tls` not null the connection speaks TLS: the handshake comes first
/// and must be done within `opts->handshake_timeout`; a failed or late one
/// (plain HTTP sent to the TLS port, an untrusting client, a silent one)
/// closes the socket and is logged at debug. `loopback` is
/// is_loopback_listen(opts->listen).
void serve_http(boost::asio::io_context& ioc, boost::asio::ip::tcp::socket&& socket,
                std::shared_ptr<const http_options> opts, std::shared_ptr<ws_slots> slots,
                bool loopback, const std::shared_ptr<boost::asio::ssl::context>& tls);

/// serve_http's halves, one per stream type (net/http_connection_impl.hpp):
/// each is its own translation unit.
void serve_plain_http(boost::asio::io_context& ioc, boost::asio::ip::tcp::socket&& socket,
                      std::shared_ptr<const http_options> opts, std::shared_ptr<ws_slots> slots,
                      bool loopback);
void serve_tls_http(boost::asio::io_context& ioc, boost::asio::ip::tcp::socket&& socket,
                    std::shared_ptr<const http_options> opts, std::shared_ptr<ws_slots> slots,
                    bool loopback, boost::asio::ssl::context& tls);

}  // namespace wsvisor::net
