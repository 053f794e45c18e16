#include "server/http_request.h"

#include <algorithm>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url.hpp>
#include <cctype>
#include <string_view>

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

// RFC 6455 §4.2.1: the key is 16 bytes, base64-encoded: 22 characters of the alphabet, then "==".
bool valid_websocket_key(std::string_view key) {
  if (key.size() != 24 || !key.ends_with("==")) return false;
  return std::all_of(key.begin(), key.end() - 2, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  });
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

std::variant<auth::Claims, Response> authorize_upgrade(ServerContext& ctx, const Request& req) {
  if (!valid_websocket_key(req[http::field::sec_websocket_key]))
    return error_response(Errc::bad_request,
                          "Sec-WebSocket-Key must be the base64 encoding of 16 bytes");
  if (ctx.draining.load()) return error_response(Errc::unavailable, "the server is shutting down");
  // Checked here, not left to the WebSocket accept: its refusal would be dropped unsent with the
  // socket, leaving the client an empty reply. RFC 6455 4.4: 426 naming the version we speak.
  if (req[http::field::sec_websocket_version] != "13") {
    Response res = error_response(http::status::upgrade_required, "bad_request",
                                  "Sec-WebSocket-Version must be 13");
    res.set(http::field::sec_websocket_version, "13");
    return res;
  }
  if (!origin_allowed(req, ctx.options.allowed_origins))
    return error_response(Errc::forbidden, "this Origin is not allowed");
  auto claims = authenticate(ctx, bearer_token(req, true));
  if (!claims) return error_response(claims.error().code, claims.error().message);
  return std::move(*claims);
}

}  // namespace chat::server
