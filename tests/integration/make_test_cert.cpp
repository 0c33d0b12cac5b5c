// make_test_cert DIR: writes DIR/cert.pem and DIR/key.pem, a self-signed
// certificate for localhost and 127.0.0.1 made now (tests/support/tls_cert),
// for the tests that are not C++ (python_session_test.py over wss://).

#include <fstream>
#include <iostream>
#include <string>

#include "tests/support/tls_cert.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_test_cert DIR\n";
    return 2;
  }
  std::string dir = argv[1];
  auto cert = wsvisor::test::make_self_signed_cert({.dns = {"localhost"}, .ip = {"127.0.0.1"}});
  std::ofstream{dir + "/cert.pem"} << cert.cert_pem;
  std::ofstream{dir + "/key.pem"} << cert.key_pem;
  if (!std::ofstream{dir + "/cert.pem", std::ios::app}) {
    std::cerr << "make_test_cert: cannot write to " << dir << "\n";
    return 1;
  }
  return 0;
}
