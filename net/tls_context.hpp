#pragma once

/// The OpenSSL context of each outbound wss:// socket (upstream links, the
/// C++ client). It answers a problem here, before any connection, naming the
/// file.
///
/// Internal to net/. Only a forward declaration of Asio's context: cheap to
/// include.

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace wsvisor::net {

/// An outbound context: TLS 1.2 or newer, the peer's certificate verified
/// against the system's CAs (OpenSSL's default paths, so `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` apply) plus those of `ca_file` when it is not empty. Host
/// names are checked per connection (net/ws_client.cpp). Null, with `error`
/// naming `ca_file`, when it cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file,
                                                                   std::string& error);

}  // namespace wsvisor::net
