#pragma once
// One client's WebSocket connection, from the upgrade to the close.
//
// Threading model: everything a session does runs on its own strand (the executor of its socket;
// the io_context itself when a single thread runs it, see Listener::connection_executor);
// the public Connection methods only post work onto that strand, so they may be called from any
// thread (the store's writer thread, the bus, the shutdown path). The session owns itself through
// shared_from_this() captured in its pending handlers, and ends when its read loop ends.
//
// Writes go through one OutboundQueue and one writer: at most one async_write is outstanding.
// Under the stream, a BatchedSocket gathers the frames of one wake-up into one send; when more than
// its limit waits for the socket, the writer holds back (holding_) until the socket caught up.
//
// Memory: an idle connection is held by thousands, so it keeps little: the WebSocket stream sits
// directly on the socket (no second timer layer), reads land in a small inline chunk (a message
// longer than one chunk is assembled in a string freed once it has been handled), the outbound
// queue allocates only while frames wait, and one timer serves ping, idle, token expiry and the
// close deadline (arm_timer).
//
// Inbox entries reach a session by several paths (this process's store thread, the Kafka bus, the
// catch-up) in any order and possibly twice. The session's EntryCursor (starting at the head in
// `hello`) lets an entry out only when it is the next one: an older entry is dropped, and a gap is
// filled from the store first.
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <string>

#include "auth/jwt.h"
#include "base/clock.h"
#include "core/entry_cursor.h"
#include "core/outbound_queue.h"
#include "core/token_bucket.h"
#include "protocol/client_frame.h"
#include "server/batched_socket.h"
#include "server/connection.h"
#include "server/context.h"

namespace chat::server {

class WsSession final : public Connection, public std::enable_shared_from_this<WsSession> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  WsSession(boost::asio::ip::tcp::socket&& socket, ServerContext& ctx, auth::Claims claims);
  ~WsSession() override;

  // Completes the upgrade answering `request` (already authorized and registered).
  // `unread`: bytes received after the upgrade request (the first frames, in the same TCP write).
  void start(Request request, std::string unread);

  void deliver_entry(uint64_t seq, core::OutboundQueue::Frame frame) override;
  void deliver(core::OutboundQueue::Frame frame) override;
  void catch_up(uint64_t head) override;
  void close(uint16_t code, std::string reason) override;
  void shut_down() override;

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void on_control(boost::beast::websocket::frame_type kind);
  void on_message(std::string_view text);
  void handle_text(std::string_view text);

  void handle(protocol::SendFrame frame);
  void handle(const protocol::SyncFrame& frame);
  void handle(const protocol::TypingFrame& frame);
  void handle(const protocol::RefreshFrame& frame);
  void handle(const protocol::PingFrame& frame);
  void on_send_done(const std::string& client_id, Result<store::SendResult> result);
  // Answers a well-formed send with an error instead of `sent`, and counts it.
  void refuse_send(std::string_view client_id, Errc code, std::string_view message);
  void on_entry(uint64_t seq, core::OutboundQueue::Frame frame);
  // Sends the entries after the cursor up to `upto` from the store, within a bounded batch.
  void fill_from_store(uint64_t upto);

  void reply(std::string text);
  void reply_error(std::optional<std::string_view> client_id, Errc code, std::string_view message);
  void enqueue(core::OutboundQueue::Frame frame, core::FrameKind kind);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void after_write();

  // Starts the close handshake once the queue is written (flush) or at once, dropping what is
  // queued (the client syncs it after reconnecting).
  void begin_close(uint16_t code, std::string reason, bool flush);
  void send_close_when_idle();
  void abort_socket();

  // The one timer wakes at the earliest of: the next ping, the idle limit, the token's expiry, or,
  // once closing, the close deadline.
  void arm_timer();
  void on_timer();
  void set_expiry(int64_t exp);
  void finish();
  double now_seconds() const;

  boost::beast::websocket::stream<BatchedSocket, true> ws_;  // deflate: start()
  ServerContext& ctx_;
  const std::string user_;
  const std::string connection_id_;
  int64_t exp_;
  // Reads land here; most client frames fit in one chunk and are handled in place.
  std::array<char, 256> read_chunk_;
  std::string message_;  // a message longer than one chunk, while it is assembled
  core::OutboundQueue queue_;
  core::TokenBucket bucket_;
  boost::asio::steady_timer timer_;
  SteadyClock::time_point last_activity_;
  SteadyClock::time_point next_ping_;
  SteadyClock::time_point expires_at_;      // token expiry plus leeway, saturated
  SteadyClock::time_point close_deadline_;  // set when the close handshake starts
  std::string close_text_;
  uint16_t close_code_ = 0;
  // Written on the strand only; other threads read delivered() to skip needless hand-offs.
  core::EntryCursor cursor_;
  uint64_t fill_target_ = 0;  // the highest seq a gap fill is to reach (continued in on_write)
  bool attached_ = false;     // counted in the routing registry (detach at the end)
  int inflight_sends_ = 0;
  bool accepted_ = false;
  bool writing_ = false;
  bool holding_ = false;  // the socket is behind: wait for BatchedSocket::when_flushed
  bool ping_pending_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool shutting_down_ = false;
  bool finished_ = false;
};

}  // namespace chat::server
