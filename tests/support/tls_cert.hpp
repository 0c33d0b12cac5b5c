#pragma once

/// Self-signed TLS certificates made at test time (OpenSSL C API), so that no
/// key material is checked in and none expires: an EC P-256 key and an
/// X.509 v3 certificate valid from an hour ago for a day, whose subject
/// alternative names are exactly the ones asked for. Trust it by handing
/// `cert_pem` (written to a `temp_file`) to a client as its CA file.

#include <string>
#include <string_view>
#include <vector>

namespace wsvisor::test {

struct tls_cert {
  std::string cert_pem;  // the certificate, PEM
  std::string key_pem;   // its private key, PEM (PKCS#8)
};

struct tls_cert_names {
  std::string common_name = "localhost";
  std::vector<std::string> dns = {"localhost"};  // DNS subject alternative names
  std::vector<std::string> ip = {};              // IP subject alternative names, e.g. "127.0.0.1"
};

/// Makes a fresh key and certificate. Throws std::runtime_error naming the
/// OpenSSL call that failed.
tls_cert make_self_signed_cert(const tls_cert_names& names = {});

/// A file in the temporary directory holding `contents`; removed when the
/// object is destroyed. Throws std::runtime_error if it cannot be written.
class temp_file {
 public:
  explicit temp_file(std::string_view contents);
  ~temp_file();
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace wsvisor::test
