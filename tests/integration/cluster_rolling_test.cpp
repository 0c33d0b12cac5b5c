// A rolling restart of a three-node cluster under traffic: every message
// published is delivered once, in order, to every subscriber.

#include "tests/integration/cluster_scenarios.hpp"

namespace wsvisor::test::cluster_scenarios {
namespace {

// Scale here. Each client publishes to its successor's inbox (on another
// node: client i starts on node i % 3) and receives its predecessor's.
constexpr std::size_t rolling_clients = 300;
constexpr std::size_t driver_threads = 4;
constexpr ms publish_interval{400};  // per client
constexpr std::uint64_t max_in_flight = 8;
constexpr std::uint64_t ack_every = 8;
constexpr ms close_after_goaway_wait{10'000};

// Progress shared by the driver threads and the test thread.
struct rolling_progress {
  std::mutex mutex;
  std::condition_variable cv;
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::size_t> not_live{0};  // connected, draining or reconnecting
  std::atomic<bool> publishing{false};
  std::atomic<bool> stop{false};
  std::vector<std::atomic<bool>> node_up;
  explicit rolling_progress(std::size_t nodes) : node_up(nodes) {
    for (auto& u : node_up) u = true;
  }
  void changed() { cv.notify_all(); }
  template <class Pred>
  bool await(Pred pred, ms timeout) {
    std::unique_lock lock{mutex};
    return cv.wait_for(lock, timeout, pred);
  }
};

struct roller {
  enum class state { live, draining, waiting, failed };

  std::size_t index = 0;
  std::size_t clients = 0;
  std::vector<std::uint16_t> node_ports;
  std::unique_ptr<wire_client> ws;
  state st = state::live;
  std::uint16_t port = 0;
  std::string session, token, original_session;
  std::uint64_t last_seq = 0, acked_seq = 0;
  std::uint64_t next_cseq = 1;
  std::uint64_t expect_n = 1;
  clock::time_point next_publish;
  std::uint16_t goaway_port = 0;
  clock::time_point retry_at;      // draining: goaway's retry_ms from its arrival
  clock::time_point close_by;      // draining: the server's close is due by then
  clock::time_point reconnect_at;  // waiting
  std::size_t next_fallback = 0;

  // Read by the test thread.
  std::atomic<std::uint64_t> sent{0};      // publishes made (next_cseq - 1)
  std::atomic<std::uint64_t> acked{0};     // highest acked cseq
  std::atomic<std::uint64_t> received{0};  // predecessor's messages received
  std::atomic<std::uint64_t> goaways{0}, resumes{0}, closes_without_goaway{0};
  std::atomic<bool> lost{false};  // st == failed
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::vector<std::string> history;  // connections, goaways, resumes: for failure reports
  clock::time_point epoch;           // when the test started the clients

  void note(std::string what) {
    auto t = std::chrono::duration_cast<ms>(clock::now() - epoch).count();
    std::lock_guard lock{errors_mutex};
    history.push_back("+" + std::to_string(t) + " ms " + std::move(what));
  }

  std::string inbox() const { return "roll." + std::to_string(index); }
  std::string outbox() const { return "roll." + std::to_string((index + 1) % clients); }
  std::size_t predecessor() const { return (index + clients - 1) % clients; }

  void error(std::string e) {
    std::lock_guard lock{errors_mutex};
    errors.push_back("client " + std::to_string(index) + " (" + original_session +
                     "): " + std::move(e));
  }

  // Sends on the raw socket: a connection that the server is closing is not
  // a test failure, it is noticed on the next read.
  void send(const json::object& frame) { ws->socket().send_text(json::serialize(frame)); }

  void publish(std::uint64_t cseq) {
    send({{"type", "publish"},
          {"channel", outbox()},
          {"data", json::object{{"from", index}, {"n", cseq}}},
          {"cseq", cseq}});
  }

  bool connect_first(std::uint16_t p) {
    port = p;
    ws = std::make_unique<wire_client>(port);
    auto w = ws->hello();
    session = original_session = str(w, "session");
    token = str(w, "token");
    note("hello at port " + std::to_string(port) + ": " + session);
    if (session.empty()) return false;
    ws->subscribe(inbox());
    return true;
  }

  void handle(const json::object& f, rolling_progress& progress) {
    auto type = str(f, "type");
    if (type == "message") {
      auto seq = num(f, "seq");
      if (seq != last_seq + 1)
        error("seq " + std::to_string(seq) + " after " + std::to_string(last_seq) +
              (seq <= last_seq ? " (duplicate)" : " (gap: lost)"));
      last_seq = std::max(last_seq, seq);
      const auto& d = f.at("data").as_object();
      auto from = d.at("from").to_number<std::size_t>();
      auto n = d.at("n").to_number<std::uint64_t>();
      if (from != predecessor()) error("message from " + std::to_string(from));
      if (n != expect_n)
        error("n " + std::to_string(n) + " from " + std::to_string(from) + ", expected " +
              std::to_string(expect_n) + (n < expect_n ? " (duplicate)" : " (lost)"));
      expect_n = std::max(expect_n, n + 1);
      received = expect_n - 1;
      progress.messages.fetch_add(1, std::memory_order_relaxed);
      if (last_seq - acked_seq >= ack_every) {
        send({{"type", "ack"}, {"seq", last_seq}});
        acked_seq = last_seq;
      }
    } else if (type == "ack") {
      auto c = num(f, "cseq");
      if (c >= next_cseq) error("ack of cseq " + std::to_string(c) + " never sent");
      if (c > acked) acked = c;
    } else if (type == "goaway") {
      ++goaways;
      goaway_port = port_of_url(str(f, "url"));
      if (goaway_port == 0 || goaway_port == port)
        error("goaway without a usable url: " + json::serialize(f));
      auto retry = num(f, "retry_ms");
      if (retry == ~std::uint64_t{0}) {
        error("goaway without retry_ms: " + json::serialize(f));
        retry = 0;
      }
      note("goaway " + json::serialize(f) + " at last_seq=" + std::to_string(last_seq) +
           " sent=" + std::to_string(next_cseq - 1) + " acked=" + std::to_string(acked));
      st = state::draining;
      close_by = clock::now() + close_after_goaway_wait;
      retry_at = clock::now() + ms{retry};
    } else {
      error("unexpected frame " + json::serialize(f));
    }
  }

  std::uint16_t fallback_port(rolling_progress& progress) {
    for (std::size_t i = 0; i < node_ports.size(); ++i) {
      auto k = (next_fallback + i) % node_ports.size();
      if (progress.node_up[k] && node_ports[k] != port) {
        next_fallback = k + 1;
        return node_ports[k];
      }
    }
    return port;
  }

  void connection_ended(rolling_progress& progress) {
    const auto& ev = ws->last_event();
    note("connection ended: " + (ev.type == ws_event::kind::closed
                                     ? "close " + std::to_string(ev.close_code)
                                     : "error " + ev.text));
    if (st == state::draining) {
      if (ev.type != ws_event::kind::closed || ev.close_code != 1001)
        error("after goaway the connection ended with " +
              (ev.type == ws_event::kind::closed ? "close " + std::to_string(ev.close_code)
                                                 : "error " + ev.text) +
              ", not 1001");
      port = goaway_port ? goaway_port : fallback_port(progress);
      reconnect_at = retry_at;
    } else {
      ++closes_without_goaway;
      error("connection on port " + std::to_string(port) + " ended without goaway: " +
            (ev.type == ws_event::kind::closed ? "close " + std::to_string(ev.close_code)
                                               : "error " + ev.text));
      port = fallback_port(progress);
      reconnect_at = clock::now() + 200ms;
    }
    ws.reset();
    st = state::waiting;
  }

  void reconnect(rolling_progress& progress) {
    ws = std::make_unique<wire_client>(port);
    send({{"type", "resume"}, {"session", session}, {"token", token}, {"last_seq", last_seq}});
    auto w = ws->expect("welcome", 15s);
    if (w.empty()) {
      error("no welcome from port " + std::to_string(port));
      ws.reset();
      port = fallback_port(progress);
      reconnect_at = clock::now() + 200ms;
      return;
    }
    ++resumes;
    if (!is_true(w, "resumed") || str(w, "session") != session) {
      error("session lost on resume at port " + std::to_string(port) + ": " + json::serialize(w));
      fail(progress);
      return;
    }
    auto last_cseq = num(w, "last_cseq");
    if (last_cseq >= next_cseq)
      error("welcome last_cseq " + std::to_string(last_cseq) + " beyond the last publish " +
            std::to_string(next_cseq - 1));
    if (last_cseq > acked && last_cseq < next_cseq) acked = last_cseq;
    note("resumed at port " + std::to_string(port) + ": last_seq=" + std::to_string(last_seq) +
         " welcome.last_cseq=" + std::to_string(last_cseq) + " sent=" +
         std::to_string(next_cseq - 1) + ", resending " + std::to_string(next_cseq - 1 - acked));
    for (auto c = acked + 1; c < next_cseq; ++c) publish(c);  // resend the unacknowledged
    st = state::live;
    progress.not_live.fetch_sub(1);
    next_publish = clock::now();
  }

  void fail(rolling_progress& progress) {
    if (st != state::live) progress.not_live.fetch_sub(1);
    st = state::failed;
    lost = true;
    ws.reset();
  }

  // One round: read what is there, publish when due, reconnect when due.
  void step(rolling_progress& progress) {
    if (st == state::failed) return;
    try {
      step_unguarded(progress);
    } catch (const std::exception& e) {
      error(std::string{"malformed frame or failed step: "} + e.what());
      fail(progress);
    }
  }

  void step_unguarded(rolling_progress& progress) {
    auto now = clock::now();
    if (st == state::waiting) {
      if (now >= reconnect_at) reconnect(progress);
      return;
    }
    if (st == state::failed) return;
    for (int i = 0; i < 64; ++i) {
      auto f = ws->next(ms{1});
      if (!f) {
        if (ws->last_event().type == ws_event::kind::timeout) break;
        if (st == state::live) progress.not_live.fetch_add(1);
        connection_ended(progress);
        return;
      }
      auto was = st;
      handle(*f, progress);
      if (was == state::live && st == state::draining) progress.not_live.fetch_add(1);
    }
    if (st == state::draining && clock::now() > close_by) {
      error("no close within " + std::to_string(close_after_goaway_wait.count()) + " ms of goaway");
      ws->socket().drop();
      connection_ended(progress);
      return;
    }
    if (st == state::live && progress.publishing && clock::now() >= next_publish &&
        next_cseq - 1 - acked < max_in_flight) {
      publish(next_cseq++);
      sent = next_cseq - 1;
      next_publish = clock::now() + publish_interval;
    }
  }
};

// Errors grouped by kind: the text after "client N (session): " with every
// run of digits as #; a count and the first example of each.
std::string errors_by_kind(const std::vector<std::string>& errors) {
  std::map<std::string, std::pair<std::size_t, std::string>> kinds;
  for (const auto& e : errors) {
    auto at = e.find("): ");
    auto text = at == std::string::npos ? e : e.substr(at + 3);
    std::string kind;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
        kind += text[i];
        continue;
      }
      kind += '#';
      while (i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1]))) ++i;
    }
    auto& k = kinds[kind];
    if (k.first++ == 0) k.second = e;
  }
  std::string out;
  for (const auto& [kind, k] : kinds)
    out += "  " + std::to_string(k.first) + " x " + kind + "\n    e.g. " + k.second + "\n";
  return out;
}

TEST_F(Cluster, RollingRestartOfThreeNodesLosesNothing) {
  auto& cl = make({"a", "b", "c"});
  ASSERT_TRUE(cl.start());
  std::vector<std::uint16_t> ports;
  for (auto& n : cl.nodes()) ports.push_back(n->http_port());

  rolling_progress progress{cl.size()};
  auto test_began = clock::now();
  std::vector<std::unique_ptr<roller>> clients;
  std::mt19937_64 rng{20260611};
  for (std::size_t i = 0; i < rolling_clients; ++i) {
    auto r = std::make_unique<roller>();
    r->index = i;
    r->clients = rolling_clients;
    r->node_ports = ports;
    r->next_publish = clock::now() + ms{rng() % publish_interval.count()};  // staggered
    r->epoch = test_began;
    clients.push_back(std::move(r));
  }

  // Connect everyone (in parallel, as the drivers will run them).
  std::atomic<std::size_t> connected{0};
  std::vector<std::thread> drivers;
  for (std::size_t t = 0; t < driver_threads; ++t) {
    drivers.emplace_back([&, t] {
      for (std::size_t i = t; i < clients.size(); i += driver_threads) {
        if (clients[i]->connect_first(ports[i % ports.size()])) {
          ++connected;
        } else {
          clients[i]->st = roller::state::failed;
          clients[i]->lost = true;
        }
        progress.changed();
      }
      while (!progress.stop) {
        for (std::size_t i = t; i < clients.size(); i += driver_threads) clients[i]->step(progress);
        progress.changed();
      }
    });
  }
  auto stop_drivers = [&] {
    progress.stop = true;
    for (auto& d : drivers)
      if (d.joinable()) d.join();
  };
  struct joiner {
    std::function<void()> f;
    ~joiner() { f(); }
  } join_on_exit{stop_drivers};

  ASSERT_TRUE(progress.await([&] { return connected == rolling_clients; }, 60s))
      << connected << " of " << rolling_clients << " clients connected";
  auto start_traffic = clock::now();
  progress.publishing = true;

  auto traffic_flows = [&](const char* when) {
    auto base = progress.messages.load();
    EXPECT_TRUE(
        progress.await([&] { return progress.messages >= base + 2 * rolling_clients; }, 10s))
        << "traffic stalled " << when << ": " << progress.messages - base << " messages";
  };
  traffic_flows("at the start");

  for (std::size_t k = 0; k < cl.size(); ++k) {
    auto& n = cl[k];
    SCOPED_TRACE("draining node " + n.name());
    auto marks = cl.marks();
    progress.node_up[k] = false;
    auto began = clock::now();
    auto status = n.terminate(30s);
    ASSERT_TRUE(status) << "node " << n.name() << " did not exit within 30 s of SIGTERM";
    // A node that fails its drain (crashes, say) has taken its sessions with
    // it: what follows would only repeat that, so stop here.
    ASSERT_EQ(*status, 0) << "node " << n.name() << " exit status after SIGTERM";
    std::cerr << "[rolling] " << n.name() << " drained in " << ms_text(clock::now() - began)
              << "\n";
    // Everyone it carried was sent elsewhere and is live again there.
    EXPECT_TRUE(progress.await([&] { return progress.not_live == 0; }, 30s))
        << progress.not_live << " clients not live again after " << n.name() << " drained";
    traffic_flows(("with " + n.name() + " down").c_str());

    n.start();
    ASSERT_TRUE(n.await_ready());
    marks[k] = n.run_start();
    ASSERT_TRUE(cl.await_rejoined(n, rejoin_wait, marks));
    progress.node_up[k] = true;
    traffic_flows(("after " + n.name() + " restarted").c_str());
  }

  // Quiesce: stop publishing; every publish acked and delivered.
  progress.publishing = false;
  auto quiet = [&] {
    for (auto& r : clients) {
      if (r->lost) continue;
      if (r->acked != r->sent) return false;
      if (r->received != clients[r->predecessor()]->sent) return false;
    }
    return progress.not_live == 0;
  };
  EXPECT_TRUE(progress.await(quiet, 30s)) << "traffic did not settle";
  stop_drivers();
  std::cerr << "[rolling] traffic ran " << ms_text(clock::now() - start_traffic) << "\n";

  std::uint64_t total_sent = 0, total_received = 0, goaways = 0, resumes = 0;
  std::size_t without_goaway = 0, lost_sessions = 0, unacked = 0, undelivered = 0, never_moved = 0;
  std::vector<std::string> errors;
  for (auto& r : clients) {
    total_sent += r->sent;
    total_received += r->received;
    goaways += r->goaways;
    resumes += r->resumes;
    without_goaway += r->closes_without_goaway;
    if (r->lost) ++lost_sessions;
    if (r->acked != r->sent) ++unacked;
    if (r->received != clients[r->predecessor()]->sent) ++undelivered;
    if (r->goaways == 0) ++never_moved;
    errors.insert(errors.end(), r->errors.begin(), r->errors.end());
  }
  for (auto& n : cl.nodes())
    for (const auto& l : n->lines(log_event("drain")))
      std::cerr << "[rolling] " << n->name() << ": " << l << "\n";
  std::cerr << "[rolling] clients=" << rolling_clients << " published=" << total_sent
            << " received=" << total_received << " goaways=" << goaways << " resumes=" << resumes
            << " errors=" << errors.size() << "\n";
  EXPECT_EQ(lost_sessions, 0u) << "sessions lost";
  EXPECT_EQ(without_goaway, 0u) << "connections closed without goaway";
  EXPECT_EQ(unacked, 0u) << "clients with unacknowledged publishes";
  EXPECT_EQ(undelivered, 0u) << "clients missing messages";
  EXPECT_EQ(total_received, total_sent);
  EXPECT_EQ(never_moved, 0u) << "clients never sent a goaway although every node drained";
  // The story of a few clients with errors (data errors first), and of their
  // publishers.
  std::string stories;
  std::vector<roller*> told;
  auto tell = [&](roller* r) {
    if (told.size() >= 4 || std::find(told.begin(), told.end(), r) != told.end()) return;
    told.push_back(r);
    for (auto* who : {r, clients[r->predecessor()].get()}) {
      stories += "  client " + std::to_string(who->index) + " " + who->original_session +
                 " (sent=" + std::to_string(who->sent) + " acked=" + std::to_string(who->acked) +
                 " received=" + std::to_string(who->received) + "):\n";
      for (const auto& h : who->history) stories += "    " + h + "\n";
    }
  };
  for (auto& r : clients)
    for (const auto& e : r->errors)
      if (e.find("after goaway the connection ended") == std::string::npos) tell(r.get());
  for (auto& r : clients)
    if (!r->errors.empty()) tell(r.get());
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors; by kind:\n"
                              << errors_by_kind(errors) << "histories:\n"
                              << stories;
}

}  // namespace
}  // namespace wsvisor::test::cluster_scenarios
