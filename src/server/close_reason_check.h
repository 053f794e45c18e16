#pragma once
// Finds a client's close frame whose reason is not UTF-8, so that the server can answer it with
// 1007 (RFC 6455 §7.4.1: inconsistent data) as it answers a text message that is not UTF-8.
//
// Why it exists: Beast checks the reason of a close frame it receives and fails the connection
// with 1002 (protocol error) before any callback runs, so the session never learns why. This
// follows the frame boundaries of the bytes the client sends (headers only; payloads are skipped
// by length, except a close frame's, at most 125 bytes) and looks at the first close frame's
// reason with the same UTF-8 check Beast uses. BatchedSocket feeds it every byte read and, when it
// fires, turns the 1002 of the close frame Beast writes into 1007.
//
// Pure and incremental: bytes may come in any pieces, one at a time included. Not thread-safe.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace chat::server {

class CloseReasonCheck {
 public:
  // The next bytes the client sent, in order.
  void feed(std::string_view bytes);
  // A close frame came whose reason is not valid UTF-8.
  bool invalid_reason() const { return invalid_reason_; }
  // Nothing more to look for: the first close frame came (or framing Beast refuses anyway).
  bool done() const { return done_; }

 private:
  void header_complete();
  void close_complete();

  std::array<unsigned char, 14> header_{};  // the longest header: 2 + 8 (length) + 4 (mask)
  std::size_t header_bytes_ = 0;
  uint64_t payload_left_ = 0;
  bool in_close_ = false;
  bool masked_ = false;
  std::array<unsigned char, 4> mask_{};
  std::string close_payload_;  // still masked
  bool invalid_reason_ = false;
  bool done_ = false;
};

}  // namespace chat::server
