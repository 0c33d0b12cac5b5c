// The io scheduler (net/io_scheduler.hpp): actors on the I/O threads of an
// io_pool, woken where their sender runs, timers on Asio, and a life after
// the pool stops.

#include "net/io_scheduler.hpp"

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <caf/all.hpp>

#include "net/io_pool.hpp"

namespace wsvisor::net {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

using where_atom = caf::atom_constant<caf::atom("where")>;
using relay_atom = caf::atom_constant<caf::atom("relay")>;
using count_atom = caf::atom_constant<caf::atom("count")>;

// Names of this process's threads (/proc/self/task/*/comm).
std::multiset<std::string> thread_names() {
  std::multiset<std::string> names;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (auto* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream comm{std::string{"/proc/self/task/"} + e->d_name + "/comm"};
      std::string name;
      std::getline(comm, name);
      names.insert(name);
    }
    closedir(dir);
  }
  return names;
}

// A pool and an actor system whose actors run on it.
struct io_system {
  explicit io_system(std::size_t threads) : pool(threads) {
    pool.start();
    cfg.use_io_scheduler(pool);
    sys.emplace(cfg);
  }
  ~io_system() {
    sys->await_all_actors_done();
    pool.stop();
    sys.reset();
  }

  io_pool pool;
  io_system_config cfg;
  std::optional<caf::actor_system> sys;
};

// Answers `where` with the index of the pool thread it runs on, and relays
// `relay` to `next` (the relay's receiver answers where it ran).
caf::behavior locator(caf::event_based_actor* self, io_pool* pool) {
  return {
      [pool](where_atom) { return pool->index_here(); },
      [self](relay_atom, const caf::actor& next) {
        return self->delegate(next, where_atom::value);
      },
  };
}

std::size_t ask_where(caf::actor_system& sys, const caf::actor& who) {
  caf::scoped_actor self{sys};
  std::size_t index = io_pool::npos - 1;
  self->request(who, 5s, where_atom::value)
      .receive([&](std::size_t i) { index = i; }, [](caf::error&) {});
  return index;
}

TEST(IoScheduler, RunsActorsOnThePoolThreads) {
  io_system s{2};
  ASSERT_NE(io_scheduler::of(*s.sys), nullptr);
  auto a = s.sys->spawn(locator, &s.pool);
  auto index = ask_where(*s.sys, a);
  EXPECT_LT(index, 2u);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST(IoScheduler, AnActorWokenFromAPoolThreadRunsOnThatThread) {
  io_system s{4};
  // Each context's thread wakes the actor in turn (a socket's read handler
  // does the same): it answers from that thread.
  auto a = s.sys->spawn(locator, &s.pool);
  for (std::size_t i = 0; i < 4; ++i) {
    std::promise<std::size_t> answer;
    auto replier = s.sys->spawn([&answer](caf::event_based_actor*) -> caf::behavior {
      return {[&answer](std::size_t index) { answer.set_value(index); }};
    });
    asio::post(s.pool.context(i), [a, replier] {
      // Sent as the replier, with no actor running on this thread.
      a->enqueue(caf::actor_cast<caf::strong_actor_ptr>(replier), caf::make_message_id(),
                 caf::make_message(where_atom::value), nullptr);
    });
    auto f = answer.get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get(), i) << "woken from context " << i;
    caf::anon_send_exit(replier, caf::exit_reason::user_shutdown);
  }
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST(IoScheduler, AnActorWokenByAnotherRunsOnItsThread) {
  io_system s{4};
  auto first = s.sys->spawn(locator, &s.pool);
  auto second = s.sys->spawn(locator, &s.pool);
  caf::scoped_actor self{*s.sys};
  for (int round = 0; round < 20; ++round) {
    // The relay runs on some thread; the delegated `where` is handled by
    // `second` on that same thread, so both answers name one thread.
    std::size_t relayed = io_pool::npos;
    self->request(first, 5s, relay_atom::value, second)
        .receive([&](std::size_t i) { relayed = i; }, [](caf::error&) {});
    EXPECT_LT(relayed, 4u);
  }
  caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(second, caf::exit_reason::user_shutdown);
}

TEST(IoScheduler, CountsEveryMessageBetweenActorsOnSeveralThreads) {
  io_system s{4};
  // Eight counters fed from eight foreign threads and from each other.
  constexpr int senders = 8, per_sender = 5000, total = 2 * senders * per_sender;
  std::atomic<int> received{0};
  std::promise<void> all;
  auto count = [&received, &all] {
    if (received.fetch_add(1, std::memory_order_acq_rel) + 1 == total) all.set_value();
  };
  std::vector<caf::actor> counters;
  for (int i = 0; i < senders; ++i)
    counters.push_back(s.sys->spawn([count](caf::event_based_actor* self) -> caf::behavior {
      return {
          [count](count_atom) { count(); },
          [self, count](count_atom, const caf::actor& next) {
            count();
            self->send(next, count_atom::value);
          },
      };
    }));
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_sender; ++i)
        caf::anon_send(counters[t], count_atom::value, counters[(t + 1) % senders]);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(all.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(received.load(), total);
  for (auto& c : counters) caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
}

TEST(IoScheduler, DelayedMessagesArriveOnThePoolWithoutATimerThread) {
  io_system s{2};
  std::promise<std::size_t> fired;
  auto start = std::chrono::steady_clock::now();
  auto a = s.sys->spawn([&](caf::event_based_actor* self) -> caf::behavior {
    self->delayed_send(self, 60ms, where_atom::value);
    return {[&, self](where_atom) {
      fired.set_value(s.pool.index_here());
      self->quit();
    }};
  });
  auto f = fired.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
  EXPECT_LT(f.get(), 2u);
  // CAF's own schedulers keep a thread named caf.clock for this.
  EXPECT_EQ(thread_names().count("caf.clock"), 0u);
}

TEST(IoScheduler, AnEarlierTimerOvertakesALaterOne) {
  io_system s{1};
  std::promise<std::vector<int>> order;
  auto a = s.sys->spawn([&](caf::event_based_actor* self) -> caf::behavior {
    auto seen = std::make_shared<std::vector<int>>();
    self->delayed_send(self, 400ms, 2);
    self->delayed_send(self, 40ms, 1);
    return {[&, self, seen](int n) {
      seen->push_back(n);
      if (seen->size() == 2) {
        order.set_value(*seen);
        self->quit();
      }
    }};
  });
  auto f = order.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), (std::vector<int>{1, 2}));
}

TEST(IoScheduler, RequestTimeoutsAndIdleTimeoutsFire) {
  io_system s{2};
  // Never answers.
  auto silent = s.sys->spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {[self](where_atom) { return self->make_response_promise<std::size_t>(); }};
  });
  caf::scoped_actor self{*s.sys};
  caf::error err;
  self->request(silent, 50ms, where_atom::value)
      .receive([](std::size_t) {}, [&](caf::error& e) { err = e; });
  EXPECT_EQ(err, caf::sec::request_timeout);

  // An idle timeout re-armed by every message fires only after the silence.
  std::promise<int> idle;
  auto watcher = s.sys->spawn([&idle](caf::event_based_actor* self) -> caf::behavior {
    auto seen = std::make_shared<int>(0);
    return {
        [seen](count_atom) { ++*seen; },
        caf::after(100ms) >>
            [self, seen, &idle] {
              idle.set_value(*seen);
              self->quit();
            },
    };
  });
  for (int i = 0; i < 10; ++i) {
    caf::anon_send(watcher, count_atom::value);
    std::this_thread::sleep_for(20ms);
  }
  auto f = idle.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), 10);
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
}

TEST(IoScheduler, ActorsKeepRunningAfterThePoolStops) {
  io_pool pool{2};
  pool.start();
  io_system_config cfg;
  cfg.use_io_scheduler(pool);
  {
    caf::actor_system sys{cfg};
    auto a = sys.spawn(locator, &pool);
    EXPECT_LT(ask_where(sys, a), 2u);
    auto* sched = io_scheduler::of(sys);
    EXPECT_EQ(sched->resumed_after_pool(), 0u);
    pool.stop();
    // Now on the scheduler's own thread, which is no pool thread.
    EXPECT_EQ(ask_where(sys, a), io_pool::npos);
    EXPECT_GT(sched->resumed_after_pool(), 0u);
    // Timers moved with it.
    std::promise<void> fired;
    auto timed = sys.spawn([&fired](caf::event_based_actor* self) -> caf::behavior {
      self->delayed_send(self, 20ms, count_atom::value);
      return {[&fired, self](count_atom) {
        fired.set_value();
        self->quit();
      }};
    });
    EXPECT_EQ(fired.get_future().wait_for(5s), std::future_status::ready);
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
}

TEST(IoScheduler, TheSystemMayEndBeforeItsPool) {
  io_pool pool{2};
  pool.start();
  io_system_config cfg;
  cfg.use_io_scheduler(pool);
  {
    caf::actor_system sys{cfg};
    auto a = sys.spawn(locator, &pool);
    EXPECT_LT(ask_where(sys, a), 2u);
    sys.spawn([](caf::event_based_actor* self) { self->delayed_send(self, 10min, 1); });
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  // The pool still runs, and nothing of the system is left on it.
  std::promise<void> ran;
  asio::post(pool.context(1), [&ran] { ran.set_value(); });
  EXPECT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
  pool.stop();
}

TEST(IoScheduler, DetachedAndBlockingActorsStillWork) {
  io_system s{1};
  auto detached = s.sys->spawn<caf::detached>(
      [](caf::event_based_actor*) -> caf::behavior { return {[](int x) { return x * 2; }}; });
  caf::scoped_actor self{*s.sys};
  int doubled = 0;
  self->request(detached, 5s, 21).receive([&](int x) { doubled = x; }, [](caf::error&) {});
  EXPECT_EQ(doubled, 42);
  caf::anon_send_exit(detached, caf::exit_reason::user_shutdown);
}

TEST(IoPool, NamesItsThreadsAndKnowsWhichIsWhich) {
  io_pool pool{3};
  EXPECT_EQ(pool.index_here(), io_pool::npos);
  pool.start();
  for (std::size_t i = 0; i < 3; ++i) {
    std::promise<std::size_t> at;
    asio::post(pool.context(i), [&] { at.set_value(pool.index_here()); });
    EXPECT_EQ(at.get_future().get(), i);
  }
  EXPECT_EQ(thread_names().count("wsvisor.io.1"), 1u);
  bool stopped = false;
  pool.on_stopped([&stopped] { stopped = true; });
  auto forgotten = pool.on_stopped([] { FAIL() << "a forgotten callback ran"; });
  pool.forget(forgotten);
  pool.stop();
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(pool.running());
  EXPECT_EQ(thread_names().count("wsvisor.io.1"), 0u);
}

}  // namespace
}  // namespace wsvisor::net
