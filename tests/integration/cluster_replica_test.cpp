// Replicas (docs/cluster.md, "Replicas"): a node's death loses no session.
// Real wsvisor processes on loopback; clients speak wsvisor.v1 over real
// sockets and the nodes are killed with SIGKILL.

#include "tests/integration/cluster_scenarios.hpp"
#include "tests/support/eventually.hpp"

namespace wsvisor::test::cluster_scenarios {
namespace {

// What one client saw of the numbered stream, over every connection.
struct seen_stream {
  std::string session;
  std::string token;
  std::uint64_t last_seq = 0;
  std::int64_t last_n = 0;
  std::size_t received = 0;

  void feed(const json::object& m) {
    EXPECT_EQ(num(m, "seq"), last_seq + 1) << session << ": " << json::serialize(m);
    last_seq = num(m, "seq");
    auto n = m.at("data").as_object().at("n").to_number<std::int64_t>();
    EXPECT_EQ(n, last_n + 1) << session << ": out of order or twice: " << json::serialize(m);
    last_n = n;
    ++received;
  }
};

// Takes every message already on the connection, until it ends or is quiet.
void drain(wire_client& c, seen_stream& s, ms quiet) {
  while (auto f = c.next(quiet)) {
    if (str(*f, "type") == "message") s.feed(*f);
  }
}

// Resumes `s` on `port`; a close 4503 (the session's home is lost and its
// replica not adopted yet) is retried after `retry`, as a client would.
std::unique_ptr<wire_client> resume_until_taken(std::uint16_t port, const seen_stream& s, ms retry,
                                                clock::time_point deadline, json::object& welcome) {
  while (clock::now() < deadline) {
    auto c = std::make_unique<wire_client>(port);
    c->send(
        {{"type", "resume"}, {"session", s.session}, {"token", s.token}, {"last_seq", s.last_seq}});
    auto f = c->next(5s);
    if (f) {
      welcome = *f;
      return c;
    }
    EXPECT_EQ(c->last_event().close_code, 4503) << s.session << ": closed without a welcome";
    std::this_thread::sleep_for(retry);  // the client's back-off, not a synchronisation
  }
  ADD_FAILURE() << s.session << ": not resumed before the deadline";
  return nullptr;
}

// Session id -> its replica's node, from a node's admin API (null: none).
std::map<std::string, std::string> replicas_on(cluster_node& n) {
  std::map<std::string, std::string> out;
  auto body = http_request(n.http_port(), "GET", "/api/sessions?limit=1000").body;
  auto parsed = json::parse(body).as_object();
  for (auto& v : parsed.at("sessions").as_array()) {
    auto& s = v.as_object();
    auto& r = s.at("replica");
    out[std::string(s.at("id").as_string())] =
        r.is_object() ? std::string(r.as_object().at("node").as_string()) : std::string{};
  }
  return out;
}

// The clients' sessions, each subscribed to "room", homed on `home`.
void open_sessions(cluster_node& home, std::size_t n,
                   std::vector<std::unique_ptr<wire_client>>& clients,
                   std::vector<seen_stream>& seen) {
  seen.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<wire_client>(home.http_port()));
    auto w = clients.back()->hello();
    seen[i].session = str(w, "session");
    seen[i].token = str(w, "token");
    EXPECT_TRUE(homed_on(seen[i].session, home.name())) << seen[i].session;
    clients.back()->subscribe("room");
  }
}

// Publishes numbers first..last on "room", one every 10 ms, each acknowledged.
std::thread steady_publisher(wire_client& pub, std::uint64_t& cseq, std::int64_t first,
                             std::int64_t last) {
  return std::thread([&pub, &cseq, first, last] {
    for (auto n = first; n <= last; ++n) {
      pub.send(
          {{"type", "publish"}, {"channel", "room"}, {"data", numbered("p", n)}, {"cseq", ++cseq}});
      auto ack = pub.expect("ack", 20s);
      EXPECT_EQ(num(ack, "cseq"), cseq) << json::serialize(ack);
      std::this_thread::sleep_for(10ms);  // a steady stream, not a burst
    }
  });
}

// Every client resumes on one of `ports` (in turn), then gets every message up
// to `total`, each once, in order; returns how many resumed.
std::size_t resume_all_and_check(std::vector<std::unique_ptr<wire_client>>& clients,
                                 std::vector<seen_stream>& seen,
                                 const std::vector<std::uint16_t>& ports, std::int64_t total) {
  auto deadline = clock::now() + 60s;
  std::size_t resumed = 0;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    json::object w;
    clients[i] = resume_until_taken(ports[i % ports.size()], seen[i], 200ms, deadline, w);
    if (!clients[i]) continue;
    EXPECT_TRUE(is_true(w, "resumed")) << seen[i].session << ": " << json::serialize(w);
    EXPECT_EQ(str(w, "session"), seen[i].session);
    if (is_true(w, "resumed")) ++resumed;
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (!clients[i]) continue;
    auto left = static_cast<std::size_t>(total - seen[i].last_n);
    for (auto& m : take_messages(*clients[i], left, 20s)) seen[i].feed(m);
    EXPECT_EQ(seen[i].last_n, total) << seen[i].session;
  }
  return resumed;
}

class Replicas : public Cluster {
 protected:
  // Starts a, b and c, then opens `n` sessions homed on a, each subscribed
  // to "room"; false if the cluster did not start.
  bool start_with_sessions_on_a(std::size_t n) {
    auto& cl = make({"a", "b", "c"});
    if (!cl.start()) return false;
    a_ = &cl.node("a");
    b_ = &cl.node("b");
    c_ = &cl.node("c");
    open_sessions(*a_, n, clients_, seen_);
    return true;
  }

  cluster_node* a_ = nullptr;
  cluster_node* b_ = nullptr;
  cluster_node* c_ = nullptr;
  std::vector<std::unique_ptr<wire_client>> clients_;
  std::vector<seen_stream> seen_;
};

double metric_sum(std::vector<cluster_node*> nodes, const std::string& name) {
  double sum = 0;
  for (auto* n : nodes) {
    sum += parse_prom_text(http_request(n->http_port(), "GET", "/metrics").body).count(name);
  }
  return sum;
}

TEST_F(Replicas, AKilledNodesSessionsAreAdoptedAndResumeElsewhereWithEveryMessageOnce) {
  constexpr std::size_t sessions = 200;
  constexpr std::int64_t before_kill = 10;
  constexpr std::int64_t total = 60;
  ASSERT_TRUE(start_with_sessions_on_a(sessions));
  auto& a = *a_;
  auto& b = *b_;
  auto& c = *c_;
  auto& clients = clients_;
  auto& seen = seen_;
  // Every session has its replica on b or c.
  EXPECT_TRUE(eventually(
      [&] {
        return metric_sum({&b, &c}, "wsvisor_session_replicas") == double(sessions);
      },
      10s))
      << metric_sum({&b, &c}, "wsvisor_session_replicas");

  wire_client pub{b.http_port()};
  pub.hello();
  std::uint64_t cseq = 0;
  publish_numbered(pub, "p", "room", 1, before_kill, cseq);
  for (std::size_t i = 0; i < sessions; ++i) {
    for (auto& m : take_messages(*clients[i], before_kill)) seen[i].feed(m);
    clients[i]->send({{"type", "ack"}, {"seq", seen[i].last_seq / 2}});
  }

  // Publishes keep flowing from b while a dies.
  auto publisher = steady_publisher(pub, cseq, before_kill + 1, total);
  std::this_thread::sleep_for(50ms);  // a few of them reach a first
  auto b_mark = b.mark();
  auto c_mark = c.mark();
  a.kill9();
  EXPECT_TRUE(b.await_peer_down("a", detection_wait, b_mark));
  EXPECT_TRUE(c.await_peer_down("a", detection_wait, c_mark));

  // What a had sent before it died is on the old connections.
  for (std::size_t i = 0; i < sessions; ++i) {
    drain(*clients[i], seen[i], 100ms);
    clients[i].reset();
  }

  // Every client resumes through b or c with everything it lacks.
  auto resumed = resume_all_and_check(clients, seen, {b.http_port(), c.http_port()}, total);
  publisher.join();
  EXPECT_EQ(resumed, sessions);
  for (std::size_t i = 0; i < sessions; i += 37) expect_quiet(*clients[i], seen[i].session);
  EXPECT_EQ(metric_sum({&b, &c}, "wsvisor_session_adoptions_total"), double(sessions));
}

TEST_F(Replicas, AReplicasDeathIsRepairedAndTheSessionsStillSurviveTheirHome) {
  constexpr std::size_t sessions = 40;
  ASSERT_TRUE(start_with_sessions_on_a(sessions));
  auto& a = *a_;
  auto& b = *b_;
  auto& c = *c_;
  auto& clients = clients_;
  auto& seen = seen_;
  std::map<std::string, std::string> where;
  ASSERT_TRUE(eventually(
      [&] {
        where = replicas_on(a);
        return where.size() == sessions &&
               std::all_of(where.begin(), where.end(), [](auto& e) { return !e.second.empty(); });
      },
      10s));
  auto on_b = std::count_if(where.begin(), where.end(), [](auto& e) { return e.second == "b"; });
  ASSERT_GT(on_b, 0) << "rendezvous hashing put no replica on b";
  ASSERT_LT(on_b, std::int64_t(sessions)) << "rendezvous hashing put every replica on b";

  // b dies: the sessions whose replica it held place it on c.
  auto mark = a.mark();
  b.kill9();
  ASSERT_TRUE(a.await_peer_down("b", detection_wait, mark));
  EXPECT_TRUE(eventually(
      [&] {
        where = replicas_on(a);
        return std::all_of(where.begin(), where.end(), [](auto& e) { return e.second == "c"; });
      },
      10s))
      << "replicas not all moved to c";

  wire_client pub{c.http_port()};
  pub.hello();
  std::uint64_t cseq = 0;
  publish_numbered(pub, "p", "room", 1, 5, cseq);
  for (std::size_t i = 0; i < sessions; ++i)
    for (auto& m : take_messages(*clients[i], 5)) seen[i].feed(m);

  // Then a dies too: c adopts every session.
  auto publisher = steady_publisher(pub, cseq, 6, 30);
  std::this_thread::sleep_for(50ms);  // a few of them reach a first
  auto c_mark = c.mark();
  a.kill9();
  EXPECT_TRUE(c.await_peer_down("a", detection_wait, c_mark));
  for (std::size_t i = 0; i < sessions; ++i) {
    drain(*clients[i], seen[i], 100ms);
    clients[i].reset();
  }
  publisher.join();
  EXPECT_EQ(resume_all_and_check(clients, seen, {c.http_port()}, 30), sessions);
  EXPECT_EQ(metric_sum({&c}, "wsvisor_session_adoptions_total"), double(sessions));
}

TEST_F(Replicas, AFrozenHomesSessionsAreAdoptedAndItsWokenCopiesStepAside) {
  constexpr std::size_t sessions = 50;
  ASSERT_TRUE(start_with_sessions_on_a(sessions));
  auto& a = *a_;
  auto& b = *b_;
  auto& c = *c_;
  auto& clients = clients_;
  auto& seen = seen_;
  EXPECT_TRUE(eventually(
      [&] {
        return metric_sum({&b, &c}, "wsvisor_session_replicas") == double(sessions);
      },
      10s));

  wire_client pub{b.http_port()};
  pub.hello();
  std::uint64_t cseq = 0;
  publish_numbered(pub, "p", "room", 1, 5, cseq);
  for (std::size_t i = 0; i < sessions; ++i)
    for (auto& m : take_messages(*clients[i], 5)) seen[i].feed(m);

  // a freezes past peer_timeout while b publishes: b and c adopt its sessions.
  auto publisher = steady_publisher(pub, cseq, 6, 60);
  std::this_thread::sleep_for(50ms);
  auto b_mark = b.mark();
  auto c_mark = c.mark();
  a.freeze();
  EXPECT_TRUE(b.await_peer_down("a", detection_wait, b_mark));
  EXPECT_TRUE(c.await_peer_down("a", detection_wait, c_mark));
  for (std::size_t i = 0; i < sessions; ++i) drain(*clients[i], seen[i], 20ms);
  // The clients' connections to a are silent; they resume elsewhere.
  std::vector<std::unique_ptr<wire_client>> old = std::move(clients);
  clients.resize(sessions);
  publisher.join();
  EXPECT_EQ(resume_all_and_check(clients, seen, {b.http_port(), c.http_port()}, 60), sessions);

  // a wakes: each stale copy is refused at its next change and closes its
  // client with 4413; none is a second home.
  auto a_mark = a.mark();
  a.thaw();
  EXPECT_TRUE(a.await_peer_up("b", rejoin_wait, a_mark));
  publish_numbered(pub, "p", "room", 61, 61, cseq);
  for (std::size_t i = 0; i < sessions; ++i) {
    EXPECT_EQ(old[i]->await_close(20s), 4413) << seen[i].session;
    auto m = take_messages(*clients[i], 1);
    for (auto& f : m) seen[i].feed(f);
  }
  EXPECT_TRUE(eventually([&] { return replicas_on(a).empty(); }, 10s))
      << replicas_on(a).size() << " sessions still on a";
  std::map<std::string, int> homes;
  for (auto* n : {&b, &c})
    for (auto& [id, replica] : replicas_on(*n)) ++homes[id];
  for (auto& s : seen) EXPECT_EQ(homes[s.session], 1) << s.session;
}

}  // namespace
}  // namespace wsvisor::test::cluster_scenarios
