#include "server/http_types.h"

#include "protocol/server_event.h"
#include "server/error_mapping.h"

namespace chat::server {
namespace http = boost::beast::http;

Response json_response(http::status status, std::string body) {
  Response res{status, 11};
  res.set(http::field::server, "chat-engine");
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response error_response(Errc code, std::string_view message) {
  return json_response(http_status(code), protocol::encode_rest_error(to_string(code), message));
}

Response error_response(http::status status, std::string_view code, std::string_view message) {
  return json_response(status, protocol::encode_rest_error(code, message));
}

}  // namespace chat::server
