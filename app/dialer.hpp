#pragma once

/// The outbound sockets the node's upstream links dial (actors/outbound.hpp),
/// opened on the node's I/O threads through its gate (net/io_gate.hpp).

#include <memory>

#include "actors/outbound.hpp"
#include "net/io_gate.hpp"
#include "net/io_pool.hpp"

namespace wsvisor {

/// Opens a WebSocket client on one of `pool`'s threads while `gate` is open;
/// after the gate closed (the node is going down) a socket that never opens
/// and never reports.
outbound_dialer make_dialer(net::io_pool& pool, std::shared_ptr<net::io_gate> gate);

}  // namespace wsvisor
