#include "net/tls_context.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <gtest/gtest.h>
#include <boost/asio/ssl/context.hpp>

#include "tests/support/tls_cert.hpp"

// What the listener's TLS context accepts, and how it names what it does not:
// the node's start error is this message.

namespace wsvisor::net {
namespace {

std::string contains(const std::string& text, const std::string& part) {
  return text.find(part) == std::string::npos ? "\"" + part + "\" not in \"" + text + "\"" : "";
}

// `key_pem` again, encrypted with a passphrase.
std::string encrypted(const std::string& key_pem) {
  BIO* in = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  char pass[] = "passphrase";
  PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), pass, sizeof pass - 1, nullptr,
                                nullptr);
  char* data = nullptr;
  auto size = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(out);
  EVP_PKEY_free(key);
  BIO_free(in);
  return pem;
}

class TlsContext : public ::testing::Test {
 protected:
  test::tls_cert cert_ = test::make_self_signed_cert();
  test::temp_file cert_file_{cert_.cert_pem};
  test::temp_file key_file_{cert_.key_pem};
};

TEST_F(TlsContext, LoadsAMatchingCertificateAndKey) {
  std::string error;
  auto ctx = make_server_tls_context({.cert = cert_file_.path(), .key = key_file_.path()}, error);
  EXPECT_NE(ctx, nullptr);
  EXPECT_EQ(error, "");
}

TEST_F(TlsContext, NamesTheCertificateFileWhenItIsNotPem) {
  test::temp_file garbage{"-----BEGIN NONSENSE-----\nxx\n"};
  std::string error;
  EXPECT_EQ(make_server_tls_context({.cert = garbage.path(), .key = key_file_.path()}, error),
            nullptr);
  EXPECT_EQ(contains(error, "server.tls.cert " + garbage.path() + ": "), "");
}

TEST_F(TlsContext, NamesAFileThatIsGone) {
  std::string error;
  EXPECT_EQ(
      make_server_tls_context({.cert = cert_file_.path(), .key = "/nonexistent/key.pem"}, error),
      nullptr);
  EXPECT_EQ(contains(error, "server.tls.key /nonexistent/key.pem: "), "");
}

TEST_F(TlsContext, NamesBothFilesWhenTheKeyDoesNotMatchTheCertificate) {
  auto other = test::make_self_signed_cert();
  test::temp_file other_key{other.key_pem};
  std::string error;
  EXPECT_EQ(make_server_tls_context({.cert = cert_file_.path(), .key = other_key.path()}, error),
            nullptr);
  EXPECT_EQ(contains(error, "server.tls.key " + other_key.path() + " does not match"), "");
  EXPECT_EQ(contains(error, cert_file_.path()), "");
}

TEST_F(TlsContext, RefusesAnEncryptedKeyWithoutAskingForItsPassphrase) {
  test::temp_file locked{encrypted(cert_.key_pem)};
  std::string error;
  // Standard input is not read: a prompt would hang the test (ctest gives none).
  EXPECT_EQ(make_server_tls_context({.cert = cert_file_.path(), .key = locked.path()}, error),
            nullptr);
  EXPECT_EQ(contains(error, "server.tls.key " + locked.path() + ": "), "");
}

}  // namespace
}  // namespace wsvisor::net
