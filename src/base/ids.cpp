#include "base/ids.h"

#include <cstdint>
#include <random>

namespace chat {
namespace {

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  return rng;
}

void append_hex(std::string& out, uint64_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(value >> (4 * i)) & 0xF]);
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::string out;
  out.reserve(bytes * 2);
  while (bytes > 0) {
    const std::size_t n = bytes < 8 ? bytes : 8;
    append_hex(out, thread_rng()(), static_cast<int>(n * 2));
    bytes -= n;
  }
  return out;
}

std::string new_message_id(int64_t now_ms) {
  std::string out;
  out.reserve(32);
  append_hex(out, static_cast<uint64_t>(now_ms), 12);
  out += random_hex(10);
  return out;
}

}  // namespace chat
