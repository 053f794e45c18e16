#pragma once
// Random identifiers (message ids, connection ids, node ids). Thread-safe.
#include <string>

namespace chat {

// `bytes` random bytes as lower-case hex (2 * bytes characters).
std::string random_hex(std::size_t bytes);

// A message id: 48-bit millisecond timestamp then 80 random bits, 32 hex characters, so that ids
// sort roughly by creation time.
std::string new_message_id(int64_t now_ms);

}  // namespace chat
