// Publishing through sessions: exactly-once cseq handling and shared fan-out
// (actors/session/session.cpp with the broker, through real connections).

#include <string>

#include <gtest/gtest.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "tests/actors/session/session_fixture.hpp"

namespace wsvisor::test {
namespace {

namespace json = boost::json;

class SessionPublish : public SessionFixture {};

TEST_F(SessionPublish, AResentPublishIsAckedAgainButDeliveredOnce) {
  start_registry();
  auto [reader, writer, welcome] = reader_and_writer();
  publish(writer, "news", 10, 1);
  publish(writer, "news", 11, 2);
  publish(writer, "news", 10, 1);  // resends: acknowledged, not published
  publish(writer, "news", 11, 2);
  publish(writer, "news", 12, 3);
  expect_message(reader, 1, 10);
  expect_message(reader, 2, 11);
  expect_message(reader, 3, 12);  // not a copy of 10 or 11
}

TEST_F(SessionPublish, ACseqGapIsBadCseqAndNotPublished) {
  start_registry();
  auto [reader, writer, welcome] = reader_and_writer();
  publish(writer, "news", 1, 1);
  writer.send(R"({"type":"publish","channel":"news","data":3,"cseq":3})");
  auto err = writer.expect("error");
  EXPECT_EQ(str(err, "code"), "bad_cseq");
  EXPECT_NE(str(err, "message").find("expected 2"), std::string::npos) << json::serialize(err);
  publish(writer, "news", 2, 2);
  expect_message(reader, 1, 1);
  expect_message(reader, 2, 2);  // the rejected publish took no seq
}

TEST_F(SessionPublish, LastCseqSurvivesAResumeSoTheClientKnowsWhatToResend) {
  start_registry();
  auto& first = connect();
  auto w = hello(first);
  publish(first, "news", 1, 1);
  publish(first, "news", 2, 2);
  first.drop();
  auto& second = connect();
  auto r = resume(second, w, 0);
  ASSERT_TRUE(r.resumed);
  EXPECT_EQ(r.last_cseq, 2);
  publish(second, "news", 2, 2);  // a resend across connections is still a resend
  publish(second, "news", 3, 3);
}

TEST_F(SessionPublish, FanOutSharesOneBodyBetweenAllSessions) {
  start_registry();
  auto& a = connect();
  auto& b = connect();
  auto& c = connect();
  auto& writer = connect();
  for (auto* client : {&a, &b, &c, &writer}) hello(*client);
  for (auto* client : {&a, &b, &c}) subscribe(*client, "news");
  writer.send(R"({"type":"publish","channel":"news","data":{"big":"payload"},"cseq":1})");
  writer.expect("ack");
  const std::string* shared = nullptr;
  for (auto* client : {&a, &b, &c}) {
    auto frame = client->transport().next_frame();
    ASSERT_TRUE(frame);
    ASSERT_TRUE(frame->body);
    auto obj = parse_frame(*frame);
    EXPECT_EQ(str(obj, "type"), "message");
    EXPECT_EQ(num(obj, "seq"), 1);
    if (shared == nullptr) shared = frame->body.get();
    EXPECT_EQ(frame->body.get(), shared) << "each session must send the same bytes";
  }
}

TEST_F(SessionPublish, UnsubscribedChannelsStopDelivering) {
  start_registry();
  auto& reader = connect();
  auto& writer = connect();
  hello(reader);
  hello(writer);
  subscribe(reader, "a");
  subscribe(reader, "b");
  reader.send(R"({"type":"unsubscribe","channel":"a"})");
  EXPECT_EQ(str(reader.expect("unsubscribed"), "channel"), "a");
  publish(writer, "a", 1, 1);
  publish(writer, "b", 2, 2);
  expect_message(reader, 1, 2, "b");
  EXPECT_EQ(subscribers("a"), 0u);
  EXPECT_EQ(subscribers("b"), 1u);
}

}  // namespace
}  // namespace wsvisor::test
