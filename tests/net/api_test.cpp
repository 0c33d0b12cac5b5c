// POST /api/publish over a real socket: every answer of docs/api.md, with an
// on_publish that records the requests and answers scripted outcomes.

#include "net/http_server.hpp"

#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/support/http_client.hpp"

namespace wsvisor::net {
namespace {

using namespace std::chrono_literals;
using test::http_call;
using test::http_send;

const std::string token = "0123456789abcdef-token";

http_call publish_call(std::string body,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  return {.method = "POST",
          .target = "/api/publish",
          .body = std::move(body),
          .headers = std::move(headers)};
}

// A listener with an API whose on_publish records each request and answers
// with `script` (by default: reached 2 sessions), on the caller's thread or,
// with `answer_later`, from another thread after a delay.
class Api : public ::testing::Test {
 protected:
  void start(http_options opts = {}, std::string listen = "127.0.0.1:0") {
    opts.listen = std::move(listen);
    if (!opts.on_publish) {
      opts.on_publish = [this](publish_request request, publish_reply reply) {
        std::unique_lock lock{mtx_};
        requests_.push_back(request);
        auto outcome = script_(request);
        if (!answer_later_) {
          lock.unlock();
          return reply(outcome);
        }
        repliers_.emplace_back([reply, outcome] {
          std::this_thread::sleep_for(50ms);
          reply(outcome);
        });
      };
    }
    server_ = std::make_unique<http_server>(ioc_, std::move(opts));
    ASSERT_EQ(server_->start(), "");
    thread_ = std::thread{[this] { ioc_.run(); }};
  }

  void TearDown() override {
    {
      std::lock_guard lock{mtx_};
      for (auto& t : repliers_) t.join();
    }
    if (server_) server_->stop();
    work_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::uint16_t port() const { return server_->local_port(); }

  std::vector<publish_request> requests() {
    std::lock_guard lock{mtx_};
    return requests_;
  }

  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::unique_ptr<http_server> server_;
  std::thread thread_;
  std::mutex mtx_;
  std::vector<publish_request> requests_;
  std::function<publish_outcome(const publish_request&)> script_ = [](const publish_request&) {
    return publish_outcome{.sessions = 2};
  };
  bool answer_later_ = false;
  std::vector<std::thread> repliers_;
};

TEST_F(Api, PublishesAValidRequestAndAnswersTheSessionCount) {
  start();
  auto r = http_send(port(), publish_call(R"({"channel":"news","data":{"headline":"hi"}})"));
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"sessions":2})");
  auto got = requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].channel, "news");
  EXPECT_EQ(got[0].data_json, R"({"headline":"hi"})");
}

TEST_F(Api, AcceptsAFormEncodedContentTypeAsCurlSendsIt) {
  start();
  auto r = http_send(port(), publish_call(R"({"channel":"news","data":null})",
                                          {{"Content-Type", "application/x-www-form-urlencoded"}}));
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].data_json, "null");
}

TEST_F(Api, NamesTheUpstreamThatOwnsTheChannel) {
  script_ = [](const publish_request&) { return publish_outcome{.upstream = "feed"}; };
  start();
  auto r = http_send(port(), publish_call(R"({"channel":"feed","data":"x"})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"sessions":0,"upstream":"feed"})");
}

TEST_F(Api, WaitsForAnAnswerGivenLaterFromAnotherThread) {
  answer_later_ = true;
  start();
  auto r = http_send(port(), publish_call(R"({"channel":"news","data":1})"));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, R"({"sessions":2})");
}

TEST_F(Api, BadBodiesGet400WithACodeAndNothingIsPublished) {
  start();
  auto not_json = http_send(port(), publish_call("channel=news&data=1"));
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.content_type, "application/json");
  EXPECT_NE(not_json.body.find(R"("error":"bad_json")"), std::string::npos) << not_json.body;
  auto no_data = http_send(port(), publish_call(R"({"channel":"news"})"));
  EXPECT_EQ(no_data.status, 400);
  EXPECT_EQ(no_data.body, R"({"error":"bad_request","message":"missing \"data\""})");
  auto bad_channel = http_send(port(), publish_call(R"({"channel":"no spaces","data":1})"));
  EXPECT_EQ(bad_channel.status, 400);
  EXPECT_NE(bad_channel.body.find(R"("error":"bad_channel")"), std::string::npos);
  EXPECT_NE(bad_channel.body.find(R"(\"no spaces\")"), std::string::npos) << bad_channel.body;
  auto reserved = http_send(port(), publish_call(R"({"channel":"sys.upstream.x","data":1})"));
  EXPECT_EQ(reserved.status, 400);
  EXPECT_NE(reserved.body.find(R"("error":"bad_channel")"), std::string::npos);
  auto empty = http_send(port(), publish_call(""));
  EXPECT_EQ(empty.status, 400);
  EXPECT_TRUE(requests().empty());
}

TEST_F(Api, ABodyOverMaxMessageBytesGets413) {
  start({.max_message_bytes = 64});
  std::string body = R"({"channel":"news","data":")" + std::string(100, 'x') + R"("})";
  auto r = http_send(port(), publish_call(body));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_NE(r.body.find(R"("error":"too_large")"), std::string::npos) << r.body;
  auto chunked = test::send_raw(port(),
                                "POST /api/publish HTTP/1.1\r\nHost: x\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"
                                "64\r\n" +
                                    std::string(100, 'x') + "\r\n0\r\n\r\n",
                                5s);
  EXPECT_EQ(chunked.received.rfind("HTTP/1.1 413", 0), 0u) << chunked.received;
  auto fits = http_send(port(), publish_call(R"({"channel":"news","data":1})"));
  EXPECT_EQ(fits.status, 200);
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(Api, OtherRoutesStillRefuseABody) {
  start();
  auto r = http_send(port(), {.method = "GET", .target = "/healthz", .body = "x"});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(test::http_request(port(), "GET", "/healthz").status, 200);
}

TEST_F(Api, AnsweresExpectContinueBeforeTheBody) {
  start();
  std::string body = R"({"channel":"news","data":1})";
  auto ex = test::send_raw(port(),
                           "POST /api/publish HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           "Connection: close\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body,
                           5s);
  EXPECT_EQ(ex.received.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << ex.received;
  EXPECT_NE(ex.received.find("HTTP/1.1 200 OK"), std::string::npos) << ex.received;
}

TEST_F(Api, ATokenIsRequiredWhenConfigured) {
  start({.api_token = token});
  auto none = http_send(port(), publish_call(R"({"channel":"news","data":1})"));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer");
  EXPECT_NE(none.body.find(R"("error":"unauthorized")"), std::string::npos) << none.body;
  auto wrong = http_send(port(), publish_call(R"({"channel":"news","data":1})",
                                              {{"Authorization", "Bearer " + token + "x"}}));
  EXPECT_EQ(wrong.status, 401);
  auto basic = http_send(port(), publish_call(R"({"channel":"news","data":1})",
                                              {{"Authorization", "Basic " + token}}));
  EXPECT_EQ(basic.status, 401);
  EXPECT_TRUE(requests().empty());
  auto right = http_send(port(), publish_call(R"({"channel":"news","data":1})",
                                              {{"Authorization", "Bearer " + token}}));
  EXPECT_EQ(right.status, 200);
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(Api, WithoutATokenAnExposedListenerRefuses) {
  start({}, "0.0.0.0:0");
  auto r = http_send(port(), publish_call(R"({"channel":"news","data":1})"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(
      r.body,
      R"({"error":"api_disabled","message":"the HTTP API needs [api] token when server.listen is not a loopback address"})");
  EXPECT_TRUE(requests().empty());
}

TEST_F(Api, WithATokenAnExposedListenerServes) {
  start({.api_token = token}, "0.0.0.0:0");
  auto r = http_send(port(), publish_call(R"({"channel":"news","data":1})",
                                          {{"Authorization", "Bearer " + token}}));
  EXPECT_EQ(r.status, 200);
}

TEST_F(Api, OtherMethodsGet405AllowingPost) {
  start();
  for (auto method : {"GET", "PUT", "DELETE"}) {
    auto r = http_send(port(), {.method = method, .target = "/api/publish"});
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.header("Allow"), "POST") << method;
  }
}

TEST_F(Api, UnavailableOutcomesGet503AndOtherErrors500) {
  script_ = [](const publish_request& r) {
    if (r.channel == "down")
      return publish_outcome{.error = "upstream_down", .message = "feed is down"};
    if (r.channel == "slow") return publish_outcome{.error = "timeout", .message = "no answer"};
    return publish_outcome{.error = "broken", .message = "oops"};
  };
  start();
  auto down = http_send(port(), publish_call(R"({"channel":"down","data":1})"));
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.body, R"({"error":"upstream_down","message":"feed is down"})");
  EXPECT_EQ(http_send(port(), publish_call(R"({"channel":"slow","data":1})")).status, 503);
  auto other = http_send(port(), publish_call(R"({"channel":"other","data":1})"));
  EXPECT_EQ(other.status, 500);
  EXPECT_EQ(other.body, R"({"error":"broken","message":"oops"})");
}

TEST_F(Api, AReplyDroppedUnansweredGets500) {
  start({.on_publish = [](publish_request, publish_reply) {}});
  auto r = http_send(port(), publish_call(R"({"channel":"news","data":1})"));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find(R"("error":"internal")"), std::string::npos) << r.body;
}

TEST_F(Api, KeepAliveServesSeveralPublishesOnOneConnection) {
  answer_later_ = true;
  start();
  test::http_session session{port()};
  for (int i = 0; i < 3; ++i) {
    auto r = session.send(publish_call(R"({"channel":"news","data":)" + std::to_string(i) + "}"));
    ASSERT_EQ(r.error, "") << i;
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.keep_alive);
  }
  auto bad = session.send(publish_call(R"({"channel":"news"})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(bad.keep_alive);
  EXPECT_EQ(session.send({.target = "/healthz"}).status, 200);
  auto got = requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].data_json, "2");
}

TEST_F(Api, PipelinedPublishesAreAnsweredInOrder) {
  answer_later_ = true;
  start();
  std::string a = R"({"channel":"a","data":1})";
  std::string b = R"({"channel":"b","data":2})";
  auto ex = test::send_raw(port(),
                           "POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                               std::to_string(a.size()) + "\r\n\r\n" + a +
                               "POST /api/publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                               "Content-Length: " +
                               std::to_string(b.size()) + "\r\n\r\n" + b,
                           5s);
  EXPECT_TRUE(ex.closed_by_server);
  auto first = ex.received.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << ex.received;
  EXPECT_NE(ex.received.find("HTTP/1.1 200", first + 1), std::string::npos) << ex.received;
  auto got = requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].channel, "a");
  EXPECT_EQ(got[1].channel, "b");
}

TEST_F(Api, WithoutOnPublishThePathIsNotFound) {
  boost::asio::io_context ioc;
  http_server server{ioc, {.listen = "127.0.0.1:0"}};
  ASSERT_EQ(server.start(), "");
  std::thread t{[&] { ioc.run_for(5s); }};
  // Without a body: an unknown route refuses any body with 413, as before.
  auto r = http_send(server.local_port(), publish_call(""));
  server.stop();
  ioc.stop();
  t.join();
  EXPECT_EQ(r.status, 404);
}

TEST(ApiLifetime, AReplyHeldPastTheIoContextIsHarmless) {
  std::mutex mtx;
  publish_reply kept;
  auto gate = std::make_shared<io_gate>();
  {
    boost::asio::io_context ioc;
    http_server server{ioc,
                       {.listen = "127.0.0.1:0",
                        .gate = gate,
                        .on_publish = [&](publish_request, publish_reply reply) {
                          std::lock_guard lock{mtx};
                          kept = std::move(reply);
                        }}};
    ASSERT_EQ(server.start(), "");
    auto work = boost::asio::make_work_guard(ioc);
    std::thread t{[&] { ioc.run(); }};
    auto r = http_send(server.local_port(), publish_call(R"({"channel":"news","data":1})"), 300ms);
    EXPECT_EQ(r.status, 0);  // still waiting for the answer
    server.stop();
    work.reset();
    ioc.stop();
    t.join();
    gate->close();
  }  // the io_context and the waiting connection are gone
  std::lock_guard lock{mtx};
  ASSERT_TRUE(kept);
  kept({.sessions = 1});  // dropped by the closed gate
  kept = nullptr;
}

}  // namespace
}  // namespace wsvisor::net
