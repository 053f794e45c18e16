#pragma once
// The HTTP message types the server speaks, and JSON response builders.
#include <boost/beast/http.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace chat::server {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
// Sends the response for one request. Callable once, from any thread.
using Respond = std::function<void(Response)>;

Response json_response(boost::beast::http::status status, std::string body);
// {"error":{"code":...,"message":...}} with the status mapped from `code`.
Response error_response(Errc code, std::string_view message);
// For the few statuses that have no engine error code (404 route, 405, 426).
Response error_response(boost::beast::http::status status, std::string_view code,
                        std::string_view message);

}  // namespace chat::server
