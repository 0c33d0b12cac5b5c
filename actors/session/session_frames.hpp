#pragma once

/// What a session is told for a client frame its connection passes on
/// (actors/session/messages.hpp, "session <- its current connection"). Pure.

#include <caf/message.hpp>

#include "protocol/codec.hpp"

namespace wsvisor {

/// The session's message for `frame` (moved from): subscribe, presence,
/// unsubscribe, publish, ack, bye. An empty message for the frames the
/// connection handles itself (hello, resume, pong).
caf::message session_message(proto::client_frame& frame);

}  // namespace wsvisor
