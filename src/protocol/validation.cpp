#include "protocol/validation.h"

namespace chat::protocol {

bool is_valid_username(std::string_view name) {
  if (name.empty() || name.size() > kMaxUsernameLength) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace chat::protocol
