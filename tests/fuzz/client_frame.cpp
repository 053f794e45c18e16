// The decoder of client WebSocket frames against arbitrary text. Properties: nothing crashes; the
// result is a frame or an error, never both nor neither; a decoded frame keeps the protocol's
// limits (docs/protocol.md), so that nothing behind the decoder sees a value it must not.
#include "protocol/client_frame.h"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "protocol/validation.h"

namespace {

namespace protocol = chat::protocol;

void check_frame(const protocol::ClientFrame& frame, const protocol::DecodedFrame& decoded) {
  if (const auto* send = std::get_if<protocol::SendFrame>(&frame)) {
    FUZZ_CHECK(!send->id.empty() && send->id.size() <= protocol::kMaxClientIdLength);
    FUZZ_CHECK(protocol::is_valid_username(send->to));
    FUZZ_CHECK(!send->body.empty());
    FUZZ_CHECK(decoded.id == send->id);
  } else if (const auto* sync = std::get_if<protocol::SyncFrame>(&frame)) {
    FUZZ_CHECK(sync->limit >= 1 && sync->limit <= protocol::kMaxSyncLimit);
  } else if (const auto* typing = std::get_if<protocol::TypingFrame>(&frame)) {
    FUZZ_CHECK(protocol::is_valid_username(typing->to));
  } else if (const auto* refresh = std::get_if<protocol::RefreshFrame>(&frame)) {
    FUZZ_CHECK(!refresh->token.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const protocol::DecodedFrame decoded = protocol::decode_client_frame(text);
  FUZZ_CHECK(decoded.frame.has_value() == decoded.error.empty());
  if (decoded.frame) check_frame(*decoded.frame, decoded);
  return 0;
}
