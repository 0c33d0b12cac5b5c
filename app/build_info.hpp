#pragma once

/// What this binary was built from: wsvisor's own version and those of the
/// libraries it links, for `--version` and `GET /version`.

#include <string>

namespace wsvisor {

/// One `name version` line per component, wsvisor first.
std::string version_text();

/// The same as a JSON object: {"wsvisor": "...", "caf": "...", ...}.
std::string version_json();

}  // namespace wsvisor
