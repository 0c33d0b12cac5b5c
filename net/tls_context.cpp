#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>

namespace wsvisor::net {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

std::shared_ptr<ssl::context> make_server_tls_context(const tls_config& tls, std::string& error) {
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    auto* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(
        native, tls.min_version == tls_version::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // Compression leaks secrets through lengths (CRIME); renegotiation lets a
    // client make the server repeat its most expensive work at will.
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    // Without a callback OpenSSL would ask for an encrypted key's passphrase
    // on the terminal; an empty one makes loading such a key fail instead.
    ctx->set_password_callback(
        [](std::size_t, ssl::context::password_purpose) { return std::string{}; });
    error_code ec;
    ctx->use_certificate_chain_file(tls.cert, ec);
    if (ec) {
      error =
          "server.tls.cert " + tls.cert + ": cannot load a PEM certificate chain: " + ec.message();
      return nullptr;
    }
    ctx->use_private_key_file(tls.key, ssl::context::pem, ec);
    // OpenSSL compares the key with the certificate as it loads it.
    if (ec.category() == boost::asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
      error = "server.tls.key " + tls.key + " does not match the certificate of server.tls.cert " +
              tls.cert;
      return nullptr;
    }
    if (ec) {
      error = "server.tls.key " + tls.key +
              ": cannot load an unencrypted PEM private key: " + ec.message();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      error = "server.tls.key " + tls.key + " does not match the certificate of server.tls.cert " +
              tls.cert;
      return nullptr;
    }
    return ctx;
  } catch (const boost::system::system_error& e) {
    error = std::string{"TLS setup: "} + e.what();
    return nullptr;
  }
}

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
