#pragma once

/// The browser files' routes (docs/browser.md), apart from the socket work
/// in net/http_connection_impl.hpp: `/` (the demo page), `/dashboard` (behind the
/// API's access rule), `/client.js`, `/static/NAME` and `/site.json`. Internal to net/.
/// Pure functions over the embedded files (web/assets.hpp), which the caller
/// passes in, so that each rule is tested on its own.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "web/assets.hpp"

namespace wsvisor::net {

inline constexpr std::string_view demo_path = "/";
inline constexpr std::string_view dashboard_path = "/dashboard";
inline constexpr std::string_view client_script_path = "/client.js";
inline constexpr std::string_view static_prefix = "/static/";
/// What the pages learn of the node: {"ws_path": server.path}.
inline constexpr std::string_view site_json_path = "/site.json";
/// The cookie the dashboard's login page sets to the [api] token.
inline constexpr std::string_view token_cookie = "wsvisor_token";

/// Every answer here may be revalidated with its ETag at each use.
inline constexpr std::string_view site_cache_control = "no-cache";
/// The pages' Content-Security-Policy: their own scripts and styles only
/// (no inline script), WebSockets to any host (a goaway may name another
/// node), nothing framing them.
inline constexpr std::string_view page_security_policy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

/// The files a route may serve.
struct site_content {
  const web::asset* client = nullptr;  // /client.js; null: 404
  std::span<const web::asset> site;    // web/site/, by file name
  bool pages = true;                   // false ([web] pages): /, /dashboard, /static/ are 404
  std::string_view site_json;          // /site.json's body (site_json_of); empty: 404
};

/// /site.json's body: {"ws_path":PATH}, the node's `server.path`, so that the
/// demo page connects where the node listens.
std::string site_json_of(std::string_view ws_path);

/// The parts of a request that the routes read.
struct site_request {
  std::string_view method;
  std::string_view path;             // without the query
  std::string_view if_none_match;    // the If-None-Match field
  std::string_view authorization;    // the Authorization field
  std::string_view cookie;           // the Cookie field
  std::string_view accept_encoding;  // the Accept-Encoding field
};

struct site_answer {
  unsigned status = 200;          // 200, 304, 401 (the login page), 403, 405
  std::string_view content_type;  // empty with 304
  std::string_view body;          // static (embedded or a literal); sent only for GET
  std::string_view etag;          // 200 and 304; empty otherwise
  std::string_view allow;         // 405: "GET, HEAD"
  bool page = false;              // an HTML page: send page_security_policy
  bool challenge = false;         // 401: `WWW-Authenticate: Bearer`
  bool gzip = false;              // the body is the gzip representation: `Content-Encoding: gzip`
  bool vary = false;              // the file has two representations: `Vary: Accept-Encoding`
};

/// The answer to a request for one of the browser files, or nullopt when
/// `path` names none of them (the caller answers 404 or routes it on).
/// `/dashboard` follows the API's access rule (check_api_access) with the
/// token from the Authorization field or, failing that, the wsvisor_token
/// cookie; refused with 401, it answers the login page (`login.html`).
/// HTML files are served at their routes only, not under /static/. A file
/// with a compressed representation is answered with it when the request
/// accepts gzip.
std::optional<site_answer> route_site(const site_request& req, const site_content& content,
                                      std::string_view token, bool loopback);

/// The value of cookie `name` in a Cookie field, percent-decoded; nullopt
/// when absent.
std::optional<std::string> cookie_value(std::string_view cookie, std::string_view name);

/// True iff an Accept-Encoding field accepts gzip (RFC 9110 §12.5.3): it
/// names `gzip` (or `x-gzip`), or `*`, with a weight above 0.
bool accepts_gzip(std::string_view accept_encoding);

/// True iff an If-None-Match field lists `etag` (weak comparison, RFC 9110
/// §13.1.2) or is `*`.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace wsvisor::net
