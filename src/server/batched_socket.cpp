#include "server/batched_socket.h"

#include <boost/asio/write.hpp>

namespace chat::server {
namespace net = boost::asio;

void BatchedSocket::when_flushed(std::function<void()> fn) {
  if (waiting() == 0 || failed_) {
    net::post(socket_.get_executor(), std::move(fn));
    return;
  }
  on_flushed_.push_back(std::move(fn));
}

void BatchedSocket::answer_invalid_reason(std::size_t start) {
  // A server's close frame: FIN + opcode 8, an unmasked length of at least 2, then the code. Only
  // the first close frame after the check fired is the stream's answer to that close (a frame
  // refused earlier in the same read would also be failed with 1002: either way the connection is
  // failed, and 1007 names the close frame's fault).
  if (invalid_reason_answered_ || pending_.size() < start + 4) return;
  auto* frame = reinterpret_cast<unsigned char*>(pending_.data() + start);
  if (frame[0] != 0x88 || frame[1] < 2 || frame[1] > 125) return;
  invalid_reason_answered_ = true;
  constexpr unsigned kProtocolError = 1002;
  constexpr unsigned kInvalidPayload = 1007;
  if ((frame[2] << 8 | frame[3]) != kProtocolError) return;
  frame[2] = static_cast<unsigned char>(kInvalidPayload >> 8);
  frame[3] = static_cast<unsigned char>(kInvalidPayload & 0xff);
}

void BatchedSocket::uncork() {
  corked_ = false;
  if (!pending_.empty()) schedule_flush();
}

void BatchedSocket::schedule_flush() {
  if (corked_ || flush_scheduled_ || flushing_)
    return;  // a flush in flight takes pending_ when it ends
  flush_scheduled_ = true;
  // Posted, not started here: the frames already queued on this strand (the `sent` right behind a
  // `message`) join the same send.
  net::post(socket_.get_executor(), [this, owner = owner_.lock()] {
    flush_scheduled_ = false;
    if (!corked_) flush();  // corked meanwhile: uncork() schedules it again
  });
}

void BatchedSocket::flush() {
  if (flushing_ || pending_.empty() || failed_) return;
  flushing_ = true;
  writing_.swap(pending_);
  net::async_write(
      socket_, net::buffer(writing_),
      [this, owner = owner_.lock()](boost::beast::error_code ec, std::size_t) { on_flushed(ec); });
}

void BatchedSocket::on_flushed(boost::beast::error_code ec) {
  flushing_ = false;
  // An idle connection keeps no buffers: a burst pays one allocation, thousands of idle
  // connections pay nothing.
  std::string().swap(writing_);
  if (ec) {
    failed_ = ec;
    std::string().swap(pending_);
  } else if (!pending_.empty()) {
    return flush();  // what was appended meanwhile; the callbacks wait for it too
  }
  if (on_flushed_.empty()) return;
  auto callbacks = std::move(on_flushed_);
  on_flushed_.clear();
  for (auto& fn : callbacks) fn();
}

void BatchedSocket::async_linger(boost::beast::role_type role,
                                 std::function<void(boost::beast::error_code)> done) {
  boost::beast::error_code ignored;
  if (role == boost::beast::role_type::server) {
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }
  drain(std::make_shared<std::string>(16 * 1024, '\0'), std::move(done));
}

void BatchedSocket::drain(std::shared_ptr<std::string> scratch,
                          std::function<void(boost::beast::error_code)> done) {
  socket_.async_read_some(
      boost::asio::buffer(*scratch),
      [this, scratch, done = std::move(done)](boost::beast::error_code ec, std::size_t) mutable {
        if (!ec) return drain(std::move(scratch), std::move(done));
        boost::beast::error_code ignored;
        socket_.close(ignored);
        done(ec == boost::asio::error::eof ? boost::beast::error_code{} : ec);
      });
}

void teardown(boost::beast::role_type role, BatchedSocket& stream, boost::beast::error_code& ec) {
  boost::beast::websocket::teardown(role, stream.next_layer(), ec);
}

}  // namespace chat::server
