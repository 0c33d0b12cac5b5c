#pragma once

/// The socket side of one client link: an outbound WebSocket
/// (net/ws_client.hpp, ws:// or wss://) that offers subprotocol wsvisor.v1,
/// requires it to be selected, and turns socket events into actor messages.
/// Internal to the client.
///
/// Threading: every member may be called from any thread; the work is posted
/// to the connection's strand. The socket side never waits for an actor: it
/// only sends to them.
///
/// Messages it sends (client/messages.hpp):
/// - to `client`: (client_open_atom, id) once the upgrade succeeded, then one
///   (client_frame_atom, id, text) per text frame, in order;
/// - to `link`: exactly one (client_closed_atom, client_errc, detail) when the
///   connection ends for any reason other than abort(), after every frame.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>

#include "config/config.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace wsvisor::detail {

struct ws_link_params {
  std::string url;       // ws:// or wss://; a bad one reports connect_failed
  caf::actor client;     // receives open and frames
  caf::actor link;       // receives closed
  std::uint64_t id = 0;  // stamps open and frames: the link actor's id
  duration connect_timeout{10'000};
  std::string ca_file;  // wss://: extra trusted CAs (PEM); empty: the system's only
  std::size_t max_queued_bytes = 16u << 20;
  std::size_t max_frame_bytes = 16u << 20;
};

class ws_link {
 public:
  virtual ~ws_link() = default;

  /// Queues one text frame (one write in flight, the rest queued). Frames
  /// passed before the upgrade completes are written after it. When the
  /// unwritten bytes would pass max_queued_bytes the connection is closed
  /// with write_overflow: the server is not reading.
  virtual void send(std::string text) = 0;

  /// Writes what is queued, then the close handshake (1000); reports
  /// closed_by_client. Later sends are dropped.
  virtual void close() = 0;

  /// Closes the socket now and reports nothing more.
  virtual void abort() = 0;
};

/// Starts resolving and connecting on `ioc` and returns at once; reports
/// nothing before it returned.
std::shared_ptr<ws_link> open_ws_link(boost::asio::io_context& ioc, ws_link_params params);

}  // namespace wsvisor::detail
