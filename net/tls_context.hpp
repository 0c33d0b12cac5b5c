#pragma once

/// The OpenSSL contexts of wsvisor's TLS: the listener's (`[server.tls]`) and
/// the one of each outbound wss:// socket (upstream links, the C++ client).
/// Each answers a problem here, before any connection, naming the file.
///
/// Internal to net/. Only a forward declaration of Asio's context: cheap to
/// include.

#include <memory>
#include <string>

#include "config/config.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace wsvisor::net {

/// The listener's context for `tls` (cert and key set): the certificate chain
/// and its key, TLS `min_version` and newer, no compression, no
/// renegotiation, OpenSSL's default ciphers. Null, with `error` naming the
/// key (`server.tls.cert`, `server.tls.key`), the file and OpenSSL's reason,
/// when a file cannot be read, is not PEM, holds an encrypted key, or the key
/// does not match the certificate.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const tls_config& tls,
                                                                   std::string& error);

/// An outbound context: TLS 1.2 or newer, the peer's certificate verified
/// against the system's CAs (OpenSSL's default paths, so `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` apply) plus those of `ca_file` when it is not empty. Host
/// names are checked per connection (net/ws_client_impl.hpp). Null, with `error`
/// naming `ca_file`, when it cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file,
                                                                   std::string& error);

}  // namespace wsvisor::net
