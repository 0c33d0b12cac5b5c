// permessage-deflate (RFC 7692) on the server's WebSockets, `[server.compression]`:
// negotiated only when enabled and offered, the server's messages of at
// least `threshold` bytes compressed by our own frame writer (RSV1 set), the
// client's compressed messages inflated, with and without context takeover.
// The client here is raw_ws: it sees every frame's bits and payload as sent,
// and inflates with zlib itself.

#include <zlib.h>

#include <string>

#include <gtest/gtest.h>

#include "net/message_deflater.hpp"
#include "tests/net/ws_fixture.hpp"
#include "tests/support/raw_ws.hpp"

namespace wsvisor::net {
namespace {

using namespace ws_testing;
using test::raw_frame;
using test::raw_ws;
using test::ws_frame;
using test::ws_upgrade_request;
using test::op::text;

class WsCompression : public WsServer {};

// The receiving side of a permessage-deflate stream, as a client keeps it:
// one inflater for the connection (its window carries over between
// messages unless the server said server_no_context_takeover).
class inflater {
 public:
  inflater() { inflateInit2(&z_, -15); }
  ~inflater() { inflateEnd(&z_); }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  // The message a compressed frame's payload holds; "<error>" if it is not
  // a valid continuation of the stream.
  std::string message(std::string payload) {
    payload.append("\x00\x00\xff\xff", 4);
    z_.next_in = reinterpret_cast<Bytef*>(payload.data());
    z_.avail_in = static_cast<uInt>(payload.size());
    std::string out;
    char chunk[4096];
    while (z_.avail_in > 0) {
      z_.next_out = reinterpret_cast<Bytef*>(chunk);
      z_.avail_out = sizeof chunk;
      int rc = inflate(&z_, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return "<error>";
      out.append(chunk, sizeof chunk - z_.avail_out);
      if (rc == Z_BUF_ERROR) break;
    }
    return out;
  }

 private:
  z_stream z_{};
};

// A raw deflate of `text` as a client would send it (no context kept).
std::string deflate_message(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  out.resize(out.size() - z.avail_out - 4);  // without 00 00 ff ff
  deflateEnd(&z);
  return out;
}

const std::string offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";

std::string repetitive(std::size_t n) {
  std::string s;
  while (s.size() < n) s += "{\"price\":101.25,\"symbol\":\"ACME\"},";
  s.resize(n);
  return s;
}

compression_config enabled(std::uint64_t threshold = 256, bool takeover = true) {
  return {.enabled = true,
          .level = 1,
          .window_bits = 15,
          .context_takeover = takeover,
          .threshold = threshold};
}

// Upgrades with `extra` header lines; true when the server answered 101.
bool upgrade(raw_ws& c, std::uint16_t port, const std::string& extra) {
  return c.connect(port) && c.handshake(ws_upgrade_request("/ws", extra)) == 101;
}

// The upgrade's answer names no extension, and a large message comes back
// as it is.
void expect_uncompressed(raw_ws& c) {
  EXPECT_EQ(c.response_head().find("permessage-deflate"), std::string::npos) << c.response_head();
  auto big = repetitive(2000);
  ASSERT_TRUE(c.write(ws_frame(text, big)));
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->rsv, 0);
  EXPECT_EQ(f->payload, "echo:" + big);
}

TEST_F(WsCompression, IsNotNegotiatedWhenDisabledEvenIfOffered) {
  start();
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  expect_uncompressed(c);
}

TEST_F(WsCompression, IsNotUsedWithAClientThatDoesNotOfferIt) {
  start({.compression = enabled()});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), ""));
  expect_uncompressed(c);
}

TEST_F(WsCompression, MessagesFromTheThresholdUpAreSentCompressedSmallerOnesAsTheyAre) {
  start({.compression = enabled(256)});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  EXPECT_NE(c.response_head().find("Sec-WebSocket-Extensions: permessage-deflate"),
            std::string::npos)
      << c.response_head();
  inflater in;
  auto big = repetitive(4000);
  ASSERT_TRUE(c.write(ws_frame(text, big)));
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->rsv, 0x40);
  EXPECT_LT(f->payload.size(), big.size() / 4);
  EXPECT_EQ(in.message(f->payload), "echo:" + big);
  // "echo:" + 245 bytes is 250 < 256: as it is.
  auto small = std::string(245, 's');
  ASSERT_TRUE(c.write(ws_frame(text, small)));
  f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->rsv, 0);
  EXPECT_EQ(f->payload, "echo:" + small);
  // 251 -> 256: compressed.
  auto at = std::string(251, 't');
  ASSERT_TRUE(c.write(ws_frame(text, at)));
  f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->rsv, 0x40);
  EXPECT_EQ(in.message(f->payload), "echo:" + at);
}

TEST_F(WsCompression, WithContextTakeoverARepeatedMessageRefersToTheOneBefore) {
  start({.compression = enabled(0)});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  EXPECT_EQ(c.response_head().find("no_context_takeover"), std::string::npos);
  inflater in;
  std::string noise;  // incompressible on its own: only the window can shrink its repeat
  for (int i = 0; i < 600; ++i) noise += static_cast<char>('a' + (i * 7919 + i / 3) % 26);
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.write(ws_frame(text, noise)));
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->rsv, 0x40);
    EXPECT_EQ(in.message(f->payload), "echo:" + noise);
    sizes.push_back(f->payload.size());
  }
  EXPECT_LT(sizes[1] * 4, sizes[0]) << sizes[0] << " then " << sizes[1];
}

TEST_F(WsCompression, WithoutContextTakeoverEveryMessageInflatesOnItsOwn) {
  start({.compression = enabled(0, false)});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  EXPECT_NE(c.response_head().find("server_no_context_takeover"), std::string::npos)
      << c.response_head();
  EXPECT_NE(c.response_head().find("client_no_context_takeover"), std::string::npos)
      << c.response_head();
  auto big = repetitive(3000);
  std::vector<std::string> payloads;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.write(ws_frame(text, big)));
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->rsv, 0x40);
    inflater fresh;
    EXPECT_EQ(fresh.message(f->payload), "echo:" + big);
    payloads.push_back(f->payload);
  }
  EXPECT_EQ(payloads[0], payloads[1]);
  EXPECT_EQ(payloads[1], payloads[2]);
}

TEST_F(WsCompression, ASharedBodyIsCompressedWithEachFramesOwnHead) {
  auto body = std::make_shared<const std::string>(repetitive(5000));
  start({.compression = enabled()}, {.shared_body = body});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  inflater in;
  ASSERT_TRUE(c.write(ws_frame(text, "shared:3")));
  for (int i = 0; i < 3; ++i) {
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->rsv, 0x40);
    EXPECT_EQ(in.message(f->payload), "h" + std::to_string(i) + ":" + *body);
  }
}

TEST_F(WsCompression, WithoutContextTakeoverASharedBodyIsCompressedOnceForAllItsFrames) {
  auto body = std::make_shared<const std::string>(repetitive(5000));
  start({.compression = enabled(256, false)}, {.shared_body = body});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  ASSERT_TRUE(c.write(ws_frame(text, "shared:3")));
  std::vector<std::string> payloads;
  for (int i = 0; i < 3; ++i) {
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->rsv, 0x40);
    inflater fresh;
    auto head = "h" + std::to_string(i) + ":";
    EXPECT_EQ(fresh.message(f->payload), head + *body);
    // A stored block of the head (5 bytes + the head), then the body's bytes.
    ASSERT_GT(f->payload.size(), 5 + head.size());
    payloads.push_back(f->payload.substr(5 + head.size()));
  }
  EXPECT_EQ(payloads[0], payloads[1]);
  EXPECT_EQ(payloads[0], payloads[2]);
  EXPECT_LT(payloads[0].size(), body->size() / 4);
}

TEST(MessageDeflater, ASharedBodyIsCompressedOnceAndFollowsAnyHead) {
  message_deflater d{1, 15, false};
  auto body = std::make_shared<const std::string>(repetitive(4000));
  for (auto head : {"{\"seq\":1,\"data\":", "{\"seq\":22,\"data\":", ""}) {
    std::string out;
    d.compress_shared(head, body, out);
    inflater fresh;
    EXPECT_EQ(fresh.message(out), head + *body) << head;
  }
  EXPECT_EQ(d.bodies_compressed(), 1u);
  // Another body (even with equal bytes) is another entry.
  auto other = std::make_shared<const std::string>(*body);
  std::string out;
  d.compress_shared("h:", other, out);
  EXPECT_EQ(d.bodies_compressed(), 2u);
  // The cache keeps the last cached_bodies: the first is compressed again
  // once that many others came after it.
  for (std::size_t i = 0; i < message_deflater::cached_bodies; ++i) {
    out.clear();
    d.compress_shared("h:", std::make_shared<const std::string>(repetitive(300 + i)), out);
  }
  auto before = d.bodies_compressed();
  out.clear();
  d.compress_shared("h:", body, out);
  EXPECT_EQ(d.bodies_compressed(), before + 1);
  inflater fresh;
  EXPECT_EQ(fresh.message(out), "h:" + *body);
}

TEST(MessageDeflater, WithContextTakeoverCompressSharedIsPlainCompress) {
  message_deflater d{1, 15, true};
  auto body = std::make_shared<const std::string>(repetitive(2000));
  inflater in;
  for (int i = 0; i < 2; ++i) {
    std::string out;
    d.compress_shared("h:", body, out);
    EXPECT_EQ(in.message(out), "h:" + *body);
  }
  EXPECT_EQ(d.bodies_compressed(), 0u);
}

TEST_F(WsCompression, TheConfiguredWindowIsAnnouncedAndKept) {
  start({.compression = {.enabled = true, .window_bits = 9, .threshold = 0}});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  EXPECT_NE(c.response_head().find("server_max_window_bits=9"), std::string::npos)
      << c.response_head();
  // A client inflating with a 512-byte window must follow every message.
  z_stream z{};
  inflateInit2(&z, -9);
  for (int i = 0; i < 3; ++i) {
    auto big = repetitive(3000) + std::to_string(i);
    ASSERT_TRUE(c.write(ws_frame(text, big)));
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->rsv, 0x40);
    auto payload = f->payload + std::string("\x00\x00\xff\xff", 4);
    std::string out(8192, '\0');
    z.next_in = reinterpret_cast<Bytef*>(payload.data());
    z.avail_in = static_cast<uInt>(payload.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    ASSERT_EQ(inflate(&z, Z_SYNC_FLUSH), Z_OK) << "message " << i;
    out.resize(out.size() - z.avail_out);
    EXPECT_EQ(out, "echo:" + big);
  }
  inflateEnd(&z);
}

TEST_F(WsCompression, AClientsCompressedMessageReachesTheActorInflated) {
  start({.compression = enabled()});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  auto big = repetitive(3000);
  ASSERT_TRUE(c.write(ws_frame(text, deflate_message(big), {.rsv = 0x40})));
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  inflater in;
  EXPECT_EQ(in.message(f->payload), "echo:" + big);
  EXPECT_TRUE(rec_->await([&](const observed& o) { return o.texts.size() == 1; }));
  EXPECT_EQ(rec_->read([](const observed& o) { return o.texts.front(); }), big);
}

TEST_F(WsCompression, ACompressedMessageThatInflatesPastTheLimitClosesWith1009) {
  // The closing handshake this client never finishes ends after 300 ms.
  start({.max_message_bytes = 1024, .handshake_timeout = 300ms, .compression = enabled()});
  raw_ws c;
  ASSERT_TRUE(upgrade(c, port(), offer));
  // 100 KB of one letter deflates to a few hundred bytes: the limit is on
  // what it inflates to.
  auto bomb = deflate_message(std::string(100'000, 'z'));
  ASSERT_LT(bomb.size(), 1024u);
  ASSERT_TRUE(c.write(ws_frame(text, bomb, {.rsv = 0x40})));
  EXPECT_EQ(c.await_close(), 1009);
  ASSERT_TRUE(await_closed(1));
  EXPECT_EQ(closed()[0].code, 1009);
  EXPECT_TRUE(rec_->read([](const observed& o) { return o.texts.empty(); }));
}

}  // namespace
}  // namespace wsvisor::net
