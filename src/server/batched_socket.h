#pragma once
// The layer under a WebSocket session that turns many small frames into few socket writes.
//
// A busy connection is given several frames per wake-up (a `message` and the `sent` that follows
// it, or one entry per sender in a group commit). Written one by one, each costs a send() and a
// trip through the kernel's TCP stack; here they are appended to one buffer and written with one
// send once the frames already queued on the connection's executor have run.
//
// It is the `NextLayer` of beast::websocket::stream, so every byte the stream writes (data, pong,
// close) passes through it in order. A write is accepted at once and completes without waiting
// for the socket (write-behind); the caller bounds what waits with over_limit() and
// when_flushed(). Reads go straight to the socket, after any bytes that arrived before the stream
// took over (read past the upgrade request: the client's first frames, sent in the same write);
// until the client's close frame, their frame headers are followed by a CloseReasonCheck, so that
// a close reason that is not UTF-8 is answered with 1007 rather than the stream's 1002.
//
// Threading: not thread-safe; used from the session's strand only (the socket's executor), where
// its completions run too. Lifetime: set_owner() names the object that owns this layer (the
// session); a write in flight keeps it alive.
#include <algorithm>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/close_reason_check.h"

namespace chat::server {

class BatchedSocket {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using next_layer_type = socket_type;

  // How many bytes may wait for the socket before over_limit() asks the writer to hold back.
  static constexpr std::size_t kLimit = 64 * 1024;

  explicit BatchedSocket(socket_type&& socket) : socket_(std::move(socket)) {}

  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  socket_type& next_layer() noexcept { return socket_; }

  // Bytes already received from the peer, to be read before anything from the socket.
  void set_unread(std::string bytes) {
    if (!bytes.empty()) unread_ = std::make_unique<std::string>(std::move(bytes));
  }

  template <class MutableBufferSequence, class ReadHandler>
  void async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    if (!unread_) {
      if (close_check_.done()) {
        socket_.async_read_some(buffers, std::forward<ReadHandler>(handler));
        return;
      }
      auto executor = boost::asio::get_associated_executor(handler, socket_.get_executor());
      socket_.async_read_some(
          buffers, boost::asio::bind_executor(
                       executor, [this, buffers, handler = std::forward<ReadHandler>(handler)](
                                     boost::beast::error_code ec, std::size_t bytes) mutable {
                         check(buffers, bytes);
                         std::move(handler)(ec, bytes);
                       }));
      return;
    }
    const std::size_t bytes = boost::asio::buffer_copy(buffers, boost::asio::buffer(*unread_));
    close_check_.feed(std::string_view(*unread_).substr(0, bytes));
    unread_->erase(0, bytes);
    if (unread_->empty()) unread_.reset();
    boost::asio::post(
        socket_.get_executor(),
        boost::asio::append(std::forward<ReadHandler>(handler), boost::beast::error_code{}, bytes));
  }

  // Appends `buffers` to what is to be written and completes (on the executor, never inline)
  // with all of it accepted, or with the error of an earlier write that failed.
  template <class ConstBufferSequence, class WriteHandler>
  void async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    std::size_t bytes = 0;
    if (!failed_) {
      const std::size_t start = pending_.size();
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        const boost::asio::const_buffer b(*it);
        pending_.append(static_cast<const char*>(b.data()), b.size());
        bytes += b.size();
      }
      if (close_check_.invalid_reason()) answer_invalid_reason(start);
    }
    // The completion first: it lets the writer hand over its next frame before the flush runs.
    boost::asio::post(socket_.get_executor(),
                      boost::asio::append(std::forward<WriteHandler>(handler), failed_, bytes));
    if (!failed_) schedule_flush();
  }

  // While corked, nothing is sent: the writer has more frames queued and hands them over one by one
  // (each write completes through the executor); uncork() once its queue is empty sends them all
  // at once. Frames the stream writes by itself meanwhile (a pong) wait for the uncork too.
  void cork() { corked_ = true; }
  void uncork();

  // Bytes accepted but not yet taken by the socket.
  std::size_t waiting() const { return pending_.size() + writing_.size(); }
  bool over_limit() const { return waiting() > kLimit; }
  // Runs `fn` on the executor once nothing waits any more (or the socket failed); posted at once
  // when nothing waits now.
  void when_flushed(std::function<void()> fn);

  // The end of a close handshake: a server shuts down its sending side, then reads and drops what
  // the peer still sends until its EOF (or an error, or the session closing the socket at its close
  // deadline), then closes. Closing with unread input would send a reset, and a peer still writing
  // (the rest of a message refused with 1009) would lose the close frame it was sent. Beast's own
  // teardown stops after the first read (it tests the wrong byte count), so this one is ours.
  void async_linger(boost::beast::role_type role,
                    std::function<void(boost::beast::error_code)> done);

 private:
  // Feeds the first `bytes` of what a read put in `buffers` to close_check_.
  template <class MutableBufferSequence>
  void check(const MutableBufferSequence& buffers, std::size_t bytes) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && bytes > 0; ++it) {
      const boost::asio::mutable_buffer b(*it);
      const std::size_t n = std::min(bytes, b.size());
      close_check_.feed(std::string_view(static_cast<const char*>(b.data()), n));
      bytes -= n;
    }
  }
  // After a close frame whose reason is not UTF-8, the stream fails the connection with a close
  // frame of 1002; the frame written at `start` of pending_, if it is that one, says 1007.
  void answer_invalid_reason(std::size_t start);
  void schedule_flush();
  void flush();
  void on_flushed(boost::beast::error_code ec);
  void drain(std::shared_ptr<std::string> scratch,
             std::function<void(boost::beast::error_code)> done);

  socket_type socket_;
  std::weak_ptr<void> owner_;
  std::unique_ptr<std::string> unread_;  // null once read: an idle connection keeps no buffer
  CloseReasonCheck close_check_;         // the client's bytes, until its close frame
  bool invalid_reason_answered_ = false;
  std::string pending_;  // accepted, not yet handed to the socket
  std::string writing_;  // handed to the socket by the write in flight
  std::vector<std::function<void()>> on_flushed_;
  boost::beast::error_code failed_;
  bool flush_scheduled_ = false;
  bool flushing_ = false;
  bool corked_ = false;
};

// The stream's close handshake ends with a teardown of its next layer: write what waits first.
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, BatchedSocket& stream,
                    TeardownHandler&& handler) {
  auto shared =
      std::make_shared<std::decay_t<TeardownHandler>>(std::forward<TeardownHandler>(handler));
  stream.when_flushed([role, &stream, shared] {
    stream.async_linger(role, [shared](boost::beast::error_code ec) { (*shared)(ec); });
  });
}

void teardown(boost::beast::role_type role, BatchedSocket& stream, boost::beast::error_code& ec);

}  // namespace chat::server
