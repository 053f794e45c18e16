#include "server/error_mapping.h"

namespace chat::server {

boost::beast::http::status http_status(Errc code) {
  using boost::beast::http::status;
  switch (code) {
    case Errc::bad_request:
      return status::bad_request;
    case Errc::not_found:
      return status::not_found;
    case Errc::conflict:
      return status::conflict;
    case Errc::unauthorized:
      return status::unauthorized;
    case Errc::forbidden:
      return status::forbidden;
    case Errc::unknown_recipient:
      return status::not_found;
    case Errc::rate_limited:
      return status::too_many_requests;
    case Errc::too_large:
      return status::payload_too_large;
    case Errc::unavailable:
      return status::service_unavailable;
    case Errc::internal:
      return status::internal_server_error;
  }
  return status::internal_server_error;
}

std::string_view ws_error_code(Errc code) {
  switch (code) {
    case Errc::bad_request:
    case Errc::too_large:
    case Errc::not_found:
    case Errc::conflict:
    case Errc::unauthorized:
      return "bad_request";
    case Errc::unknown_recipient:
      return "unknown_recipient";
    case Errc::rate_limited:
      return "rate_limited";
    case Errc::unavailable:
      return "unavailable";
    case Errc::forbidden:
      return "forbidden";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace chat::server
