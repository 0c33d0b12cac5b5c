#include "client/client_io.hpp"

#include "log/log.hpp"

namespace wsvisor::detail {

client_io::client_io()
    : work_(boost::asio::make_work_guard(ioc_)), ran_out_future_(ran_out_.get_future()) {
  thread_ = std::thread([this] {
    // A handler that throws is a bug in the client; log it and keep the
    // thread alive rather than take the whole process down with terminate().
    for (;;) {
      try {
        ioc_.run();
        break;
      } catch (const std::exception& e) {
        log::error(*log::get("client"), "exception on the I/O thread", {{"what", e.what()}});
      }
    }
    ran_out_.set_value();
  });
}

client_io::~client_io() {
  if (thread_.joinable()) stop(duration::zero());
}

void client_io::stop(duration grace) {
  if (!thread_.joinable()) return;
  work_.reset();
  // Without the guard, run() returns once the last socket is closed; a
  // connection still busy after the grace is cut off by stop().
  if (ran_out_future_.wait_for(grace) != std::future_status::ready) ioc_.stop();
  thread_.join();
}

}  // namespace wsvisor::detail
