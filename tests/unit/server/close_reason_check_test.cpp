#include "server/close_reason_check.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace chat::server {
namespace {

// A client frame as a client writes it: masked unless told otherwise.
std::string frame(unsigned opcode, const std::string& payload, bool fin = true,
                  bool masked = true) {
  std::string out(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
  const uint64_t n = payload.size();
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | static_cast<char>(n)));
  } else if (n < (1u << 16)) {
    out.push_back(static_cast<char>(mask_bit | 126));
    for (int shift = 8; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  }
  const std::string key = "\x12\x34\x56\x78";
  if (masked) out += key;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  }
  return out;
}

std::string close_frame(uint16_t code, const std::string& reason, bool masked = true) {
  std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return frame(0x8, payload + reason, true, masked);
}

// The check over `bytes` fed whole, one byte at a time, and in pieces of 7.
std::vector<bool> invalid_in_every_split(const std::string& bytes) {
  std::vector<bool> out;
  for (std::size_t piece : {bytes.size(), std::size_t{1}, std::size_t{7}}) {
    CloseReasonCheck check;
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      check.feed(std::string_view(bytes).substr(at, piece));
    }
    out.push_back(check.invalid_reason());
  }
  return out;
}

struct Case {
  const char* name;
  std::string bytes;
  bool invalid;
};

TEST(CloseReasonCheckTest, FindsACloseReasonThatIsNotUtf8WhereverTheFramesAreCut) {
  const std::string text = frame(0x1, R"({"type":"ping"})");
  const std::string medium = frame(0x1, std::string(300, 'a'));
  const std::string large = frame(0x2, std::string(70000, '\x88'));  // bytes that look like closes
  const std::string fragments = frame(0x1, "{\"type\":", false) + frame(0x0, "\"ping\"}");
  const std::vector<Case> cases = {
      {"valid reason", close_frame(1000, "bye"), false},
      {"no reason", close_frame(1000, ""), false},
      {"no code", frame(0x8, ""), false},
      {"surrogate", close_frame(1000, "\xed\xa0\x80"), true},
      {"0xff", close_frame(4000, "\xff"), true},
      {"cut character", close_frame(1000, "ok\xc3"), true},
      {"overlong", close_frame(1000, "\xc0\xaf"), true},
      {"unmasked", close_frame(1000, "\xff", false), true},
      {"bad code first", close_frame(999, "\xff"), false},
      {"after frames",
       text + medium + large + fragments + frame(0x9, "ping") + close_frame(1001, "\xff"), true},
      {"valid after frames", text + large + close_frame(1000, "fine"), false},
      {"only the first close counts", close_frame(1000, "ok") + close_frame(1000, "\xff"), false},
      {"control frame too long", frame(0x8, std::string(2, '\x03') + std::string(200, '\xff')),
       false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(invalid_in_every_split(c.bytes), std::vector<bool>(3, c.invalid)) << c.name;
  }
}

TEST(CloseReasonCheckTest, IsDoneAfterTheFirstCloseFrameOnly) {
  CloseReasonCheck check;
  check.feed(frame(0x1, "hello"));
  EXPECT_FALSE(check.done());
  const std::string close = close_frame(1000, "bye");
  check.feed(std::string_view(close).substr(0, close.size() - 1));
  EXPECT_FALSE(check.done());
  check.feed(std::string_view(close).substr(close.size() - 1));
  EXPECT_TRUE(check.done());
  EXPECT_FALSE(check.invalid_reason());
}

}  // namespace
}  // namespace chat::server
