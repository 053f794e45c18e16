#include "server/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "server/http_request.h"
#include "server/ws_session.h"

namespace chat::server {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

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
  api_.handle(req, [self = shared_from_this(), keep_alive](Response res) {
    net::post(self->stream_.get_executor(), [self, keep_alive, res = std::move(res)]() mutable {
      self->send(std::move(res), keep_alive);
    });
  });
}

void HttpSession::upgrade(Request req) {
  auto claims = authorize_upgrade(ctx_, req);
  if (!claims) return send(error_response(claims.error().code, claims.error().message), false);
  const std::string user = claims->username;
  if (!ctx_.registry.reserve(user))
    return send(error_response(Errc::rate_limited, "too many connections for this user"), false);

  auto session = std::make_shared<WsSession>(stream_.release_socket(), ctx_, std::move(*claims));
  ctx_.registry.attach(user, session);
  session->start(std::move(req));
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
  if (!keep_alive || ctx_.draining.load()) return shutdown();
  do_read();
}

void HttpSession::shutdown() {
  beast::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace chat::server
