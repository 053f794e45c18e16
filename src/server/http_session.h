#pragma once
// One HTTP/1.1 connection: reads requests (keep-alive), answers REST calls through RestApi, and
// hands a WebSocket upgrade over to a WsSession once it is authorized.
//
// Threading model: runs on its socket's strand; responses produced on other threads (store
// callbacks) are posted back to it. Owns itself through shared_from_this().
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>

#include "server/context.h"
#include "server/http_types.h"
#include "server/rest_api.h"

namespace chat::server {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, ServerContext& ctx, RestApi& api);
  void run();

 private:
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void upgrade(Request req);
  void send(Response res, bool keep_alive);
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);
  void shutdown();
  void linger();
  void discard_input();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  ServerContext& ctx_;
  RestApi& api_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<Response> response_;  // alive until its write completes
};

}  // namespace chat::server
