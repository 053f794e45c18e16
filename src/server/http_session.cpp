#include "server/http_session.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <chrono>

#include "server/http_request.h"
#include "server/ws_session.h"

namespace chat::server {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace {

// How long a connection that is being closed keeps reading what the client still sends.
constexpr std::chrono::milliseconds kMaxLinger{2000};

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket&& socket, ServerContext& ctx, RestApi& api)
    : stream_(std::move(socket)), ctx_(ctx), api_(api) {}

void HttpSession::run() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
}

void HttpSession::do_read() {
  parser_.emplace();
  limit_request_parser(*parser_, ctx_.options);
  stream_.expires_after(ctx_.options.handshake_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    if (auto answer = read_error_response(ec)) return send(std::move(*answer), false);
    return shutdown();
  }

  Request req = parser_->release();
  if (is_websocket_upgrade(req)) return upgrade(std::move(req));

  const bool keep_alive = req.keep_alive();
  const bool head = req.method() == http::verb::head;
  api_.handle(req, [self = shared_from_this(), keep_alive, head](Response res) {
    // The answer to HEAD is the head alone (RFC 9110 §9.3.2): its Content-Length stays the
    // body's, and a body sent anyway would be read as the start of the next response.
    if (head) res.body().clear();
    net::post(self->stream_.get_executor(), [self, keep_alive, res = std::move(res)]() mutable {
      self->send(std::move(res), keep_alive);
    });
  });
}

void HttpSession::upgrade(Request req) {
  auto decision = authorize_upgrade(ctx_, req);
  if (auto* refusal = std::get_if<Response>(&decision)) return send(std::move(*refusal), false);
  auto& claims = std::get<auth::Claims>(decision);
  const std::string user = claims.username;
  if (!ctx_.registry.reserve(user))
    return send(error_response(Errc::rate_limited, "too many connections for this user"), false);

  auto session = std::make_shared<WsSession>(stream_.release_socket(), ctx_, std::move(claims));
  ctx_.registry.attach(user, session);
  session->start(std::move(req), beast::buffers_to_string(buffer_.data()));
}

void HttpSession::send(Response res, bool keep_alive) {
  res.keep_alive(keep_alive);
  response_ = std::make_shared<Response>(std::move(res));
  http::async_write(
      stream_, *response_,
      beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), keep_alive));
}

void HttpSession::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  response_.reset();
  if (ec) return;
  if (ctx_.draining.load()) return shutdown();
  if (!keep_alive) return linger();
  do_read();
}

// After a response that ends the connection: half-close, then read and drop what the client is
// still sending (the rest of a 413's body, pipelined requests) until it closes or a short time
// passes. Closing at once with unread bytes would send a reset, and a client still writing would
// see the reset instead of the response (RFC 9112 9.6).
void HttpSession::linger() {
  shutdown();
  stream_.expires_after(std::min(kMaxLinger, ctx_.options.handshake_timeout));
  discard_input();
}

void HttpSession::discard_input() {
  buffer_.consume(buffer_.size());
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (!ec) self->discard_input();  // else: closed when self goes
                          });
}

void HttpSession::shutdown() {
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace chat::server
