#pragma once

/// sd_notify(3) for a `Type=notify` systemd service (docs/operations.md):
/// each call sends one state change to the socket named by NOTIFY_SOCKET,
/// and is a no-op without it (a node started by hand, or by tests).
/// Thread-safe; failures to send are ignored, as sd_notify's are.

#include <string_view>

namespace wsvisor::systemd {

/// READY=1: the listener is bound and the supervision tree started.
void notify_ready();

/// STOPPING=1: a drain or shutdown began.
void notify_stopping();

/// RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload expects): a
/// configuration reload began; notify_ready() ends it.
void notify_reloading();

/// STATUS=`text`: one line shown by `systemctl status` (newlines become spaces).
void notify_status(std::string_view text);

}  // namespace wsvisor::systemd
