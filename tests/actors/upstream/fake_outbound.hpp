#pragma once

/// A test double for outbound sockets (actors/outbound.hpp): `fake_dialer`
/// hands out `fake_outbound` sockets and records them, and the test plays the
/// socket's side: open it, deliver text, confirm writes, end it. Every member
/// is thread-safe; waits are bounded by test::await_timeout.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actors/outbound.hpp"

namespace wsvisor::test {

class fake_outbound final : public outbound_socket {
 public:
  fake_outbound(outbound_options opts, outbound_events events)
      : options(std::move(opts)), events_(std::move(events)) {}

  void send(std::string text, std::uint64_t tag) override;
  void close() override;
  void abort() override;

  // -- the socket's side, driven by the test --
  void open(std::string subprotocol = {});
  void text(std::string payload);
  /// Confirms the writes of every frame sent so far.
  void write_all();
  /// Confirms the writes of the first `n` frames sent (in order) not yet confirmed.
  void write(std::size_t n);
  void end(outbound_end kind, std::string detail = {});

  /// Waits until at least `n` frames were sent; returns them all (tag, text).
  std::vector<std::pair<std::uint64_t, std::string>> await_sent(std::size_t n);
  std::vector<std::pair<std::uint64_t, std::string>> sent();
  bool closed_or_aborted();

  const outbound_options options;

 private:
  outbound_events events_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::pair<std::uint64_t, std::string>> sent_;
  std::size_t confirmed_ = 0;
  bool ended_ = false;  // end() or abort(): no more events
  bool close_called_ = false;
};

class fake_dialer {
 public:
  /// The dialer to hand to the code under test; it shares this object's state.
  outbound_dialer dialer();

  /// Waits until at least `n` sockets were dialled; returns the n-th (from 1).
  std::shared_ptr<fake_outbound> await_dial(std::size_t n);
  std::size_t dials();

 private:
  struct shared {
    std::mutex mtx;
    std::condition_variable cv;
    std::vector<std::shared_ptr<fake_outbound>> sockets;
  };
  std::shared_ptr<shared> state_ = std::make_shared<shared>();
};

}  // namespace wsvisor::test
