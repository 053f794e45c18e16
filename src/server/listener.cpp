#include "server/listener.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "base/log.h"
#include "server/http_session.h"

namespace chat::server {
namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(net::io_context& ioc, ServerContext& ctx, RestApi& api, unsigned threads)
    : ioc_(ioc),
      ctx_(ctx),
      api_(api),
      threads_(threads),
      acceptor_(connection_executor()),
      backoff_(acceptor_.get_executor()) {
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

Listener::~Listener() {
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void Listener::open(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void Listener::run() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void Listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->backoff_.cancel();
    self->acceptor_.close(ignored);
  });
}

void Listener::do_accept() {
  if (!acceptor_.is_open()) return;
  acceptor_.async_accept(connection_executor(),
                         [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
                           self->on_accept(ec, std::move(s));
                         });
}

void Listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    ctx_.metrics.accept_failures.fetch_add(1, std::memory_order_relaxed);
    const bool out_of_descriptors = ec == net::error::no_descriptors || ec.value() == ENFILE ||
                                    ec == net::error::no_buffer_space ||
                                    ec == net::error::no_memory;
    if (out_of_descriptors) {
      log::warn("accept failed: ", ec.message(), "; refusing waiting connections");
      refuse_one_waiting();
      backoff_.expires_after(std::chrono::milliseconds(50));
      backoff_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
        if (!wait_ec) self->do_accept();
      });
      return;
    }
    log::warn("accept failed: ", ec.message());
    return do_accept();
  }
  if (ctx_.draining.load()) {
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    // Events are small and latency-bound: a `sent` written right after a `message` must not wait
    // for the peer's delayed ACK.
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<HttpSession>(std::move(socket), ctx_, api_)->run();
  }
  do_accept();
}

net::any_io_executor Listener::connection_executor() {
  if (threads_ > 1) return net::make_strand(ioc_);
  return ioc_.get_executor();
}

void Listener::refuse_one_waiting() {
  if (spare_fd_ < 0) return;
  ::close(spare_fd_);
  spare_fd_ = -1;
  const int fd =
      ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd >= 0) ::close(fd);
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace chat::server
