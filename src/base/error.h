#pragma once
// Expected failures as values. One enum for the whole engine; the server edge maps each code once
// to an HTTP status, a WebSocket error code or a close code (server/error_mapping.h).
#include <string>
#include <string_view>

namespace chat {

enum class Errc {
  bad_request,        // input that does not follow the protocol
  not_found,          // no such resource
  conflict,           // already exists
  unauthorized,       // missing or invalid credentials
  forbidden,          // valid credentials, not allowed
  unknown_recipient,  // a send to a user that does not exist
  rate_limited,       // too many requests
  too_large,          // body or frame over its limit
  unavailable,        // the store or bus cannot take work now; safe to retry
  internal,           // a bug or an unexpected failure
};

std::string_view to_string(Errc code);

struct Error {
  Errc code;
  std::string message;
};

}  // namespace chat
