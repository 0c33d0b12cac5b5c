#include "tests/actors/session/session_fixture.hpp"

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <caf/actor_registry.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/messages.hpp"
#include "actors/session/cluster_seam.hpp"
#include "actors/session/messages.hpp"
#include "tests/support/eventually.hpp"

namespace wsvisor::test {
namespace {

namespace json = boost::json;

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  add_session_message_types(cfg);
  return cfg;
}

template <class... Ts>
std::uint64_t ask(caf::actor_system& sys, const caf::actor& whom, Ts... xs) {
  std::uint64_t out = 0;
  caf::scoped_actor self{sys};
  self->request(whom, await_timeout, xs...)
      .receive([&](std::uint64_t n) { out = n; },
               [&](caf::error& err) { ADD_FAILURE() << sys.render(err); });
  return out;
}

}  // namespace

session_config test_session_config() {
  session_config s;
  s.resume_window = std::chrono::milliseconds{30'000};
  s.replay_buffer = 1024;
  s.replay_buffer_bytes = 1 << 20;
  s.heartbeat_interval = std::chrono::milliseconds{60'000};
  s.heartbeat_timeout = std::chrono::milliseconds{120'000};
  return s;
}

SessionFixture::SessionFixture() : sys_(configure(cfg_)) {}

SessionFixture::~SessionFixture() {
  // Connections end with their sockets, sessions with the registry: after
  // this the actor system has nothing left to wait for.
  for (auto& c : clients_) c->drop();
  if (registry_) caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
}

void SessionFixture::start_registry() {
  registry_opts_.session = session_;
  registry_ = spawn_registry(sys_, registry_opts_);
}

connection_options SessionFixture::connection_opts() const {
  connection_options opts = conn_opts_;
  opts.session = session_;
  opts.handshake_timeout = handshake_timeout_;
  return opts;
}

test_client& SessionFixture::connect() {
  clients_.push_back(std::make_unique<test_client>(sys_, connection_opts()));
  return *clients_.back();
}

namespace {

welcome_info read_welcome(test_client& c) {
  auto w = c.expect("welcome");
  welcome_info out;
  out.session = str(w, "session");
  out.token = str(w, "token");
  if (auto* r = w.if_contains("resumed"); r != nullptr && r->is_bool()) out.resumed = r->get_bool();
  out.reason = str(w, "reason");
  out.last_cseq = num(w, "last_cseq");
  out.replay = num(w, "replay");
  return out;
}

}  // namespace

welcome_info SessionFixture::hello(test_client& c) {
  c.send(R"({"type":"hello"})");
  return read_welcome(c);
}

welcome_info SessionFixture::resume(test_client& c, const welcome_info& w, std::uint64_t last_seq) {
  c.send(json::object{
      {"type", "resume"}, {"session", w.session}, {"token", w.token}, {"last_seq", last_seq}});
  return read_welcome(c);
}

SessionFixture::news_pair SessionFixture::reader_and_writer() {
  auto& reader = connect();
  auto& writer = connect();
  auto welcome = hello(reader);
  hello(writer);
  subscribe(reader, "news");
  return {reader, writer, welcome};
}

void SessionFixture::subscribe(test_client& c, const std::string& channel) {
  c.send(json::object{{"type", "subscribe"}, {"channel", channel}});
  auto f = c.expect("subscribed");
  EXPECT_EQ(str(f, "channel"), channel);
}

void SessionFixture::publish(test_client& c, const std::string& channel, std::int64_t data,
                             std::uint64_t cseq) {
  c.send(json::object{{"type", "publish"}, {"channel", channel}, {"data", data}, {"cseq", cseq}});
  auto f = c.expect("ack");
  EXPECT_EQ(num(f, "cseq"), static_cast<std::int64_t>(cseq));
}

void SessionFixture::expect_message(test_client& c, std::int64_t seq, std::int64_t data,
                                    const std::string& channel) {
  auto f = c.expect("message");
  EXPECT_EQ(num(f, "seq"), seq) << json::serialize(f);
  EXPECT_EQ(num(f, "data"), data) << json::serialize(f);
  EXPECT_EQ(str(f, "channel"), channel) << json::serialize(f);
}

void SessionFixture::send_channel_gap(const std::string& channel) {
  auto broker = sys_.registry().get<caf::actor>(broker_name);
  ASSERT_TRUE(broker) << "no broker registered";
  caf::anon_send(broker, cluster_gap_atom::value, std::vector<std::string>{channel});
}

std::uint64_t SessionFixture::subscribers(const std::string& channel) {
  auto broker = sys_.registry().get<caf::actor>(broker_name);
  if (!broker) {
    ADD_FAILURE() << "no broker registered";
    return 0;
  }
  return ask(sys_, broker, channel_subscribers_atom::value, channel);
}

void SessionFixture::settle(const caf::actor& whom) {
  caf::scoped_actor self{sys_};
  self->request(whom, await_timeout, caf::sys_atom::value, caf::get_atom::value,
                std::string{"info"})
      .receive(
          [](caf::ok_atom, const std::string&, const caf::strong_actor_ptr&, const std::string&) {},
          [&](caf::error& err) { ADD_FAILURE() << sys_.render(err); });
}

std::uint64_t SessionFixture::live_sessions() {
  return ask(sys_, registry_, registry_stats_atom::value);
}

bool SessionFixture::eventually(const std::function<bool()>& pred) {
  return test::eventually(pred, await_timeout);
}

}  // namespace wsvisor::test
