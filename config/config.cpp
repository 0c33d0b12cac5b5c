#include "config/config.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "config/checks.hpp"

namespace wsvisor {

std::map<std::string, policy> builtin_policies() {
  using std::chrono::milliseconds;
  // root: a crash loop of the node's top-level children ends the process, so
  // that a service manager restarts it with a clean slate.
  policy root{.restart = restart_kind::permanent,
              .strategy = strategy_kind::one_for_one,
              .backoff_min = milliseconds{100},
              .backoff_max = milliseconds{5'000},
              .backoff_multiplier = 2.0,
              .jitter = jitter_kind::full,
              .reset_after = milliseconds{30'000},
              .max_restarts = 5,
              .restart_window = milliseconds{60'000},
              .on_give_up = give_up_action::escalate};
  // upstream: outbound links flap; retry with growing, jittered delays and
  // escalate only on a sustained crash loop.
  policy upstream{};
  // cluster: a peer may be down for a long time (maintenance, a partition);
  // keep retrying without limit at a modest pace.
  policy cluster{.restart = restart_kind::permanent,
                 .strategy = strategy_kind::one_for_one,
                 .backoff_min = milliseconds{500},
                 .backoff_max = milliseconds{10'000},
                 .backoff_multiplier = 2.0,
                 .jitter = jitter_kind::full,
                 .reset_after = milliseconds{30'000},
                 .max_restarts = 0,
                 .restart_window = milliseconds{60'000},
                 .on_give_up = give_up_action::stop};
  return {{"root", root}, {"upstream", upstream}, {"cluster", cluster}};
}

std::string read_auth_secret(const auth_config& auth, std::string& error) {
  error.clear();
  std::string key;
  std::string from;
  if (!auth.secret.empty()) {
    key = auth.secret;
    from = "auth.secret";
  } else if (!auth.secret_file.empty()) {
    from = "the secret file " + quote(auth.secret_file);
    if (auto problem = file_problem("secret file", auth.secret_file); !problem.empty()) {
      error = problem;
      return {};
    }
    std::ifstream in{auth.secret_file, std::ios::binary};
    key.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
    // Editors and `echo` add one; a key that needs a trailing newline can be
    // given through secret or secret_env.
    if (key.ends_with("\r\n"))
      key.resize(key.size() - 2);
    else if (key.ends_with('\n'))
      key.pop_back();
  } else if (!auth.secret_env.empty()) {
    from = "the environment variable " + auth.secret_env;
    const char* value = std::getenv(auth.secret_env.c_str());
    if (value == nullptr) {
      error = "the environment variable " + auth.secret_env + " is not set";
      return {};
    }
    key = value;
  } else {
    return {};
  }
  if (key.size() < 32) {
    // The key itself is never shown.
    error = from + " holds " + std::to_string(key.size()) +
            " bytes; an HS256 key needs at least 32 (256 bits)";
    return {};
  }
  return key;
}

}  // namespace wsvisor
