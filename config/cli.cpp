#include "config/cli.hpp"

#include <string_view>

#include "config/checks.hpp"

namespace wsvisor {

namespace {

const std::vector<std::string_view> long_options{"config", "set", "check-config", "version",
                                                 "help"};

class parser {
 public:
  parser(int argc, const char* const* argv) : argc_(argc), argv_(argv) {}

  cli_result run() {
    for (index_ = 1; index_ < argc_ && result_.ok(); ++index_) {
      // A null entry cannot come from a real exec; treat it as the end.
      if (!argv_[index_]) break;
      one(argv_[index_]);
    }
    return std::move(result_);
  }

 private:
  void one(std::string_view arg) {
    auto& o = result_.options;
    if (arg == "-h" || arg == "--help") {
      o.show_help = true;
      return;
    }
    if (arg == "-c") {
      if (auto file = value_after(arg)) set_config(*file, arg);
      return;
    }
    if (!arg.starts_with("--") || arg == "--") {
      result_.error = arg.starts_with('-') ? "unknown option `" + std::string{arg} + "`"
                                           : "unexpected argument `" + std::string{arg} + "`";
      return;
    }
    auto body = arg.substr(2);
    auto eq = body.find('=');
    auto name = body.substr(0, eq);
    std::optional<std::string_view> inline_value;
    if (eq != std::string_view::npos) inline_value = body.substr(eq + 1);

    if (name == "config") {
      auto file = inline_value ? inline_value : value_after(arg);
      if (file) set_config(*file, "--config");
    } else if (name == "set") {
      auto kv = inline_value ? inline_value : value_after(arg);
      if (kv) o.overrides.emplace_back(*kv);
    } else if (name == "check-config") {
      o.check_config = true;
      if (inline_value) {
        set_config(*inline_value, "--check-config");
      } else if (index_ + 1 < argc_ && argv_[index_ + 1] &&
                 !std::string_view{argv_[index_ + 1]}.starts_with('-')) {
        set_config(argv_[++index_], "--check-config");
      }
    } else if (name == "version" || name == "help") {
      if (inline_value) {
        result_.error = "option `--" + std::string{name} + "` takes no value";
        return;
      }
      (name == "version" ? o.show_version : o.show_help) = true;
    } else {
      result_.error = "unknown option `--" + std::string{name} + "`";
      if (auto guess = suggest(name, long_options))
        result_.error += "; did you mean `--" + *guess + "`?";
    }
  }

  // The next argument as the value of `option`, or an error if there is none.
  // A following option ("--config --set") is taken as a forgotten value
  // rather than as a file name that starts with '-'; `--config=-x` still works.
  std::optional<std::string_view> value_after(std::string_view option) {
    if (index_ + 1 < argc_ && argv_[index_ + 1]) {
      std::string_view next{argv_[index_ + 1]};
      if (!next.starts_with('-') || next == "-") {
        ++index_;
        return next;
      }
    }
    result_.error = "option `" + std::string{option} + "` needs a value";
    return std::nullopt;
  }

  void set_config(std::string_view file, std::string_view option) {
    auto& current = result_.options.config_file;
    if (file.empty()) {
      result_.error = "option `" + std::string{option} + "` needs a file name";
    } else if (current) {
      result_.error =
          "a config file was given twice (`" + *current + "` and `" + std::string{file} + "`)";
    } else {
      current = std::string{file};
    }
  }

  int argc_;
  const char* const* argv_;
  int index_ = 1;
  cli_result result_;
};

}  // namespace

cli_result parse_cli(int argc, const char* const* argv) {
  if (argc <= 1 || !argv) return {};
  return parser{argc, argv}.run();
}

std::string usage_text() {
  return R"(Usage: wsvisor [OPTIONS]

A WebSocket session service: clients resume sessions across reconnects, and
upstream links are supervised and re-established with backoff.

Options:
  -c, --config FILE        read the configuration from FILE (TOML); without it,
                           the built-in defaults are used
      --set KEY=VALUE      override one key after the file is read, e.g.
                           --set session.resume_window=5s
                           --set server.listen=0.0.0.0:8080
                           --set cluster.peers='["10.0.0.2:7070"]'
                           (repeatable; VALUE is TOML if it parses as TOML,
                           else a plain string)
      --check-config [FILE]
                           validate the configuration (FILE is short for
                           --config FILE); print the effective configuration
                           as TOML and exit 0, or print every error and exit 2
      --version            print the version and exit
  -h, --help               print this help and exit

Durations are written "250ms", "30s", "5m", "1h"; sizes "512B", "64KiB", "4MiB"
or a plain number of bytes. See docs/configuration.md for every key.
)";
}

}  // namespace wsvisor
