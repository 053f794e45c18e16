#pragma once
// Accepts TCP connections and starts an HttpSession for each. Keeps serving when the process is
// out of file descriptors: a spare descriptor is given up to accept and close the waiting
// connection (a clean refusal instead of a client left hanging), then the loop waits briefly
// before accepting again, so it neither spins nor stops.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "server/context.h"
#include "server/rest_api.h"

namespace chat::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // `threads`: how many threads run `ioc`.
  Listener(boost::asio::io_context& ioc, ServerContext& ctx, RestApi& api, unsigned threads);
  ~Listener();

  // Binds and listens; throws on failure (called once at start-up).
  void open(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void run();
  // Stops accepting; thread-safe.
  void stop();

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
  void refuse_one_waiting();
  // The executor of a new connection: a strand of its own when several threads run the
  // io_context; with one thread the io_context itself, already serial, which spares a strand per
  // connection and a strand hop per hand-off.
  boost::asio::any_io_executor connection_executor();

  boost::asio::io_context& ioc_;
  ServerContext& ctx_;
  RestApi& api_;
  const unsigned threads_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  int spare_fd_ = -1;
};

}  // namespace chat::server
