#include "server/http_request.h"

#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url.hpp>

#include "server/authenticate.h"

namespace chat::server {
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace {

// Room for an 8 KiB token (refused with 401 by the verifier, not with a parse error) in a header
// or in the query string, beside ordinary headers.
constexpr std::uint32_t kHeaderLimit = 32 * 1024;

bool origin_allowed(const Request& req, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  const auto origin = req[http::field::origin];
  for (const auto& a : allowed)
    if (origin == a) return true;
  return false;
}

}  // namespace

void limit_request_parser(RequestParser& parser, const ServerOptions& options) {
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(kHeaderLimit);
}

std::optional<Response> read_error_response(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == net::error::operation_aborted || ec == net::error::connection_reset ||
      ec == net::error::eof)
    return std::nullopt;
  if (ec == http::error::body_limit)
    return error_response(Errc::too_large, "the request body is over 64 KiB");
  if (ec == http::error::header_limit)
    return error_response(http::status::request_header_fields_too_large, "too_large",
                          "the request headers are too large");
  return error_response(Errc::bad_request, "malformed HTTP request");
}

bool is_websocket_upgrade(const Request& req) {
  if (!beast::websocket::is_upgrade(req)) return false;
  auto url = boost::urls::parse_origin_form(req.target());
  return url && url->path() == "/ws";
}

Result<auth::Claims> authorize_upgrade(ServerContext& ctx, const Request& req) {
  if (ctx.draining.load()) return make_error(Errc::unavailable, "the server is shutting down");
  if (!origin_allowed(req, ctx.options.allowed_origins))
    return make_error(Errc::forbidden, "this Origin is not allowed");
  return authenticate(ctx, bearer_token(req, true));
}

}  // namespace chat::server
