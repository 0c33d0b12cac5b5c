#include "net/ws_upgrade.hpp"

#include "protocol/msgpack_codec.hpp"

namespace wsvisor::net {

namespace http = boost::beast::http;

ws_slots::refusal ws_slots::try_acquire(const std::string& ip) {
  auto open = open_.load(std::memory_order_acquire);
  do {
    if (open >= max_) return refusal::total;
  } while (!open_.compare_exchange_weak(open, open + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire));
  if (!per_ip_counted_) return refusal::none;
  std::lock_guard guard{mtx_};
  auto& mine = per_ip_[ip];
  if (mine >= max_per_ip_.load(std::memory_order_relaxed)) {
    open_.fetch_sub(1, std::memory_order_acq_rel);
    return refusal::per_ip;
  }
  ++mine;
  return refusal::none;
}

void ws_slots::release(const std::string& ip) {
  open_.fetch_sub(1, std::memory_order_acq_rel);
  if (!per_ip_counted_) return;
  std::lock_guard guard{mtx_};
  // Entries go with their last connection: the map holds only addresses
  // with a WebSocket open, so address churn cannot grow it.
  if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

void ws_slots::set_max_per_ip(std::uint64_t max_per_ip) {
  if (per_ip_counted_ && max_per_ip != 0) max_per_ip_.store(max_per_ip, std::memory_order_relaxed);
}

std::uint64_t ws_slots::open_from(const std::string& ip) const {
  std::lock_guard guard{mtx_};
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

std::string remote_ip(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string{"?"} : ep.address().to_string();
}

bool origin_allowed(const std::vector<std::string>& allowed, std::string_view origin) {
  if (allowed.empty()) return true;
  for (const auto& a : allowed)
    if (a == origin) return true;
  return false;
}

subprotocol_choice choose_subprotocol(const http::request<http::string_body>& req) {
  bool offered = false;
  auto [it, end] = req.equal_range(http::field::sec_websocket_protocol);
  for (; it != end; ++it) {
    std::string_view list{it->value().data(), it->value().size()};
    while (!list.empty()) {
      auto comma = list.find(',');
      auto token = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      auto first = token.find_first_not_of(" \t");
      if (first == std::string_view::npos) continue;
      token = token.substr(first, token.find_last_not_of(" \t") - first + 1);
      offered = true;
      // The first the client offered of those we speak.
      if (token == ws_subprotocol || token == proto::msgpack_subprotocol)
        return {true, std::string{token}};
    }
  }
  return {!offered, {}};
}

}  // namespace wsvisor::net
