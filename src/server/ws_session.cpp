#include "server/ws_session.h"

#include <algorithm>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <limits>

#include "base/ids.h"
#include "base/log.h"
#include "protocol/server_event.h"
#include "server/authenticate.h"
#include "server/error_mapping.h"
#include "server/exact_allocator.h"
#include "server/handoff.h"

namespace chat::server {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {
constexpr int kDeflateWindowBits = 10;  // 1 KiB of history; Beast allows 9 to 15
}  // namespace

WsSession::WsSession(net::ip::tcp::socket&& socket, ServerContext& ctx, auth::Claims claims)
    : ws_(std::move(socket)),
      ctx_(ctx),
      user_(std::move(claims.username)),
      connection_id_(random_hex(12)),
      exp_(claims.exp),
      queue_(ctx.options.max_outbound_bytes),
      bucket_(ctx.options.send_rate, ctx.options.send_burst),
      timer_(ws_.get_executor()),
      last_activity_(SteadyClock::now()) {
  set_expiry(exp_);
}

WsSession::~WsSession() = default;

double WsSession::now_seconds() const {
  return std::chrono::duration<double>(SteadyClock::now().time_since_epoch()).count();
}

void WsSession::start(Request request, std::string unread) {
  ws_.next_layer().set_owner(shared_from_this());
  ws_.next_layer().set_unread(std::move(unread));
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = ctx_.options.handshake_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();  // our ping timer decides idleness
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.read_message_max(ctx_.options.max_message_bytes);  // counts inflated bytes
  if (ctx_.options.permessage_deflate) {
    // No context takeover either way: every message is compressed alone, so a connection keeps no
    // compression history between messages. Chat messages are small, so a small window for what
    // we send loses little and keeps the compressor's buffers small (docs/benchmarks.md,
    // "permessage-deflate").
    websocket::permessage_deflate pmd;
    pmd.server_enable = true;
    pmd.server_no_context_takeover = true;
    pmd.client_no_context_takeover = true;
    pmd.server_max_window_bits = kDeflateWindowBits;
    // Beast refuses a client that does not offer to limit its window unless this stays 15.
    pmd.client_max_window_bits = 15;
    ws_.set_option(pmd);
  }
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "chat-engine"); }));
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    on_control(kind);  // runs on our strand, inside a read
  });
  ws_.async_accept(request, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
}

void WsSession::on_accept(beast::error_code ec) {
  if (ec) {
    log::debug("websocket accept failed: ", ec.message());
    finish();
    return;
  }
  accepted_ = true;
  ctx_.metrics.connections.fetch_add(1, std::memory_order_relaxed);
  ctx_.metrics.connections_opened.fetch_add(1, std::memory_order_relaxed);
  ctx_.store.touch_last_seen(user_, unix_ms());

  // Counted in the routing registry before the head is read, in one step ordered against appends:
  // every entry is either at most the head (the client syncs it) or delivered to this session.
  auto head = ctx_.presence.attach(user_, ctx_.node_id);
  if (!head) {
    const bool deleted = head.error().code == Errc::forbidden;
    if (!deleted) log::error("registering a connection failed: ", head.error().message);
    begin_close(
        deleted ? kCloseUserDeleted : static_cast<uint16_t>(websocket::close_code::internal_error),
        deleted ? "user deleted" : "store unavailable", false);
  } else {
    attached_ = true;
    cursor_.start(*head);
    queue_.push_front(std::make_shared<const std::string>(
        protocol::encode_hello({user_, connection_id_, ctx_.node_id, *head, exp_})));
    do_write();
    next_ping_ = SteadyClock::now() + ctx_.options.ping_interval;
    arm_timer();
  }
  do_read();
}

// ---- reading ---------------------------------------------------------------------------------

void WsSession::on_control(websocket::frame_type kind) {
  last_activity_ = SteadyClock::now();
  if (kind != websocket::frame_type::close || close_sent_) return;
  // Beast refuses close codes below 1000 and the reserved ones, but echoes any code from 5000 up,
  // which no range of RFC 6455 §7.4 allows: fail the connection with 1002 instead. Started here,
  // inside the read that carried the close, so that this close goes out instead of the echo.
  if (ws_.reason().code < 5000) return;
  begin_close(static_cast<uint16_t>(websocket::close_code::protocol_error), "invalid close code",
              false);
  if (close_sent_) return;
  close_sent_ = true;
  ws_.async_close(websocket::close_reason(websocket::close_code::protocol_error, close_text_),
                  [self = shared_from_this()](beast::error_code) {});
}

void WsSession::do_read() {
  ws_.async_read_some(
      net::buffer(read_chunk_),
      net::bind_allocator(ExactAllocator<void>(),
                          beast::bind_front_handler(&WsSession::on_read, shared_from_this())));
}

void WsSession::on_read(beast::error_code ec, std::size_t bytes) {
  if (ec) {
    if (ec != websocket::error::closed && ec != net::error::operation_aborted &&
        ec != net::error::eof)
      log::debug("websocket read ended: ", ec.message());
    finish();
    return;
  }
  last_activity_ = SteadyClock::now();
  const std::string_view chunk(read_chunk_.data(), bytes);
  if (!ws_.is_message_done()) {
    message_.append(chunk);  // the stream enforces the message size limit
  } else if (message_.empty()) {
    on_message(chunk);
  } else {
    message_.append(chunk);
    on_message(message_);
    std::string().swap(message_);  // idle connections keep no buffer
  }
  do_read();
}

void WsSession::on_message(std::string_view text) {
  if (closing_) return;
  if (ws_.got_text()) {
    handle_text(text);
  } else {
    reply_error(std::nullopt, Errc::bad_request, "binary frames are not supported; send JSON text");
  }
}

void WsSession::handle_text(std::string_view text) {
  protocol::DecodedFrame decoded = protocol::decode_client_frame(text);
  if (!decoded.frame) {
    reply_error(decoded.id, Errc::bad_request, decoded.error);
    return;
  }
  std::visit([this](auto&& frame) { handle(std::move(frame)); }, std::move(*decoded.frame));
}

void WsSession::handle(protocol::SendFrame frame) {
  if (shutting_down_) {
    refuse_send(frame.id, Errc::unavailable, "the server is shutting down; retry on another node");
    return;
  }
  if (!bucket_.try_take(now_seconds())) {
    refuse_send(frame.id, Errc::rate_limited, "too many sends; slow down and retry");
    return;
  }
  ++inflight_sends_;
  const auto started = SteadyClock::now();
  std::string client_id = frame.id;
  ctx_.messages.send(
      user_, std::move(frame), unix_ms(),
      [self = shared_from_this(), started, client_id](Result<store::SendResult> result) mutable {
        // On the store's thread: account, then hop back onto our strand.
        if (result.ok()) {
          auto& m = self->ctx_.metrics;
          if (result->duplicate) {
            m.messages_duplicate.fetch_add(1, std::memory_order_relaxed);
          } else {
            m.messages_accepted.fetch_add(1, std::memory_order_relaxed);
            m.accept_to_durable.observe(
                std::chrono::duration<double>(SteadyClock::now() - started).count());
          }
        }
        const auto ex = self->ws_.get_executor();
        hand_off(ex,
                 [self, client_id = std::move(client_id), result = std::move(result)]() mutable {
                   self->on_send_done(client_id, std::move(result));
                 });
      });
}

void WsSession::on_send_done(const std::string& client_id, Result<store::SendResult> result) {
  --inflight_sends_;
  if (result.ok()) {
    reply(protocol::encode_sent(client_id, result->msg_id, result->sender_seq, result->ts));
  } else {
    refuse_send(client_id, result.error().code, result.error().message);
  }
  if (shutting_down_ && inflight_sends_ == 0)
    begin_close(static_cast<uint16_t>(websocket::close_code::going_away), "server shutting down",
                true);
}

void WsSession::refuse_send(std::string_view client_id, Errc code, std::string_view message) {
  ctx_.metrics.send_failed(code);
  reply_error(client_id, code, message);
}

void WsSession::handle(const protocol::SyncFrame& frame) {
  auto entries = ctx_.store.read_inbox(user_, frame.after, frame.limit + 1);
  if (!entries) {
    reply_error(std::nullopt, entries.error().code, entries.error().message);
    return;
  }
  // Keep one answer within half the outbound cap, so that a sync never closes its own connection;
  // `more` tells the client to ask again.
  const std::size_t budget = ctx_.options.max_outbound_bytes / 2;
  std::size_t bytes = 0;
  std::size_t sent = 0;
  uint64_t upto = frame.after;
  for (const auto& entry : *entries) {
    if (sent == static_cast<std::size_t>(frame.limit)) break;
    std::string text = protocol::encode_message(entry);
    if (sent > 0 && bytes + text.size() > budget) break;
    bytes += text.size();
    upto = entry.seq;
    ++sent;
    reply(std::move(text));
  }
  reply(protocol::encode_synced(frame.after, upto, sent < entries->size()));
  cursor_.advance(upto);  // live entries the answer already carried are not sent again
}

void WsSession::handle(const protocol::TypingFrame& frame) {
  if (!bucket_.try_take(now_seconds())) {
    reply_error(std::nullopt, Errc::rate_limited, "too many frames; slow down");
    return;
  }
  auto nodes = ctx_.presence.nodes_of(frame.to);
  if (!nodes) {
    const bool missing = nodes.error().code == Errc::not_found;
    reply_error(std::nullopt, missing ? Errc::unknown_recipient : nodes.error().code,
                missing ? "no such user" : nodes.error().message);
    return;
  }
  ctx_.bus.publish(bus::Typing{user_, frame.to}, *nodes);
}

void WsSession::handle(const protocol::RefreshFrame& frame) {
  // The same checks as at the upgrade: a refresh must not revive a deleted account.
  auto claims = authenticate(ctx_, frame.token);
  if (!claims) {
    reply_error(std::nullopt, claims.error().code, claims.error().message);
    return;
  }
  if (claims->username != user_) {
    reply_error(std::nullopt, Errc::forbidden, "the token is for another user");
    return;
  }
  set_expiry(claims->exp);
  arm_timer();
  reply(protocol::encode_refreshed(exp_));
}

void WsSession::handle(const protocol::PingFrame&) { reply(protocol::encode_pong()); }

// ---- writing ---------------------------------------------------------------------------------

void WsSession::reply(std::string text) {
  enqueue(std::make_shared<const std::string>(std::move(text)), core::FrameKind::durable);
}

void WsSession::reply_error(std::optional<std::string_view> client_id, Errc code,
                            std::string_view message) {
  reply(protocol::encode_ws_error(client_id, ws_error_code(code), message));
}

void WsSession::deliver_entry(uint64_t seq, core::OutboundQueue::Frame frame) {
  if (seq <= cursor_.delivered()) return;  // given already: skip the hop
  hand_off(ws_.get_executor(),
           [self = shared_from_this(), seq, frame = std::move(frame)]() mutable {
             self->on_entry(seq, std::move(frame));
           });
}

void WsSession::deliver(core::OutboundQueue::Frame frame) {
  hand_off(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
    self->enqueue(std::move(frame), core::FrameKind::ephemeral);
  });
}

void WsSession::catch_up(uint64_t head) {
  if (head <= cursor_.delivered()) return;
  hand_off(ws_.get_executor(), [self = shared_from_this(), head] {
    if (self->cursor_.started() && !self->closing_ && !self->finished_) self->fill_from_store(head);
  });
}

void WsSession::on_entry(uint64_t seq, core::OutboundQueue::Frame frame) {
  if (closing_ || finished_) return;
  switch (cursor_.on_entry(seq)) {
    case core::EntryCursor::Step::drop_before_head:
      return;
    case core::EntryCursor::Step::drop_repeat:
      ctx_.metrics.entries_dropped_as_repeats.fetch_add(1, std::memory_order_relaxed);
      return;
    case core::EntryCursor::Step::pass:
      cursor_.advance(seq);
      enqueue(std::move(frame), core::FrameKind::durable);
      return;
    case core::EntryCursor::Step::fill_gap:
      fill_from_store(seq);  // the gap, and with it this entry
      return;
  }
}

void WsSession::fill_from_store(uint64_t upto) {
  // A bounded step, so that a far-behind connection neither floods its queue nor holds this
  // thread: the next step starts when the queue has been written out (on_write), so a connection
  // catches up as fast as its client reads, Kafka or not.
  constexpr uint64_t kMaxEntries = 64;
  const std::size_t budget = ctx_.options.max_outbound_bytes / 4;
  fill_target_ = std::max(fill_target_, upto);
  const uint64_t from = cursor_.delivered();
  if (fill_target_ <= from) return;
  upto = fill_target_;
  auto entries =
      ctx_.store.read_inbox(user_, from, static_cast<int>(std::min(upto - from, kMaxEntries)));
  if (!entries) {
    log::debug("filling a gap of ", user_, " failed: ", entries.error().message);
    return;  // the catch-up tries again
  }
  std::size_t bytes = 0;
  for (const auto& entry : *entries) {
    if (cursor_.on_entry(entry.seq) != core::EntryCursor::Step::pass) break;  // defensive
    std::string text = protocol::encode_message(entry);
    if (bytes > 0 && bytes + text.size() > budget) break;
    bytes += text.size();
    cursor_.advance(entry.seq);
    ctx_.metrics.entries_filled.fetch_add(1, std::memory_order_relaxed);
    enqueue(std::make_shared<const std::string>(std::move(text)), core::FrameKind::durable);
  }
}

void WsSession::enqueue(core::OutboundQueue::Frame frame, core::FrameKind kind) {
  if (closing_ || finished_) return;
  switch (queue_.push(std::move(frame), kind)) {
    case core::OutboundQueue::PushResult::queued:
      // A frame behind one being written: hold the socket until the queue is written out, so that
      // both leave in one send.
      if (writing_) ws_.next_layer().cork();
      if (accepted_) do_write();
      break;
    case core::OutboundQueue::PushResult::dropped:
      ctx_.metrics.typing_dropped.fetch_add(1, std::memory_order_relaxed);
      break;
    case core::OutboundQueue::PushResult::overflow:
      ctx_.metrics.slow_consumer_closes.fetch_add(1, std::memory_order_relaxed);
      log::info("closing a connection of ", user_, ": outbound queue over ",
                ctx_.options.max_outbound_bytes, " bytes");
      begin_close(kCloseSlowConsumer, "outbound queue full; sync after reconnecting", false);
      break;
  }
}

void WsSession::do_write() {
  if (writing_ || holding_ || queue_.empty()) return;
  writing_ = true;
  if (queue_.size() > 1) ws_.next_layer().cork();  // the rest follows at once: send them together
  ws_.text(true);
  const auto& frame = queue_.front();
  ws_.async_write(net::buffer(*frame),
                  beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
}

void WsSession::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (ec) {
    abort_socket();
    return;
  }
  queue_.pop_front();
  if (ws_.next_layer().over_limit()) {
    ws_.next_layer().uncork();
    holding_ = true;
    ws_.next_layer().when_flushed([self = shared_from_this()] {
      self->holding_ = false;
      self->after_write();
    });
    return;
  }
  after_write();
}

void WsSession::after_write() {
  if (finished_) return;
  if (queue_.empty()) ws_.next_layer().uncork();
  if (!queue_.empty()) {
    do_write();
  } else if (closing_) {
    send_close_when_idle();
  } else if (fill_target_ > cursor_.delivered()) {
    fill_from_store(fill_target_);  // the next step of a catch-up
  }
}

// ---- closing ---------------------------------------------------------------------------------

void WsSession::close(uint16_t code, std::string reason) {
  hand_off(ws_.get_executor(),
           [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
             self->begin_close(code, std::move(reason), false);
           });
}

void WsSession::shut_down() {
  hand_off(ws_.get_executor(), [self = shared_from_this()] {
    self->shutting_down_ = true;
    if (self->inflight_sends_ == 0)
      self->begin_close(static_cast<uint16_t>(websocket::close_code::going_away),
                        "server shutting down", true);
  });
}

void WsSession::begin_close(uint16_t code, std::string reason, bool flush) {
  if (closing_ || finished_) return;
  closing_ = true;
  close_code_ = code;
  close_text_ = std::move(reason);
  if (!flush) {
    // Keep only a frame that is being written; the rest is in the inbox for the next sync.
    if (writing_) {
      auto in_flight = queue_.front();
      queue_.clear();
      queue_.push_front(std::move(in_flight));
    } else {
      queue_.clear();
    }
  }
  // A peer that never drains its socket must not hold the session forever.
  close_deadline_ = SteadyClock::now() + ctx_.options.handshake_timeout + std::chrono::seconds(1);
  arm_timer();
  if (accepted_ && !writing_ && !holding_) send_close_when_idle();
  if (!accepted_) abort_socket();
}

void WsSession::send_close_when_idle() {
  if (close_sent_ || writing_ || holding_ || !queue_.empty()) return;
  close_sent_ = true;
  const websocket::close_reason reason(static_cast<websocket::close_code>(close_code_),
                                       close_text_);
  ws_.async_close(reason, [self = shared_from_this()](beast::error_code) {
    // The read loop sees the end of the stream and finishes the session.
  });
}

void WsSession::abort_socket() {
  beast::error_code ignored;
  auto& socket = ws_.next_layer().next_layer();
  socket.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

// ---- timers ----------------------------------------------------------------------------------

void WsSession::arm_timer() {
  const auto wake =
      closing_ ? close_deadline_
               : std::min({next_ping_, last_activity_ + ctx_.options.idle_timeout, expires_at_});
  timer_.expires_at(wake);  // cancels a wait still pending: its handler sees operation_aborted
  timer_.async_wait(net::bind_allocator(ExactAllocator<void>(),
                                        [self = shared_from_this()](beast::error_code ec) {
                                          if (!ec) self->on_timer();
                                        }));
}

void WsSession::on_timer() {
  if (finished_) return;
  const auto now = SteadyClock::now();
  if (closing_) {
    if (now >= close_deadline_) return abort_socket();
    return arm_timer();
  }
  if (now >= expires_at_) return begin_close(kCloseTokenExpired, "token expired", false);
  if (now - last_activity_ >= ctx_.options.idle_timeout) {
    log::debug("closing an idle connection of ", user_);
    return begin_close(static_cast<uint16_t>(websocket::close_code::going_away), "idle timeout",
                       false);
  }
  if (now >= next_ping_) {
    next_ping_ = now + ctx_.options.ping_interval;
    if (!ping_pending_) {
      ping_pending_ = true;
      ws_.async_ping(
          {}, [self = shared_from_this()](beast::error_code) { self->ping_pending_ = false; });
    }
  }
  arm_timer();
}

void WsSession::set_expiry(int64_t exp) {
  // `exp` comes from the token, up to the largest int64: saturate wherever it meets the clock. A
  // wait beyond ten years is as good as never.
  constexpr int64_t kMaxWaitSeconds = int64_t{10} * 365 * 24 * 3600;
  exp_ = exp;
  const int64_t now_ms = unix_ms();
  const int64_t now_s = now_ms / 1000;
  int64_t deadline_s = 0;
  if (__builtin_add_overflow(exp, ctx_.options.jwt_leeway.count(), &deadline_s))
    deadline_s =
        exp > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  int64_t wait_ms = 0;
  if (deadline_s >= now_s) {
    wait_ms = deadline_s - now_s > kMaxWaitSeconds
                  ? kMaxWaitSeconds * 1000
                  : std::max<int64_t>(0, deadline_s * 1000 - now_ms);
  }
  expires_at_ = SteadyClock::now() + std::chrono::milliseconds(wait_ms);
}

void WsSession::finish() {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  queue_.clear();
  ctx_.registry.remove(user_, this);
  if (attached_) ctx_.presence.detach(user_, ctx_.node_id);
  if (accepted_) {
    ctx_.metrics.connections.fetch_sub(1, std::memory_order_relaxed);
    ctx_.store.touch_last_seen(user_, unix_ms());
  }
  abort_socket();
}

}  // namespace chat::server
