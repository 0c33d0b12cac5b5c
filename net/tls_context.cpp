#include "net/tls_context.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/system_error.hpp>

namespace wsvisor::net {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

std::shared_ptr<ssl::context> make_client_tls_context(const std::string& ca_file,
                                                      std::string& error) {
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    error_code ec;
    ctx->set_verify_mode(ssl::verify_peer, ec);
    if (!ec) ctx->set_default_verify_paths(ec);
    if (ec) {
      error = "TLS setup: " + ec.message();
      return nullptr;
    }
    if (!ca_file.empty() && ctx->load_verify_file(ca_file, ec)) {
      error = "cannot load ca_file " + ca_file + ": " + ec.message();
      return nullptr;
    }
    return ctx;
  } catch (const boost::system::system_error& e) {
    error = std::string{"TLS setup: "} + e.what();
    return nullptr;
  }
}

}  // namespace wsvisor::net
