#include "server/http_session.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <chrono>
#include <string_view>

#include "base/log.h"
#include "server/authenticate.h"
#include "server/ws_session.h"

namespace chat::server {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace {

// Room for an 8 KiB token (refused with 401 by the verifier, not with a parse error) in a header
// or in the query string, beside ordinary headers.
constexpr std::uint32_t kHeaderLimit = 32 * 1024;

// How long a connection that is being closed keeps reading what the client still sends.
constexpr std::chrono::milliseconds kMaxLinger{2000};

bool origin_allowed(const Request& req, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  const auto origin = req[http::field::origin];
  for (const auto& a : allowed)
    if (origin == a) return true;
  return false;
}

// RFC 6455 §4.2.1: the key is 16 bytes, base64-encoded: 22 characters of the alphabet, then "==".
bool valid_websocket_key(std::string_view key) {
  if (key.size() != 24 || !key.ends_with("==")) return false;
  return std::all_of(key.begin(), key.end() - 2, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  });
}

}  // namespace

HttpSession::HttpSession(net::ip::tcp::socket&& socket, ServerContext& ctx, RestApi& api)
    : stream_(std::move(socket)), ctx_(ctx), api_(api) {}

void HttpSession::run() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
}

void HttpSession::do_read() {
  parser_.emplace();
  parser_->body_limit(ctx_.options.max_body_bytes);
  parser_->header_limit(kHeaderLimit);
  stream_.expires_after(ctx_.options.handshake_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == net::error::eof)
    return shutdown();
  if (ec == http::error::body_limit)
    return send(error_response(Errc::too_large, "the request body is over 64 KiB"), false);
  if (ec == http::error::header_limit)
    return send(error_response(http::status::request_header_fields_too_large, "too_large",
                               "the request headers are too large"),
                false);
  if (ec) return send(error_response(Errc::bad_request, "malformed HTTP request"), false);

  Request req = parser_->release();
  if (beast::websocket::is_upgrade(req)) {
    auto url = boost::urls::parse_origin_form(req.target());
    if (url && url->path() == "/ws") return upgrade(std::move(req));
  }

  const bool keep_alive = req.keep_alive();
  api_.handle(req, [self = shared_from_this(), keep_alive](Response res) {
    net::post(self->stream_.get_executor(), [self, keep_alive, res = std::move(res)]() mutable {
      self->send(std::move(res), keep_alive);
    });
  });
}

void HttpSession::upgrade(Request req) {
  if (!valid_websocket_key(req[http::field::sec_websocket_key]))
    return send(error_response(Errc::bad_request,
                               "Sec-WebSocket-Key must be the base64 encoding of 16 bytes"),
                false);
  if (ctx_.draining.load())
    return send(error_response(Errc::unavailable, "the server is shutting down"), false);
  // Checked here, not left to the WebSocket accept: its refusal would be dropped unsent with the
  // socket, leaving the client an empty reply. RFC 6455 4.4: 426 naming the version we speak.
  if (req[http::field::sec_websocket_version] != "13") {
    Response res = error_response(http::status::upgrade_required, "bad_request",
                                  "Sec-WebSocket-Version must be 13");
    res.set(http::field::sec_websocket_version, "13");
    return send(std::move(res), false);
  }
  if (!origin_allowed(req, ctx_.options.allowed_origins))
    return send(error_response(Errc::forbidden, "this Origin is not allowed"), false);
  auto claims = authenticate(ctx_, bearer_token(req, true));
  if (!claims) return send(error_response(claims.error().code, claims.error().message), false);
  const std::string user = claims->username;
  if (!ctx_.registry.reserve(user))
    return send(error_response(Errc::rate_limited, "too many connections for this user"), false);

  auto session = std::make_shared<WsSession>(stream_.release_socket(), ctx_, std::move(*claims));
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
