#pragma once

/// The browser files built into the binary (docs/browser.md): the client
/// (`web/client/wsvisor-client.js`) and the demo page and dashboard
/// (`web/site/`). cmake/embed_web_assets.cmake turns them into a table at
/// build time, so that serving them reads no file at run time.

#include <span>
#include <string_view>

namespace wsvisor::web {

struct asset {
  std::string_view name;          // the file name: "wsvisor-client.js", "index.html", ...
  std::string_view content_type;  // from the extension: "text/html; charset=utf-8", ...
  std::string_view body;          // the file's bytes, as built
  std::string_view etag;          // a strong entity tag, quoted: "\"3f2a…\"" (its SHA-256)
  std::string_view gzip;          // the body gzip-compressed at build time; empty: not worth it
  std::string_view gzip_etag;     // the compressed body's tag: "\"3f2a…-gz\""
};

/// `web/client/wsvisor-client.js`; null in a tree without it.
const asset* client_script();

/// The files of `web/site/`, by name.
std::span<const asset> site_files();

/// The file called `name` among `files`; null when there is none.
inline const asset* find_file(std::span<const asset> files, std::string_view name) {
  for (const auto& a : files)
    if (a.name == name) return &a;
  return nullptr;
}

/// The file of `web/site/` called `name`; null when there is none.
inline const asset* find_site_file(std::string_view name) { return find_file(site_files(), name); }

}  // namespace wsvisor::web
