#pragma once

/// Outbound WebSockets over Beast: the `outbound_socket` of
/// actors/outbound.hpp for `ws://` and `wss://` URLs (net/ws_url.hpp).
///
/// An attempt resolves, connects (TCP_NODELAY), does the TLS handshake for
/// wss:// and the HTTP upgrade, all within one `connect_timeout` deadline.
/// Each way it can end maps to one `outbound_end`:
///   - the URL does not parse: bad_url; the host does not resolve:
///     resolve_failed; TCP connect fails: connect_failed; the TLS context,
///     handshake or certificate check fails: tls_failed; the deadline passes:
///     connect_timeout;
///   - the server answers the upgrade with anything but a valid 101:
///     handshake_failed, `http_status` set when an HTTP answer arrived; also
///     when it selects a subprotocol that was not offered, or none while
///     `require_subprotocol` is set;
///   - once open: a close frame from the peer: closed_by_peer (`close_code`,
///     1005 when the frame has none; the reason in `detail`); TCP ending
///     without one, or an inbound frame over `max_frame_bytes`:
///     connection_lost; nothing received for `heartbeat_timeout` (Beast pings
///     after half of it): heartbeat_timeout; more than `max_queued_bytes`
///     unwritten: write_overflow; `close()`: closed.
///
/// wss:// verifies the peer against the system's CAs plus `ca_file`,
/// including its host name (or IP address), and sends SNI for host names.
/// Closing handshakes (ours or the peer's) are bounded by `connect_timeout`
/// too: a peer that never completes one cannot hold the socket.
/// `close()` before the upgrade completed ends the attempt at once (`closed`,
/// queued frames dropped). Binary frames are ignored; the first one per
/// socket is logged (logger "upstream").
///
/// Threading: each socket runs on its own strand of `ioc`; every event runs
/// there, so events of one socket never overlap. The returned socket may be
/// used from any thread; no event (not even bad_url) runs inside
/// `open_ws_client`. Events must not block or throw. The socket keeps itself
/// alive while it has work; dropping the returned pointer does not close it.
/// Beast, Asio and OpenSSL stay out of this header.

#include "actors/outbound.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace wsvisor::net {

/// Opens an outbound WebSocket to `opts.url` on `ioc` and returns at once
/// (never null; every failure is reported through `events.on_closed`).
outbound_socket_ptr open_ws_client(boost::asio::io_context& ioc, outbound_options opts,
                                   outbound_events events);

}  // namespace wsvisor::net
