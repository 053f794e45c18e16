#pragma once
// The socket-free half of an HTTP connection: the limits a request is read with, the answer to a
// read that failed, and the decision on a WebSocket upgrade. HttpSession does the I/O around
// these; tests/fuzz/http_request.cpp feeds them raw bytes without a socket. Pure apart from the
// context's store reads and metrics; thread-safe.
#include <boost/beast/http.hpp>
#include <optional>
#include <variant>

#include "auth/jwt.h"
#include "base/result.h"
#include "server/context.h"
#include "server/http_types.h"

namespace chat::server {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Sets the header and body limits of a fresh parser from the server's options.
void limit_request_parser(RequestParser& parser, const ServerOptions& options);

// The response to a read that failed with `ec`; nullopt when the peer is gone or idle and the
// connection is just closed.
std::optional<Response> read_error_response(boost::beast::error_code ec);

// true when `req` asks for a WebSocket on /ws; every other request goes to the REST API.
bool is_websocket_upgrade(const Request& req);

// The user an upgrade request is for, or the response that refuses it: a Sec-WebSocket-Key that is
// not base64 of 16 bytes (400), a draining server (503), a Sec-WebSocket-Version other than 13
// (426), an Origin not allowed (403), a token missing, invalid or of an unknown user (401/403).
std::variant<auth::Claims, Response> authorize_upgrade(ServerContext& ctx, const Request& req);

}  // namespace chat::server
