#pragma once

/// Session ids and resume tokens. Both come from OpenSSL's CSPRNG (RAND_bytes)
/// and carry at least 128 random bits; the id names a session in logs and on
/// the wire, the token proves the right to resume it. Thread-safe.

#include <string>
#include <string_view>

namespace wsvisor {

/// A new session id: 128 random bits as 32 lowercase hex characters. Every id
/// is made here, so that cluster work can put a node prefix in front of the
/// random part in one place. Throws std::runtime_error if the CSPRNG fails
/// (an actor calling this then ends with sec::runtime_error).
std::string new_session_id();

/// A new origin id for a cluster node's broker: 64 random bits, never 0
/// (which a single node uses). Each broker incarnation gets its own, because
/// its delivery counter starts again at 1: a restarted node must not look
/// like the one whose messages a session already holds.
std::uint64_t new_origin();

/// A new resume token: 256 random bits as 43 base64url characters (no
/// padding). Throws std::runtime_error if the CSPRNG fails.
std::string new_token();

/// The presence `member` of session `id` (docs/protocol.md, "Presence"): the
/// first 96 bits of SHA-256("wsvisor.member:" + id) as 24 lowercase hex
/// characters. Stable for the session's life on every node (it depends on
/// the id alone) and does not reveal the id, which stays secret to its
/// client.
std::string member_of(std::string_view session_id);

/// `bytes` in base64url without padding (RFC 4648 §5, as JWTs use it).
std::string base64url(std::string_view bytes);

/// True iff `a` and `b` are equal. The time taken depends on the lengths
/// (not secret: every token has the same length) but not on the content, so
/// timing reveals nothing about how much of a guessed token was right.
bool token_equal(std::string_view a, std::string_view b);

}  // namespace wsvisor
