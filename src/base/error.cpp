#include "base/error.h"

namespace chat {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::bad_request:
      return "bad_request";
    case Errc::not_found:
      return "not_found";
    case Errc::conflict:
      return "conflict";
    case Errc::unauthorized:
      return "unauthorized";
    case Errc::forbidden:
      return "forbidden";
    case Errc::unknown_recipient:
      return "unknown_recipient";
    case Errc::rate_limited:
      return "rate_limited";
    case Errc::too_large:
      return "too_large";
    case Errc::unavailable:
      return "unavailable";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace chat
