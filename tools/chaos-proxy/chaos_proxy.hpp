#pragma once

/// A fault-injecting TCP proxy (issue 7). It listens on one address and
/// forwards every accepted connection to a target address, bytes unchanged
/// in both directions, until told to misbehave:
///
/// - cuts: reset both sides of a connection (SO_LINGER 0, then close), now
///   (`cut_all`), at seeded random moments (`cut_randomly`), at given moments
///   (`cut_at`) or once a connection has forwarded N bytes (`cut_after_bytes`);
/// - delay: hold every chunk for an added latency before forwarding it;
/// - throttle: forward at most N bytes per second;
/// - stall: forward nothing in one direction, closing nothing (half-open),
///   until un-stalled;
/// - truncate: forward only a prefix of a chunk, then reset the connection.
///
/// Delay, throttle and stall are set per direction. A chunk is what one read
/// from the sending socket returned (at most `proxy_options::chunk_bytes`);
/// a peer's single small write is usually one chunk. Bytes held back (delay,
/// throttle, stall) queue in the proxy up to `lane_buffer_bytes` per
/// direction and connection; beyond that the proxy stops reading, so TCP
/// pushes back on the sender as a slow network would.
///
/// An orderly close (EOF) by either side is passed on as one, after the
/// bytes before it. A reset or error on one side resets the other.
///
/// Threading: the proxy runs on its own I/O thread; every member may be
/// called from any thread. Setters return once the fault is in force (a
/// change of delay applies to chunks read from then on). The destructor
/// resets every connection and joins the thread. Asio stays out of this
/// header.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wsvisor::chaos {

using duration = std::chrono::milliseconds;

enum class direction : std::uint8_t {
  client_to_server,  // "c2s": what the accepted side sends
  server_to_client,  // "s2c": what the target sends
};

struct proxy_options {
  std::string listen_host = "127.0.0.1";     // where clients connect (name or address)
  std::uint16_t listen_port = 0;             // 0: the OS picks one; see port()
  std::string target_host = "127.0.0.1";     // where each connection is forwarded
  std::uint16_t target_port = 0;             // (resolved once, at construction)
  std::size_t chunk_bytes = 16 * 1024;       // the largest read: the unit of delay and truncation
  std::size_t lane_buffer_bytes = 1u << 20;  // held per direction and connection before reads pause
};

/// Bytes through one direction, over every connection so far.
struct lane_stats {
  std::uint64_t received = 0;   // read from the sending side
  std::uint64_t forwarded = 0;  // written to the receiving side
};

struct proxy_stats {
  std::uint64_t accepted = 0;     // connections accepted
  std::size_t active = 0;         // connections open now (connecting or forwarding)
  std::uint64_t cuts = 0;         // connections reset by a fault: any cut, truncation or refusal
  std::uint64_t truncations = 0;  // of those, resets after a truncated chunk
  lane_stats c2s;
  lane_stats s2c;

  const lane_stats& operator[](direction d) const {
    return d == direction::client_to_server ? c2s : s2c;
  }
};

/// A truncation: the chunk's first `keep` bytes are forwarded (never the whole
/// chunk: at most all but its last byte), then the connection is reset.
struct truncation {
  direction dir = direction::server_to_client;
  std::size_t keep = 0;
};

class chaos_proxy {
 public:
  /// Resolves both addresses, starts listening and forwarding. Throws
  /// std::runtime_error (naming the address) if it cannot resolve or listen.
  explicit chaos_proxy(proxy_options options);
  /// Listens on 127.0.0.1 (port chosen by the OS) and forwards to
  /// 127.0.0.1:`target_port`: what tests want.
  explicit chaos_proxy(std::uint16_t target_port);
  ~chaos_proxy();
  chaos_proxy(const chaos_proxy&) = delete;
  chaos_proxy& operator=(const chaos_proxy&) = delete;

  std::uint16_t port() const;  // where the proxy listens

  // --- cuts --------------------------------------------------------------

  /// Resets every connection now; returns how many.
  std::size_t cut_all();

  /// From now on, every uniform[min_interval, max_interval] (drawn from a
  /// std::mt19937_64 seeded with `seed`) one open connection, picked with
  /// the same generator, is reset; a tick without connections does nothing.
  /// With `truncate`, the picked connection instead forwards only a prefix
  /// of its next chunk in that direction, then is reset. Calling it again
  /// replaces the schedule. Throws std::invalid_argument if max < min.
  void cut_randomly(duration min_interval, duration max_interval, std::uint64_t seed,
                    std::optional<truncation> truncate = std::nullopt);

  /// At each of these moments (measured from now) every open connection is
  /// reset. Adds to moments already scheduled.
  void cut_at(const std::vector<duration>& after);

  /// Ends `cut_randomly` and forgets every pending `cut_at` moment.
  void stop_cutting();

  /// Each connection, the open ones included, is reset once it has forwarded
  /// `limit` bytes (both directions together): the chunk that crosses the
  /// limit is forwarded only up to it. nullopt turns this off.
  void cut_after_bytes(std::optional<std::uint64_t> limit);

  /// While on, connections are reset as soon as they are accepted.
  void set_refusing(bool on);

  // --- shaping -----------------------------------------------------------

  /// Every chunk read in `d` from now on is forwarded `delay` after it was
  /// read (latency, not a pause between chunks: chunks in flight overlap).
  void set_delay(direction d, duration delay);

  /// At most `bytes_per_second` are forwarded in `d` (in slices of a
  /// twentieth of a second's worth); 0 = unlimited.
  void set_throttle(direction d, std::uint64_t bytes_per_second);

  /// While stalled, nothing is forwarded in `d`, not even an EOF; the
  /// connections stay open and the other direction flows. Un-stalling
  /// forwards what was held.
  void set_stalled(direction d, bool stalled);

  // --- truncation --------------------------------------------------------

  /// The next chunk forwarded in `t.dir`, on whichever connection, is
  /// truncated (see `truncation`) and its connection reset. One-shot; a
  /// second call before it fires replaces the first.
  void truncate_next(truncation t);

  // --- observing ---------------------------------------------------------

  proxy_stats stats() const;

  /// Blocks until `pred(stats())` holds or `timeout` passes; returns whether
  /// it held. `pred` runs under the stats lock: keep it trivial.
  bool wait_for(const std::function<bool(const proxy_stats&)>& pred, duration timeout) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// "c2s" or "s2c".
std::string to_string(direction d);

}  // namespace wsvisor::chaos
