#pragma once
// Wall-clock time for I/O code. Pure code takes `now` as a parameter instead of calling these.
#include <chrono>
#include <cstdint>

namespace chat {

inline int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline int64_t unix_seconds() { return unix_ms() / 1000; }

using SteadyClock = std::chrono::steady_clock;

}  // namespace chat
