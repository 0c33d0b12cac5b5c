#include "app/node.hpp"

#include <sched.h>

#include <thread>

#include <gtest/gtest.h>
#include <caf/all.hpp>

#include <boost/json.hpp>

#include "app/scheduling.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/tls_cert.hpp"
#include "tests/support/upstream_server.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;

config test_config() {
  config cfg;
  cfg.server.listen = "127.0.0.1:0";
  cfg.log.level = log_level::warn;
  return cfg;
}

TEST(Node, ServesHealthzWhileRunningAndStopEndsRunWithStatusZero) {
  node n{test_config(), {.handle_signals = false}};
  ASSERT_EQ(n.start(), "");
  int status = -1;
  std::thread runner{[&] { status = n.run(); }};
  EXPECT_EQ(test::http_request(n.http_port(), "GET", "/healthz").status, 200);
  n.stop();
  runner.join();
  EXPECT_EQ(status, exit_ok);
}

TEST(Node, ReadyzIsUnavailableWhileARequiredUpstreamIsDownAndIgnoresOptionalOnes) {
  test::upstream_server upstream;
  auto cfg = test_config();
  auto& p = cfg.policies.at("upstream");
  p.backoff_min = 10ms;
  p.backoff_max = 50ms;
  p.max_restarts = 0;  // keep trying while the test kills the upstream
  cfg.upstreams = {
      {.name = "feed", .url = upstream.url(), .channel = "feed", .required = true},
      // Port 1 refuses: this one is never up, and is not required.
      {.name = "extra", .url = "ws://127.0.0.1:1/none", .channel = "extra"},
  };
  node n{cfg, {.handle_signals = false}};
  ASSERT_EQ(n.start(), "");
  std::thread runner{[&] { n.run(); }};
  auto readyz = [&] { return test::http_request(n.http_port(), "GET", "/readyz"); };

  EXPECT_TRUE(test::eventually([&] { return readyz().status == 200; })) << readyz().body;
  upstream.kill();
  EXPECT_TRUE(test::eventually([&] { return readyz().status == 503; }));
  auto body = boost::json::parse(readyz().body).as_object();
  EXPECT_EQ(body.at("ready"), false);
  EXPECT_EQ(body.at("draining"), false);
  auto down = body.at("upstreams_down").as_array();
  ASSERT_EQ(down.size(), 1u) << body;
  EXPECT_EQ(down.at(0).as_object().at("upstream"), "feed");
  upstream.restart();
  EXPECT_TRUE(test::eventually([&] { return readyz().status == 200; })) << readyz().body;

  n.stop();
  runner.join();
}

TEST(Node, RootSupervisorGivingUpEndsRunWithNonZeroStatus) {
  auto cfg = test_config();
  auto& root = cfg.policies.at("root");
  root.backoff_min = 1ms;
  root.backoff_max = 5ms;
  root.max_restarts = 2;
  root.on_give_up = give_up_action::escalate;
  // A child that crashes as soon as it starts: a crash loop the root
  // supervisor must give up on, ending the process with a failure status.
  child_spec crasher{
      .name = "crasher",
      .factory =
          [](caf::actor_system& sys) {
            return sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
              self->quit(caf::make_error(caf::sec::runtime_error));
              return {};
            });
          },
      .restart = restart_kind::permanent,
      .policy = "root",
  };
  node n{cfg, {.handle_signals = false, .extra_root_children = {crasher}}};
  ASSERT_EQ(n.start(), "");
  EXPECT_EQ(n.run(), exit_failure);
}

TEST(Node, StartNamesTheAddressWhenItCannotListen) {
  node first{test_config(), {.handle_signals = false}};
  ASSERT_EQ(first.start(), "");
  auto cfg = test_config();
  cfg.server.listen = "127.0.0.1:" + std::to_string(first.http_port());
  node second{cfg, {.handle_signals = false}};
  auto err = second.start();
  EXPECT_NE(err.find(cfg.server.listen), std::string::npos) << err;
}

TEST(Node, StartNamesTheFileWhenTheTlsCertificateIsNotPem) {
  auto cert = test::make_self_signed_cert();
  test::temp_file not_pem{"not a certificate\n"};
  test::temp_file key{cert.key_pem};
  auto cfg = test_config();
  cfg.server.tls = {.cert = not_pem.path(), .key = key.path()};
  node n{cfg, {.handle_signals = false}};
  auto err = n.start();
  EXPECT_NE(err.find("server.tls.cert " + not_pem.path()), std::string::npos) << err;
}

}  // namespace
}  // namespace wsvisor

namespace wsvisor {
namespace {

// server.actor_scheduler = "auto" follows the CPUs this thread may run on
// (what `taskset` sets for a whole process).
TEST(ActorScheduler, AutoSharesWorkOnOneCpuOnly) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  EXPECT_TRUE(use_work_sharing(actor_scheduler::sharing));
  EXPECT_FALSE(use_work_sharing(actor_scheduler::stealing));
  EXPECT_EQ(use_work_sharing(actor_scheduler::automatic), CPU_COUNT(&saved) == 1);

  cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &saved)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_TRUE(use_work_sharing(actor_scheduler::automatic));
  EXPECT_FALSE(use_work_sharing(actor_scheduler::stealing));
  EXPECT_TRUE(use_batch_scheduling(actor_scheduler::automatic));
  EXPECT_FALSE(
      use_batch_scheduling(actor_scheduler::sharing));  // an explicit choice keeps the OS default
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
}

}  // namespace
}  // namespace wsvisor
