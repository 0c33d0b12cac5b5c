// The chaos-proxy command line and its stdin commands, parsed and applied
// in-process; chaos_proxy_process_test.cpp runs the executable itself.

#include "tools/chaos-proxy/cli.hpp"

#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace wsvisor::chaos {
namespace {

using namespace std::chrono_literals;

cli_result parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"chaos-proxy"};
  argv.insert(argv.end(), args);
  return parse_cli(static_cast<int>(argv.size()), argv.data());
}

TEST(ChaosProxyCli, ReadsEveryFault) {
  auto r = parse({"--listen",    "0.0.0.0:7000", "--target=localhost:8080",
                  "--seed",      "42",           "--cut-every",
                  "50ms..500ms", "--truncate",   "s2c:3",
                  "--cut-at",    "1s,2m",        "--cut-after-bytes",
                  "64KiB",       "--delay",      "both:20ms",
                  "--delay",     "s2c:30ms",     "--throttle",
                  "c2s:1MiB",    "--stall",      "s2c",
                  "--chunk",     "512"});
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& p = r.plan;
  EXPECT_EQ(p.proxy.listen_host, "0.0.0.0");
  EXPECT_EQ(p.proxy.listen_port, 7000);
  EXPECT_EQ(p.proxy.target_host, "localhost");
  EXPECT_EQ(p.proxy.target_port, 8080);
  EXPECT_EQ(p.proxy.chunk_bytes, 512u);
  EXPECT_EQ(p.seed, 42u);
  ASSERT_TRUE(p.cut_every);
  EXPECT_EQ(p.cut_every->first, 50ms);
  EXPECT_EQ(p.cut_every->second, 500ms);
  ASSERT_TRUE(p.truncate);
  EXPECT_EQ(p.truncate->dir, direction::server_to_client);
  EXPECT_EQ(p.truncate->keep, 3u);
  EXPECT_EQ(p.cut_at, (std::vector<duration>{1s, 2min}));
  EXPECT_EQ(p.cut_after_bytes, 65536u);
  EXPECT_EQ(p.delay[0], 20ms);
  EXPECT_EQ(p.delay[1], 30ms);  // the later option wins
  EXPECT_EQ(p.throttle[0], 1u << 20);
  EXPECT_EQ(p.throttle[1], 0u);
  EXPECT_FALSE(p.stall[0]);
  EXPECT_TRUE(p.stall[1]);
}

TEST(ChaosProxyCli, AcceptsABracketedIpv6Address) {
  auto r = parse({"--listen", "[::1]:0", "--target", "[::1]:9"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.plan.proxy.listen_host, "::1");
  EXPECT_EQ(r.plan.proxy.target_port, 9);
}

TEST(ChaosProxyCli, NamesTheBadInput) {
  struct bad_case {
    std::vector<const char*> args;
    std::string says;
  };
  const std::vector<bad_case> cases{
      {{"--listen", "nowhere", "--target", "h:1"}, "--listen: `nowhere` is not HOST:PORT"},
      {{"--listen", "h:1", "--target", "h:70000"}, "--target: `h:70000` is not HOST:PORT"},
      {{"--listen", "h:1", "--target", "h:2", "--delay", "up:5ms"}, "--delay: `up:5ms`"},
      {{"--listen", "h:1", "--target", "h:2", "--delay", "c2s:5"}, "--delay: `c2s:5`"},
      {{"--listen", "h:1", "--target", "h:2", "--throttle", "s2c:fast"}, "`s2c:fast`"},
      {{"--listen", "h:1", "--target", "h:2", "--cut-every", "500ms..50ms"}, "`500ms..50ms`"},
      {{"--listen", "h:1", "--target", "h:2", "--cut-at", "1s,,2s"}, "`1s,,2s`"},
      {{"--listen", "h:1", "--target", "h:2", "--stall", "sideways"}, "`sideways`"},
      {{"--listen", "h:1", "--target", "h:2", "--seed", "-1"}, "--seed: `-1`"},
      {{"--listen", "h:1", "--target", "h:2", "--chunk", "0"}, "--chunk: `0`"},
      {{"--listen", "h:1", "--target", "h:2", "--cut-every", "1s..2s", "--truncate", "both:3"},
       "--truncate: `both:3`"},
      {{"--listen", "h:1", "--target", "h:2", "--truncate", "c2s:3"},
       "--truncate needs --cut-every"},
      {{"--listen", "h:1", "--target", "h:2", "--delay"}, "--delay needs a value"},
      {{"--listen", "h:1", "--target", "h:2", "--jitter", "5ms"}, "unknown option `--jitter`"},
      {{"--listen", "h:1", "--target", "h:2", "stray"}, "unexpected argument `stray`"},
      {{"--target", "h:2"}, "--listen HOST:PORT is required"},
      {{"--listen", "h:1"}, "--target HOST:PORT is required"},
  };
  for (const auto& c : cases) {
    std::vector<const char*> argv{"chaos-proxy"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = parse_cli(static_cast<int>(argv.size()), argv.data());
    EXPECT_NE(r.error.find(c.says), std::string::npos)
        << "for " << c.args.back() << " got: " << (r.ok() ? "ok" : r.error);
  }
}

TEST(ChaosProxyCli, HelpNeedsNothingElse) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.plan.help);
  for (auto* option : {"--listen", "--target", "--cut-every", "--cut-at", "--cut-after-bytes",
                       "--delay", "--throttle", "--stall", "--truncate", "--seed"})
    EXPECT_NE(usage_text().find(option), std::string::npos) << option;
}

TEST(ChaosProxyCli, CommandsSetFaultsAndAnswer) {
  chaos_proxy proxy{9};  // nothing connects: only the answers and the settings matter
  EXPECT_EQ(run_command(proxy, ""), "");
  EXPECT_EQ(run_command(proxy, "stall both"), "ok");
  EXPECT_EQ(run_command(proxy, "unstall c2s"), "ok");
  EXPECT_EQ(run_command(proxy, "  delay s2c 20ms "), "ok");
  EXPECT_EQ(run_command(proxy, "throttle c2s 64KiB"), "ok");
  EXPECT_EQ(run_command(proxy, "truncate s2c 3"), "ok");
  EXPECT_EQ(run_command(proxy, "cut-after-bytes 1MiB"), "ok");
  EXPECT_EQ(run_command(proxy, "cut-after-bytes off"), "ok");
  EXPECT_EQ(run_command(proxy, "refuse on"), "ok");
  EXPECT_EQ(run_command(proxy, "cut"), "ok: cut 0");
  EXPECT_EQ(run_command(proxy, "stats"),
            "accepted=0 active=0 cuts=0 truncations=0 c2s=0/0 s2c=0/0");
  EXPECT_EQ(run_command(proxy, "delay s2c soon"), "error: delay: `soon` is not a duration");
  EXPECT_EQ(run_command(proxy, "stall up").rfind("error: cannot run `stall up`", 0), 0u);
  EXPECT_EQ(run_command(proxy, "truncate both 3").rfind("error:", 0), 0u);
  EXPECT_EQ(run_command(proxy, "explode").rfind("error:", 0), 0u);
}

}  // namespace
}  // namespace wsvisor::chaos
