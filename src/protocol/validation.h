#pragma once
// Shape rules shared by the REST API and the WebSocket protocol. Pure.
#include <string_view>

namespace chat::protocol {

inline constexpr std::size_t kMaxUsernameLength = 64;
inline constexpr std::size_t kMaxClientIdLength = 64;

// 1–64 characters of [A-Za-z0-9_.-].
bool is_valid_username(std::string_view name);

}  // namespace chat::protocol
