#include "net/site_routes.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "net/api_routes.hpp"

namespace wsvisor::net {

namespace json = boost::json;

namespace {

constexpr std::string_view html_suffix = ".html";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

site_answer file_answer(const web::asset& file, const site_request& req) {
  bool page = file.name.ends_with(html_suffix);
  bool vary = !file.gzip.empty();
  bool gzip = vary && accepts_gzip(req.accept_encoding);
  auto body = gzip ? file.gzip : file.body;
  auto etag = gzip ? file.gzip_etag : file.etag;
  if (etag_matches(req.if_none_match, etag))
    return {.status = 304, .etag = etag, .page = page, .gzip = gzip, .vary = vary};
  return {.content_type = file.content_type,
          .body = body,
          .etag = etag,
          .page = page,
          .gzip = gzip,
          .vary = vary};
}

site_answer method_not_allowed() {
  return {.status = 405,
          .content_type = "text/plain; charset=utf-8",
          .body = "method not allowed\n",
          .allow = "GET, HEAD"};
}

// The dashboard's credential: the Authorization field, else the cookie.
std::optional<site_answer> dashboard_refusal(const site_request& req, const site_content& content,
                                             std::string_view token, bool loopback) {
  std::string from_cookie;
  auto credential = req.authorization;
  if (credential.empty())
    if (auto value = cookie_value(req.cookie, token_cookie)) {
      from_cookie = "Bearer " + *value;
      credential = from_cookie;
    }
  auto refusal = check_api_access(credential, token, loopback);
  if (!refusal) return std::nullopt;
  if (refusal->status == 401) {
    site_answer login{.status = 401, .challenge = true};
    if (const auto* page = web::find_file(content.site, "login.html")) {
      login.content_type = page->content_type;
      login.body = page->body;
      login.page = true;
    } else {
      login.content_type = "text/plain; charset=utf-8";
      login.body = "send the [api] token as \"Authorization: Bearer TOKEN\"\n";
    }
    return login;
  }
  return site_answer{.status = 403,
                     .content_type = "text/plain; charset=utf-8",
                     .body =
                         "the dashboard needs [api] token when server.listen is not a "
                         "loopback address\n"};
}

}  // namespace

std::optional<site_answer> route_site(const site_request& req, const site_content& content,
                                      std::string_view token, bool loopback) {
  const web::asset* file = nullptr;
  bool gated = false;
  if (req.path == client_script_path) {
    file = content.client;
  } else if (!content.pages) {
    return std::nullopt;
  } else if (req.path == demo_path) {
    file = web::find_file(content.site, "index.html");
  } else if (req.path == dashboard_path) {
    file = web::find_file(content.site, "dashboard.html");
    gated = true;
  } else if (req.path.starts_with(static_prefix)) {
    auto name = req.path.substr(static_prefix.size());
    if (!name.ends_with(html_suffix)) file = web::find_file(content.site, name);
  } else if (req.path == site_json_path && !content.site_json.empty()) {
    if (req.method != "GET" && req.method != "HEAD") return method_not_allowed();
    return site_answer{.content_type = "application/json", .body = content.site_json};
  }
  if (file == nullptr) return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD") return method_not_allowed();
  if (gated)
    if (auto refusal = dashboard_refusal(req, content, token, loopback)) return refusal;
  return file_answer(*file, req);
}

std::string site_json_of(std::string_view ws_path) {
  return json::serialize(json::object{{"ws_path", ws_path}});
}

std::optional<std::string> cookie_value(std::string_view cookie, std::string_view name) {
  while (!cookie.empty()) {
    auto end = cookie.find(';');
    auto pair = trim(cookie.substr(0, end));
    cookie = end == std::string_view::npos ? std::string_view{} : cookie.substr(end + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
    auto value = trim(pair.substr(eq + 1));
    // RFC 6265 allows the value in double quotes.
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    // A malformed escape is kept as it is: it then matches no token.
    return percent_decoded(value, false).value_or(std::string{value});
  }
  return std::nullopt;
}

bool accepts_gzip(std::string_view accept_encoding) {
  auto lower = [](std::string_view s) {
    std::string out{s};
    for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return out;
  };
  std::optional<bool> gzip, any;
  while (!accept_encoding.empty()) {
    auto end = accept_encoding.find(',');
    auto item = trim(accept_encoding.substr(0, end));
    accept_encoding =
        end == std::string_view::npos ? std::string_view{} : accept_encoding.substr(end + 1);
    auto semi = item.find(';');
    auto coding = lower(trim(item.substr(0, semi)));
    // A weight of 0 (q=0, q=0.0, q=0.000) refuses the coding.
    bool refused = false;
    if (semi != std::string_view::npos) {
      auto param = lower(trim(item.substr(semi + 1)));
      param.erase(std::remove(param.begin(), param.end(), ' '), param.end());
      if (param.starts_with("q=")) {
        auto q = std::string_view{param}.substr(2);
        refused = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    if (coding == "gzip" || coding == "x-gzip")
      gzip = !refused;
    else if (coding == "*")
      any = !refused;
  }
  return gzip.value_or(any.value_or(false));
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (etag.empty()) return false;
  while (!if_none_match.empty()) {
    auto end = if_none_match.find(',');
    auto tag = trim(if_none_match.substr(0, end));
    if_none_match =
        end == std::string_view::npos ? std::string_view{} : if_none_match.substr(end + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

}  // namespace wsvisor::net
