#include "server/close_reason_check.h"

#include <algorithm>
#include <boost/beast/websocket/detail/frame.hpp>
#include <boost/beast/websocket/detail/utf8_checker.hpp>

namespace chat::server {
namespace {

constexpr unsigned kOpcodeClose = 0x8;
constexpr uint64_t kMaxControlPayload = 125;

// The header's length: 2, then 2 or 8 bytes of extended length, then 4 of mask key when masked.
std::size_t header_length(unsigned char second) {
  const unsigned len7 = second & 0x7fu;
  const std::size_t extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  return 2 + extended + ((second & 0x80u) != 0 ? 4 : 0);
}

}  // namespace

void CloseReasonCheck::feed(std::string_view bytes) {
  while (!bytes.empty() && !done_) {
    if (payload_left_ > 0) {
      const auto take = static_cast<std::size_t>(std::min<uint64_t>(payload_left_, bytes.size()));
      if (in_close_) close_payload_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      payload_left_ -= take;
      if (payload_left_ == 0 && in_close_) close_complete();
      continue;
    }
    header_[header_bytes_++] = static_cast<unsigned char>(bytes.front());
    bytes.remove_prefix(1);
    if (header_bytes_ >= 2 && header_bytes_ == header_length(header_[1])) header_complete();
  }
}

void CloseReasonCheck::header_complete() {
  const unsigned len7 = header_[1] & 0x7fu;
  uint64_t length = len7;
  std::size_t at = 2;
  if (len7 >= 126) {
    const std::size_t n = len7 == 126 ? 2 : 8;
    length = 0;
    for (std::size_t i = 0; i < n; ++i) length = (length << 8) | header_[at + i];
    at += n;
  }
  header_bytes_ = 0;
  payload_left_ = length;
  in_close_ = (header_[0] & 0x0fu) == kOpcodeClose;
  if (!in_close_) return;
  if (length > kMaxControlPayload) {
    done_ = true;  // Beast fails a control frame this long with 1002: nothing to add
    return;
  }
  masked_ = (header_[1] & 0x80u) != 0;
  if (masked_) std::copy_n(header_.begin() + static_cast<std::ptrdiff_t>(at), 4, mask_.begin());
  close_payload_.clear();
  if (length == 0) close_complete();
}

void CloseReasonCheck::close_complete() {
  done_ = true;
  std::string payload = std::move(close_payload_);
  if (masked_) {
    for (std::size_t i = 0; i < payload.size(); ++i) {
      payload[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask_[i % 4]);
    }
  }
  if (payload.size() <= 2) return;  // no reason
  // A code outside the ranges RFC 6455 allows is the fault Beast finds first (1002).
  const auto code = static_cast<uint16_t>(static_cast<unsigned char>(payload[0]) << 8 |
                                          static_cast<unsigned char>(payload[1]));
  if (!boost::beast::websocket::detail::is_valid_close_code(code)) return;
  invalid_reason_ =
      !boost::beast::websocket::detail::check_utf8(payload.data() + 2, payload.size() - 2);
}

}  // namespace chat::server
