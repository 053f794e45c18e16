#pragma once
// The one place where engine error codes become HTTP statuses and WebSocket error codes.
#include <boost/beast/http/status.hpp>
#include <ostream>
#include <string_view>

#include "base/error.h"

namespace chat::server {

boost::beast::http::status http_status(Errc code);
// The `code` of a WebSocket error event: one of kWsErrorCodes.
std::string_view ws_error_code(Errc code);
inline constexpr std::string_view kWsErrorCodes[] = {
    "bad_request", "unknown_recipient", "rate_limited", "unavailable", "forbidden", "internal"};

// WebSocket close codes the engine uses besides the RFC 6455 ones.
inline constexpr unsigned short kCloseTokenExpired = 4001;
inline constexpr unsigned short kCloseUserDeleted = 4003;
inline constexpr unsigned short kCloseSlowConsumer = 4008;

}  // namespace chat::server
