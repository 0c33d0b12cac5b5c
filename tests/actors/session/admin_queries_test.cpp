// The admin API's questions to the registry, the sessions and the broker
// (adm_* in actors/messages.hpp), asked of the real actors.

#include "actors/messages.hpp"
#include "actors/session/messages.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <caf/actor_registry.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/errors.hpp"
#include "tests/actors/session/session_fixture.hpp"

namespace wsvisor::test {
namespace {

using namespace std::chrono_literals;

struct session_page {
  std::vector<std::string> ids;
  std::vector<caf::actor> sessions;
  bool more = false;
};

class AdminQueries : public SessionFixture {
 protected:
  session_page list(const std::string& after, std::uint64_t limit) {
    session_page page;
    caf::scoped_actor self{sys_};
    self->request(registry_, 5s, admin_list_atom::value, after, limit)
        .receive(
            [&](std::vector<std::string>& ids, std::vector<caf::actor>& sessions, bool more) {
              page = {std::move(ids), std::move(sessions), more};
            },
            [](caf::error& err) { ADD_FAILURE() << to_string(err); });
    return page;
  }

  /// What the registry says of session `id` (a parked one from its record), or its error.
  caf::expected<session_info> find(const std::string& id) {
    caf::expected<session_info> result = session_info{};
    caf::scoped_actor self{sys_};
    self->request(registry_, 5s, admin_info_atom::value, id)
        .receive([&](session_info& i) { result = std::move(i); },
                 [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  session_info info(const std::string& id) {
    auto found = find(id);
    if (!found) {
      ADD_FAILURE() << "no session " << id;
      return {};
    }
    return std::move(*found);
  }

  /// Asks the registry `what` (admin_end_atom, admin_cut_atom) of session `id`: none on ok.
  template <class Atom>
  caf::error tell(const std::string& id, Atom what) {
    caf::error result;
    caf::scoped_actor self{sys_};
    self->request(registry_, 5s, what, id)
        .receive([&](caf::ok_atom) { result = caf::none; },
                 [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  std::pair<std::vector<channel_info>, bool> channels(const std::string& after,
                                                      std::uint64_t limit) {
    std::pair<std::vector<channel_info>, bool> result;
    caf::scoped_actor self{sys_};
    self->request(sys_.registry().get<caf::actor>(broker_name), 5s, admin_channels_atom::value,
                  after, limit)
        .receive(
            [&](std::vector<channel_info>& page, bool more) {
              result = {std::move(page), more};
            },
            [](caf::error& err) { ADD_FAILURE() << to_string(err); });
    return result;
  }
};

TEST_F(AdminQueries, RegistryListsSessionsByIdInPages) {
  start_registry();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(hello(connect()).session);
  std::sort(ids.begin(), ids.end());
  auto first = list("", 2);
  EXPECT_EQ(first.ids, (std::vector<std::string>{ids[0], ids[1]}));
  EXPECT_EQ(first.sessions.size(), 2u);
  EXPECT_TRUE(first.more);
  auto second = list(first.ids.back(), 2);
  EXPECT_EQ(second.ids, (std::vector<std::string>{ids[2]}));
  EXPECT_FALSE(second.more);
  EXPECT_TRUE(list(ids[2], 2).ids.empty());
}

TEST_F(AdminQueries, RegistryAnswersUnknownSessionForAnIdItDoesNotHold) {
  start_registry();
  auto found = find("no-such-session");
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error(), errc::unknown_session);
}

TEST_F(AdminQueries, SessionReportsItsStateSubscriptionsAndReplayBuffer) {
  session_.replay_buffer = 10;
  session_.replay_buffer_bytes = 5000;
  start_registry();
  auto [reader, writer, welcome] = reader_and_writer();
  publish(writer, "news", 7, 1);
  expect_message(reader, 1, 7);
  auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto attached = info(welcome.session);
  EXPECT_EQ(attached.id, welcome.session);
  EXPECT_TRUE(attached.attached);
  EXPECT_FALSE(attached.peer.empty());
  EXPECT_EQ(attached.channels, (std::vector<std::string>{"news"}));
  EXPECT_EQ(attached.seq, 1u);
  EXPECT_EQ(attached.buffered, 1u);  // not acknowledged yet
  EXPECT_GT(attached.buffered_bytes, 0u);
  EXPECT_EQ(attached.buffer_max, 10u);
  EXPECT_EQ(attached.buffer_max_bytes, 5000u);
  EXPECT_LE(attached.since_ms, before);
  EXPECT_EQ(attached.expires_ms, 0);
  reader.send(R"({"type":"ack","seq":1})");
  reader.drop();
  session_info detached;
  EXPECT_TRUE(eventually([&] {
    detached = info(welcome.session);
    return !detached.attached;
  }));
  EXPECT_EQ(detached.buffered, 0u);
  EXPECT_EQ(detached.acked, 1u);
  EXPECT_TRUE(detached.peer.empty());
  EXPECT_GE(detached.since_ms, attached.since_ms);
  EXPECT_EQ(detached.expires_ms, detached.since_ms + session_.resume_window.count());
}

TEST_F(AdminQueries, EndingASessionClosesItsClientWith4410AndRefusesItsResume) {
  start_registry();
  auto& c = connect();
  auto w = hello(c);
  EXPECT_FALSE(tell(w.session, admin_end_atom::value));
  auto closed = c.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4410);
  EXPECT_TRUE(eventually([&] { return !find(w.session); }));
  auto again = resume(connect(), w, 0);
  EXPECT_FALSE(again.resumed);
  EXPECT_EQ(again.reason, "unknown");
}

TEST_F(AdminQueries, CuttingAConnectionKeepsTheSessionForAResumeWithWhatItMissed) {
  start_registry();
  auto [reader, writer, welcome] = reader_and_writer();
  EXPECT_FALSE(tell(welcome.session, admin_cut_atom::value));
  auto closed = reader.await_close();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 4411);
  EXPECT_TRUE(eventually([&] { return !info(welcome.session).attached; }));
  EXPECT_EQ(tell(welcome.session, admin_cut_atom::value), errc::not_attached);
  publish(writer, "news", 5, 1);
  auto& back = connect();
  auto resumed = resume(back, welcome, 0);
  EXPECT_TRUE(resumed.resumed);
  expect_message(back, 1, 5);
}

TEST_F(AdminQueries, AParkedSessionIsListedReportedCutAndEndedFromItsRecord) {
  session_.replay_buffer = 10;
  start_registry();
  auto [reader, writer, welcome] = reader_and_writer();
  publish(writer, "news", 7, 1);
  expect_message(reader, 1, 7);
  auto attached = info(welcome.session);
  reader.drop();
  caf::scoped_actor self{sys_};
  auto parked = [&] {
    std::uint64_t n = 0;
    self->request(registry_, 5s, parked_count_atom::value)
        .receive([&](std::uint64_t x) { n = x; },
                 [](caf::error& err) { ADD_FAILURE() << to_string(err); });
    return n;
  };
  ASSERT_TRUE(eventually([&] { return parked() == 1; }));
  auto page = list("", 10);
  auto at = std::find(page.ids.begin(), page.ids.end(), welcome.session);
  ASSERT_NE(at, page.ids.end());
  EXPECT_FALSE(page.sessions[static_cast<std::size_t>(at - page.ids.begin())]);  // no actor
  auto detached = info(welcome.session);
  EXPECT_FALSE(detached.attached);
  EXPECT_TRUE(detached.peer.empty());
  EXPECT_EQ(detached.channels, (std::vector<std::string>{"news"}));
  EXPECT_EQ(detached.seq, 1u);
  EXPECT_EQ(detached.buffered, 1u);
  EXPECT_EQ(detached.buffered_bytes, attached.buffered_bytes);
  EXPECT_EQ(detached.buffer_max, 10u);
  EXPECT_GE(detached.since_ms, attached.since_ms);
  EXPECT_EQ(detached.expires_ms, detached.since_ms + session_.resume_window.count());
  EXPECT_EQ(parked(), 1u);  // asking did not wake it
  EXPECT_EQ(tell(welcome.session, admin_cut_atom::value), errc::not_attached);
  EXPECT_FALSE(tell(welcome.session, admin_end_atom::value));
  auto gone = find(welcome.session);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), errc::unknown_session);
  EXPECT_EQ(parked(), 0u);
  EXPECT_EQ(subscribers("news"), 0u);
  EXPECT_EQ(resume(connect(), welcome, 0).reason, "unknown");
}

TEST_F(AdminQueries, BrokerListsChannelsWithSubscriberCountsByNameInPages) {
  start_registry();
  auto& a = connect();
  auto& b = connect();
  hello(a);
  hello(b);
  subscribe(a, "news");
  subscribe(b, "news");
  subscribe(a, "alerts");
  subscribe(b, "weather");
  auto [first, more] = channels("", 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_TRUE(more);
  EXPECT_EQ(first[0].name, "alerts");
  EXPECT_EQ(first[0].subscribers, 1u);
  EXPECT_EQ(first[1].name, "news");
  EXPECT_EQ(first[1].subscribers, 2u);
  EXPECT_EQ(first[1].peers, 0u);
  EXPECT_FALSE(first[1].owned);
  auto [rest, done] = channels("news", 2);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].name, "weather");
  EXPECT_FALSE(done);
}

}  // namespace
}  // namespace wsvisor::test
