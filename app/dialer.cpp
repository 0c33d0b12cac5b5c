#include "app/dialer.hpp"

#include <string>
#include <utility>

#include "net/ws_client.hpp"

namespace wsvisor {

namespace {

// An outbound socket whose calls reach the io_context only while it exists:
// a link actor may be destroyed (and abort its socket) while the node tears
// the io_context down (net/io_gate.hpp).
class gated_socket final : public outbound_socket {
 public:
  gated_socket(outbound_socket_ptr inner, std::shared_ptr<net::io_gate> gate)
      : inner_(std::move(inner)), gate_(std::move(gate)) {}
  void send(std::string text, std::uint64_t tag) override {
    gate_->call([&] { inner_->send(std::move(text), tag); });
  }
  void close() override {
    gate_->call([&] { inner_->close(); });
  }
  void abort() override {
    gate_->call([&] { inner_->abort(); });
  }

 private:
  outbound_socket_ptr inner_;
  std::shared_ptr<net::io_gate> gate_;
};

// What a socket dialled after the gate closed is: the node is going down and
// its actors with it, so it never opens and never reports.
class dead_socket final : public outbound_socket {
 public:
  void send(std::string, std::uint64_t) override {}
  void close() override {}
  void abort() override {}
};

}  // namespace

outbound_dialer make_dialer(net::io_pool& pool, std::shared_ptr<net::io_gate> gate) {
  return [&pool, gate](outbound_options opts, outbound_events events) -> outbound_socket_ptr {
    outbound_socket_ptr socket;
    gate->call(
        [&] { socket = net::open_ws_client(pool.next(), std::move(opts), std::move(events)); });
    if (!socket) return std::make_shared<dead_socket>();
    return std::make_shared<gated_socket>(std::move(socket), gate);
  };
}

}  // namespace wsvisor
