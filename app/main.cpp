// The wsvisor executable: the command line (docs/operations.md), then one
// node until it stops.

#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "app/build_info.hpp"
#include "app/node.hpp"
#include "config/cli.hpp"
#include "config/loader.hpp"
#include "log/log.hpp"

namespace wsvisor {
namespace {

/// The `wsvisor` command line: parses arguments, loads and validates the
/// configuration, then runs a node. Returns the process exit status.
int run_main(int argc, const char* const* argv) {
  auto cli = parse_cli(argc, argv);
  if (!cli.ok()) {
    std::cerr << "wsvisor: " << cli.error << "\nTry 'wsvisor --help'.\n";
    return exit_bad_config;
  }
  const auto& o = cli.options;
  if (o.show_help) {
    std::cout << usage_text();
    return exit_ok;
  }
  if (o.show_version) {
    std::cout << version_text();
    return exit_ok;
  }
  auto loaded = o.config_file ? load_config_file(*o.config_file, o.overrides)
                              : load_config_defaults(o.overrides);
  if (!loaded.ok()) {
    std::string source = o.config_file ? *o.config_file : std::string{};
    for (auto& e : loaded.errors) std::cerr << to_string(e, source) << "\n";
    std::cerr << "wsvisor: " << loaded.errors.size()
              << " configuration error(s); nothing was started\n";
    return exit_bad_config;
  }
  if (o.check_config) {
    std::cout << to_toml(loaded.cfg);
    return exit_ok;
  }
  log::configure(loaded.cfg.log);
  int status = exit_failure;
  {
    node n{loaded.cfg, {.config_file = o.config_file, .overrides = o.overrides}};
    if (auto err = n.start(); !err.empty())
      log::error(*log::get("node"), "cannot start", {{"error", err}});
    else
      status = n.run();
  }
  // Lines below warn are not flushed as they are written.
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  return status;
}

}  // namespace
}  // namespace wsvisor

int main(int argc, char** argv) { return wsvisor::run_main(argc, argv); }
