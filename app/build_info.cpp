#include "app/build_info.hpp"

#include <utility>
#include <vector>

#include <fmt/format.h>
#include <openssl/opensslv.h>
#include <spdlog/version.h>
#include <toml++/toml.h>
#include <boost/version.hpp>
#include <caf/config.hpp>

#include "wsvisor/version.hpp"

namespace wsvisor {
namespace {

std::vector<std::pair<std::string, std::string>> components() {
  return {
      {"wsvisor", version_string},
      {"caf", fmt::format("{}.{}.{}", CAF_MAJOR_VERSION, CAF_MINOR_VERSION, CAF_PATCH_VERSION)},
      {"boost", fmt::format("{}.{}.{}", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                            BOOST_VERSION % 100)},
      {"spdlog", fmt::format("{}.{}.{}", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH)},
      {"openssl", OPENSSL_FULL_VERSION_STR},
      {"tomlplusplus", fmt::format("{}.{}.{}", TOML_LIB_MAJOR, TOML_LIB_MINOR, TOML_LIB_PATCH)},
  };
}

}  // namespace

std::string version_text() {
  std::string out;
  for (auto& [name, version] : components()) out += name + " " + version + "\n";
  return out;
}

std::string version_json() {
  std::string out = "{";
  for (auto& [name, version] : components()) {
    if (out.size() > 1) out += ",";
    // Names and versions are compile-time constants without quotes or escapes.
    out += "\"" + name + "\":\"" + version + "\"";
  }
  return out + "}";
}

}  // namespace wsvisor
