#pragma once
// Decoding of the frames a WebSocket client sends (docs/protocol.md). Pure: no sockets.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace chat::protocol {

inline constexpr int kDefaultSyncLimit = 100;
inline constexpr int kMaxSyncLimit = 1000;

struct SendFrame {
  std::string id;  // the client's idempotency key
  std::string to;
  std::string body;
};
struct SyncFrame {
  uint64_t after = 0;
  int limit = kDefaultSyncLimit;
};
struct TypingFrame {
  std::string to;
};
struct RefreshFrame {
  std::string token;
};
struct PingFrame {};

using ClientFrame = std::variant<SendFrame, SyncFrame, TypingFrame, RefreshFrame, PingFrame>;

// Either a frame, or the reason it was refused plus the client id when one could be read, so that
// the error can name the send it answers.
struct DecodedFrame {
  std::optional<ClientFrame> frame;
  std::optional<std::string> id;
  std::string error;
};

DecodedFrame decode_client_frame(std::string_view text);

}  // namespace chat::protocol
