#pragma once

/// One Asio io_context and the thread that runs it, for the sockets of one
/// client. Shared (shared_ptr) by the client facade and its link actors, so
/// that a link actor that ends after the facade still finds a live context to
/// post its last `abort` to. Internal to the client.

#include <future>
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "config/config.hpp"

namespace wsvisor::detail {

class client_io {
 public:
  client_io();
  /// Stops the context and joins the thread if stop() did not.
  ~client_io();
  client_io(const client_io&) = delete;
  client_io& operator=(const client_io&) = delete;

  boost::asio::io_context& context() { return ioc_; }

  /// Lets the thread finish the work in flight for at most `grace`, then
  /// stops the context and joins the thread. Must not run on that thread.
  void stop(duration grace);

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::promise<void> ran_out_;
  std::future<void> ran_out_future_;
  std::thread thread_;
};

}  // namespace wsvisor::detail
