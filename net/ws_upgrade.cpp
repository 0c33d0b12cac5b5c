#include "net/ws_upgrade.hpp"

namespace wsvisor::net {

namespace http = boost::beast::http;

bool ws_slots::try_acquire() {
  auto open = open_.load(std::memory_order_acquire);
  do {
    if (open >= max_) return false;
  } while (!open_.compare_exchange_weak(open, open + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire));
  return true;
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
      if (token == ws_subprotocol) return {true, std::string{ws_subprotocol}};
    }
  }
  return {!offered, {}};
}

}  // namespace wsvisor::net
