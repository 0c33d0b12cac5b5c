#pragma once

/// What the load generator writes and reads on the wire, per kind of server.
/// Pure functions over strings: no sockets, so the tests check them directly.
///
/// Three dialects:
/// - `wsvisor`: the wsvisor.v1 protocol (hello/welcome, subscribe, publish,
///   message, ack, resume) on `/ws`;
/// - `raw`: the bench peers' echo/broadcast contract (tools/bench/README.md):
///   `/echo` sends each frame back, `/broadcast` sends it to every other
///   connection; the frame is the payload itself;
/// - `socketio`: Engine.IO v4 / Socket.IO v5 over the websocket transport
///   (`0{open}`, `40` connect, `42[...]` events, `2`/`3` ping/pong, recovery
///   with `pid` and `offset`), against tools/bench/node/socketio_peer.js.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wsbench {

enum class dialect { wsvisor, raw, socketio };

std::optional<dialect> parse_dialect(std::string_view name);
const char* to_string(dialect d);

/// The payload every workload sends: "<src>:<k>:<t_ns>:" padded with 'x' to
/// `size` bytes (longer when the numbers need it). `src` names the sender,
/// `k` counts its messages from 1, `t_ns` is the generator's steady clock at
/// sending, so one process measures both ends of a latency.
struct stamp {
  std::uint32_t src = 0;
  std::uint64_t k = 0;
  std::int64_t t_ns = 0;
};
/// What pads a payload to its size: `x`, the letter repeated (the default:
/// nothing for a server to do but copy it), or `ticks`, text shaped like a
/// market-data stream (symbols, prices, sizes, sides; the numbers drawn from
/// `k`, so every message differs): what compression meets in practice.
enum class filler { x, ticks };
std::optional<filler> parse_filler(std::string_view name);
std::string make_payload(const stamp& s, std::size_t size, filler fill = filler::x);
std::optional<stamp> parse_payload(std::string_view payload);

// ---- wsvisor.v1 ----------------------------------------------------------

std::string wsv_hello();
std::string wsv_resume(std::string_view session, std::string_view token, std::uint64_t last_seq);
std::string wsv_subscribe(std::string_view channel);
/// `payload` must not need JSON escaping (make_payload's never does).
/// On wsvisor.v1.msgpack every frame is the same one as a MessagePack map
/// (wsv_msgpack, parse_wsv_msgpack).
std::string wsv_publish(std::string_view channel, std::string_view payload, std::uint64_t cseq);
std::string wsv_ack(std::uint64_t seq);
std::string wsv_pong();
std::string wsv_bye();

struct wsv_frame {
  enum kind {
    welcome,
    subscribed,
    message,
    ack,
    ping,
    error,
    goaway,
    other,
    malformed
  } type = other;
  std::uint64_t seq = 0;       // message
  std::uint64_t cseq = 0;      // ack
  std::string data;            // message: the data when it is a string
  std::string session, token;  // welcome
  bool resumed = false;        // welcome
  std::string reason;          // welcome (resumed: false) or error code
};
wsv_frame parse_wsv(std::string_view text);
/// wsvisor.v1.msgpack: one binary frame, a MessagePack map of the same fields.
wsv_frame parse_wsv_msgpack(std::string_view bytes);
/// A frame written by the wsv_* functions above, as wsvisor.v1.msgpack sends it.
std::string wsv_msgpack(std::string_view json_frame);

// ---- Engine.IO v4 / Socket.IO v5 -----------------------------------------

/// `40`, or `40{"pid":..,"offset":..}` to ask for recovery.
std::string sio_connect(std::string_view pid = {}, std::string_view offset = {});
/// `42["event","payload"]`; `payload` must not need JSON escaping.
std::string sio_event(std::string_view event, std::string_view payload);
std::string sio_pong();        // `3`
std::string sio_disconnect();  // `41`

struct sio_frame {
  enum kind { open, ping, connected, connect_error, emitted, other, malformed } type = other;
  std::string sid;      // open (Engine.IO sid) or connected (Socket.IO sid)
  std::string pid;      // connected: the private session id, when recovery is on
  std::string event;    // event name
  std::string payload;  // event: the first argument when it is a string
  std::string offset;   // event: the recovery offset (a trailing string argument)
};
sio_frame parse_sio(std::string_view text);

}  // namespace wsbench
