#pragma once

/// The HTTP API's decisions (docs/api.md), apart from the socket work in
/// net/http_server.cpp: who may publish, what a request body means and what
/// each outcome answers. Internal to net/. Pure functions, safe from any
/// thread; no Beast types, so that each rule is tested on its own.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "net/http_server.hpp"

namespace wsvisor::net {

inline constexpr std::string_view api_publish_path = "/api/publish";
inline constexpr std::string_view metrics_path = "/metrics";

/// One answer of the API: an HTTP status and a JSON body.
struct api_answer {
  unsigned status = 200;
  std::string body;        // a JSON object: {"sessions":N,...} or {"error":...,"message":...}
  bool challenge = false;  // 401: send `WWW-Authenticate: Bearer`
  std::string_view allow;  // 405: the `Allow` header ("POST", "GET", "GET, DELETE")
};

/// The most one page of /api/sessions or /api/channels may hold.
inline constexpr std::uint64_t admin_max_limit = 1000;

/// The checks made before the body is looked at, in this order: the method
/// (405), an API without token on an exposed listener (403), the bearer
/// token (401). `authorization` is the request's Authorization field;
/// `loopback` is is_loopback_listen(listen). nullopt: go on.
std::optional<api_answer> check_publish_access(bool is_post, std::string_view authorization,
                                               std::string_view token, bool loopback);

/// The API's access rule, for every route under it (and GET /metrics): an
/// API without token on an exposed listener (403), the bearer token (401).
/// nullopt: allowed.
std::optional<api_answer> check_api_access(std::string_view authorization, std::string_view token,
                                           bool loopback);

/// True iff `path` (no query) is one of the admin API's: /api/sessions,
/// /api/sessions/..., /api/supervision, /api/channels.
bool is_admin_path(std::string_view path);

/// An admin request (`target` with its query) as an admin_request, or its
/// answer: 404 not_found (no such route), 405 method_not_allowed (with
/// `allow`), then check_api_access's 403/401, then 400 bad_request for a bad
/// `limit`, `after` or `state`.
std::variant<admin_request, api_answer> route_admin(std::string_view method,
                                                    std::string_view target,
                                                    std::string_view authorization,
                                                    std::string_view token, bool loopback);

/// 200 with the outcome's body, or its error with its status.
api_answer answer_admin(const admin_outcome& outcome);

/// The `reply` handed to on_admin; like make_publish_reply, an unanswered
/// reply answers 500 {error "internal"}.
admin_reply make_admin_reply(std::function<void(admin_outcome)> deliver);

/// %XX decoded, and `+` as a space when `plus_is_space` (a query from an
/// HTML form); nullopt for a malformed escape.
std::optional<std::string> percent_decoded(std::string_view text, bool plus_is_space);

/// True iff `authorization` is `Bearer TOKEN` (scheme in any case) and TOKEN
/// equals `token`, compared in time independent of where they differ.
bool bearer_matches(std::string_view authorization, std::string_view token);

/// The body `{"channel": "...", "data": <any JSON>}` as a request, or the
/// 400 answer: bad_json (not a JSON object), bad_request (a field missing or
/// of the wrong type), bad_channel (invalid or reserved channel). With
/// `content_type` application/msgpack (or application/x-msgpack; parameters
/// and case aside) the body is one MessagePack map with the same fields,
/// whose `data` may be any MessagePack value (protocol/msgpack_codec.hpp);
/// not one: 400 bad_msgpack. Any other type, or none, is JSON.
std::variant<publish_request, api_answer> parse_publish(std::string_view body,
                                                        std::string_view content_type = {});

/// True iff `content_type`'s media type is application/msgpack (or x-msgpack).
bool is_msgpack_type(std::string_view content_type);

/// 200 {"sessions":N[,"upstream":"NAME"]}, or the outcome's error: 503 for
/// "upstream_down" and "timeout", 500 for any other code.
api_answer answer_publish(const publish_outcome& outcome);

/// The `reply` handed to on_publish. Its first call passes the outcome to
/// `deliver`, on the calling thread; later calls are ignored. When its last
/// copy is destroyed uncalled, `deliver` gets {error "internal"}, so that a
/// callee that lost the request still gets the client an answer (500).
publish_reply make_publish_reply(std::function<void(publish_outcome)> deliver);

/// 413: the body is larger than `limit` bytes (server.max_message_bytes).
api_answer body_too_large(std::uint64_t limit);

/// True iff `path` (no query) is the HTTP API's: /api, /api/..., /metrics.
/// Every answer there is JSON, a refusal too (api_refusal).
bool is_api_path(std::string_view path);

/// The API's refusals that no route decides: 404 not_found (a path it does
/// not serve, or a route turned off), 405 method_not_allowed with `allow`,
/// 413 too_large (a body sent to a route that takes none).
api_answer api_not_found();
api_answer api_method_not_allowed(std::string_view allow);
api_answer body_not_taken();

}  // namespace wsvisor::net
