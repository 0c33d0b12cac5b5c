#include "tests/support/tls_cert.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace wsvisor::test {

namespace {

template <class T, void (*Free)(T*)>
struct freer {
  void operator()(T* p) const { Free(p); }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, freer<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, freer<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, freer<BIO, BIO_free_all>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, freer<X509_EXTENSION, X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error{std::string{"tls_cert: "} + what + " failed"};
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str())};
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

std::string alt_names(const tls_cert_names& names) {
  std::string out;
  for (const auto& d : names.dns) out += (out.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& i : names.ip) out += (out.empty() ? "IP:" : ",IP:") + i;
  return out;
}

template <class Write>
std::string to_pem(Write write) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  check(bio != nullptr, "BIO_new");
  check(write(bio.get()) == 1, "PEM_write_bio");
  char* data = nullptr;
  auto size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

tls_cert make_self_signed_cert(const tls_cert_names& names) {
  pkey_ptr key{EVP_EC_gen("P-256")};
  check(key != nullptr, "EVP_EC_gen");
  x509_ptr cert{X509_new()};
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1, "ASN1_INTEGER_set");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "X509_gmtime_adj");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) != nullptr, "X509_gmtime_adj");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
  auto* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_ASC,
            reinterpret_cast<const unsigned char*>(names.common_name.c_str()), -1, -1, 0) == 1,
        "X509_NAME_add_entry_by_txt");
  check(X509_set_issuer_name(cert.get(), name) == 1, "X509_set_issuer_name");
  // Self-signed and trusted directly: it is its own CA, as `openssl req
  // -x509` would make it.
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  auto alt = alt_names(names);
  if (!alt.empty()) add_extension(cert.get(), NID_subject_alt_name, alt);
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");
  return {
      .cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }),
      .key_pem = to_pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
      }),
  };
}

temp_file::temp_file(std::string_view contents) {
  const char* dir = std::getenv("TMPDIR");
  std::string pattern = std::string{dir && *dir ? dir : "/tmp"} + "/wsvisor-test-XXXXXX";
  int fd = ::mkstemp(pattern.data());
  if (fd < 0) throw std::runtime_error{"temp_file: mkstemp failed for " + pattern};
  path_ = pattern;
  std::size_t done = 0;
  while (done < contents.size()) {
    auto n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n <= 0) {
      ::close(fd);
      std::remove(path_.c_str());
      throw std::runtime_error{"temp_file: cannot write " + path_};
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

temp_file::~temp_file() { std::remove(path_.c_str()); }

}  // namespace wsvisor::test
