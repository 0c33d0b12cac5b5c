// A running node reloading its configuration file (node::reload, as on
// SIGHUP): the owners of what changed take it up; what did not change is
// left alone. Then SIGHUP to the `wsvisor` executable, observed as an
// operator would: by its log and its behaviour.

#include "app/node.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/upstream/messages.hpp"
#include "config/loader.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/upstream_server.hpp"
#include "tests/support/ws_client.hpp"

namespace wsvisor {
namespace {

using namespace std::chrono_literals;

// A config file the test rewrites between reloads.
class config_file {
 public:
  config_file()
      : path_(std::filesystem::temp_directory_path() /
              ("wsvisor-reload-" + std::to_string(getpid()) + "-" + std::to_string(counter_++) +
               ".toml")) {}
  ~config_file() { std::filesystem::remove(path_); }
  void write(const std::string& text) { std::ofstream{path_} << text; }
  std::string path() const { return path_.string(); }

 private:
  static inline std::atomic<int> counter_{0};
  std::filesystem::path path_;
};

std::string upstream_toml(const std::string& name, const std::string& url) {
  return "[[upstream]]\nname = \"" + name + "\"\nurl = \"" + url + "\"\nchannel = \"ch." + name +
         "\"\n";
}

const std::string base_toml =
    "[server]\nlisten = \"127.0.0.1:0\"\n[log]\nlevel = \"warn\"\n"
    "[policies.upstream]\nbackoff_min = \"10ms\"\nbackoff_max = \"50ms\"\n";

// A running node with a root child that hands the test its actor system, so
// that the test can ask the node's actors as the node does.
class running_node {
 public:
  explicit running_node(const config_file& file) {
    auto loaded = load_config_file(file.path());
    EXPECT_TRUE(loaded.ok());
    child_spec probe{
        .name = "probe",
        .factory =
            [this](caf::actor_system& sys) {
              system_.store(&sys);
              return sys.spawn(
                  [](caf::event_based_actor*, int) -> caf::behavior { return {[](int) {}}; }, 0);
            },
        .restart = restart_kind::permanent,
        .policy = "root",
    };
    node_ = std::make_unique<node>(loaded.cfg, node_options{.handle_signals = false,
                                                            .extra_root_children = {probe},
                                                            .config_file = file.path()});
    EXPECT_EQ(node_->start(), "");
    runner_ = std::thread{[this] { node_->run(); }};
  }
  ~running_node() {
    node_->stop();
    runner_.join();
  }

  node& get() { return *node_; }

  std::vector<upstream_status> upstreams() {
    auto* sys = system_.load();
    std::vector<upstream_status> out;
    if (sys == nullptr) return out;
    auto ups = sys->registry().get<caf::actor>(upstreams_name);
    if (!ups) return out;
    caf::scoped_actor self{*sys};
    self->request(ups, 5s, upstream_status_atom::value)
        .receive([&](std::vector<upstream_status>& s) { out = std::move(s); }, [](caf::error&) {});
    return out;
  }

  std::optional<upstream_status> upstream(const std::string& name) {
    for (auto& s : upstreams())
      if (s.name == name) return s;
    return std::nullopt;
  }

  bool is_up(const std::string& name, const std::string& url) {
    auto s = upstream(name);
    return s && s->state == "up" && s->url == url;
  }

 private:
  std::atomic<caf::actor_system*> system_{nullptr};
  std::unique_ptr<node> node_;
  std::thread runner_;
};

TEST(NodeReload, UpstreamsAreAddedRemovedAndRestartedAndAnUnchangedOneIsLeftAlone) {
  test::upstream_server kept, gone, moved_from, moved_to, added;
  config_file file;
  file.write(base_toml + upstream_toml("kept", kept.url()) + upstream_toml("gone", gone.url()) +
             upstream_toml("moved", moved_from.url()));
  running_node n{file};
  ASSERT_TRUE(test::eventually([&] {
    return n.is_up("kept", kept.url()) && n.is_up("gone", gone.url()) &&
           n.is_up("moved", moved_from.url());
  }));

  file.write(base_toml + upstream_toml("kept", kept.url()) +
             upstream_toml("moved", moved_to.url()) + upstream_toml("added", added.url()));
  n.get().reload();

  EXPECT_TRUE(added.await_upgrades(1));
  EXPECT_TRUE(moved_to.await_upgrades(1));
  ASSERT_TRUE(test::eventually([&] {
    return n.is_up("added", added.url()) && n.is_up("moved", moved_to.url()) && !n.upstream("gone");
  })) << "upstreams: "
      << n.upstreams().size();
  std::vector<std::string> names;
  for (auto& s : n.upstreams()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"kept", "moved", "added"}));
  // The unchanged link was not touched: one connection, no restart.
  EXPECT_EQ(kept.upgrades(), 1u);
  EXPECT_EQ(n.upstream("kept")->restarts, 0u);
  EXPECT_EQ(moved_from.upgrades(), 1u);
}

TEST(NodeReload, ARaisedConnectionsPerIpLimitAdmitsTheNextConnection) {
  config_file file;
  file.write(base_toml + "[limits]\nconnections_per_ip = 1\n");
  running_node n{file};
  auto port = n.get().http_port();
  test::ws_client first, second;
  ASSERT_TRUE(first.connect(port).ok);
  auto refused = second.connect(port);
  ASSERT_FALSE(refused.ok);
  EXPECT_EQ(refused.status, 429);

  file.write(base_toml + "[limits]\nconnections_per_ip = 2\n");
  n.get().reload();
  EXPECT_TRUE(test::eventually([&] {
    test::ws_client c;
    if (!c.connect(port).ok) return false;
    c.close();
    return true;
  }));
}

std::function<bool(const std::string&)> has(std::string text) {
  return [text = std::move(text)](const std::string& line) {
    return line.find(text) != std::string::npos;
  };
}

TEST(WsvisorReload, SighupAppliesAGoodFileRefusesABadOneAndNamesWhatNeedsARestart) {
  test::upstream_server up;
  config_file file;
  const std::string listen = "[server]\nlisten = \"127.0.0.1:0\"\n";
  file.write(listen + "[log]\nlevel = \"info\"\n[limits]\nconnections_per_ip = 1\n");
  test::child_process p{WSVISOR_BINARY, {"--config", file.path()}};
  auto port = test::await_loopback_port(p, "listening");
  ASSERT_NE(port, 0) << p.stderr_text();
  test::ws_client first, refused;
  ASSERT_TRUE(first.connect(port).ok);
  EXPECT_EQ(refused.connect(port).status, 429);
  EXPECT_EQ(test::http_request(port, "GET", "/healthz").status, 200);

  // A good file: debug logging, a raised limit, one more upstream.
  const std::string good = "[log]\nlevel = \"debug\"\n[limits]\nconnections_per_ip = 2\n" +
                           upstream_toml("feed", up.url());
  file.write(listen + good);
  p.send_signal(SIGHUP);
  auto reloaded = p.wait_for_stderr_line(has("configuration reloaded"));
  ASSERT_TRUE(reloaded) << p.stderr_text();
  EXPECT_NE(reloaded->find("changed=\"log.level, limits.connections_per_ip, upstream.feed\""),
            std::string::npos)
      << *reloaded;
  EXPECT_NE(reloaded->find("needs_restart=-"), std::string::npos) << *reloaded;
  auto before = p.stderr_text().substr(0, p.stderr_text().find("configuration reloaded"));
  EXPECT_EQ(before.find(" debug ["), std::string::npos) << before;
  EXPECT_TRUE(up.await_upgrades(1));
  test::ws_client second;
  EXPECT_TRUE(second.connect(port).ok);
  EXPECT_EQ(test::http_request(port, "GET", "/healthz").status, 200);
  EXPECT_TRUE(p.wait_for_stderr_line([](const std::string& l) {
    return l.find(" debug [http] request") != std::string::npos;
  })) << p.stderr_text();

  // A bad file: each error logged naming key and line; nothing of it applies.
  file.write(listen + "[limits]\nconnections_per_ip = 5\nsessions = \"many\"\n");
  p.send_signal(SIGHUP);
  auto error = p.wait_for_stderr_line(has("reload: configuration error"));
  ASSERT_TRUE(error) << p.stderr_text();
  EXPECT_NE(error->find(":5: limits.sessions"), std::string::npos) << *error;
  EXPECT_TRUE(p.wait_for_stderr_line(has("reload refused"))) << p.stderr_text();
  test::ws_client third;
  EXPECT_EQ(third.connect(port).status, 429);  // still 2 per address
  EXPECT_EQ(test::http_request(port, "GET", "/healthz").status, 200);

  // A new listen address is not applied but named.
  file.write("[server]\nlisten = \"127.0.0.1:1\"\n" + good);
  p.send_signal(SIGHUP);
  auto restart = p.wait_for_stderr_line(has("need a restart"));
  ASSERT_TRUE(restart) << p.stderr_text();
  EXPECT_NE(restart->find("keys=server.listen"), std::string::npos) << *restart;
  reloaded = p.wait_for_stderr_line(has("configuration reloaded"));
  ASSERT_TRUE(reloaded);
  EXPECT_NE(reloaded->find("changed=- needs_restart=server.listen"), std::string::npos)
      << *reloaded;
  EXPECT_EQ(test::http_request(port, "GET", "/healthz").status, 200);

  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
}

TEST(WsvisorReload, SighupWithoutAConfigFileSaysThereIsNothingToReload) {
  test::child_process p{WSVISOR_BINARY, {"--set", "server.listen=127.0.0.1:0"}};
  ASSERT_NE(test::await_loopback_port(p, "listening"), 0) << p.stderr_text();
  p.send_signal(SIGHUP);
  EXPECT_TRUE(p.wait_for_stderr_line(has("nothing to reload"))) << p.stderr_text();
  p.send_signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.stderr_text();
}

}  // namespace
}  // namespace wsvisor
