#pragma once
// Keeps a warning that can repeat thousands of times a second (every record refused while Kafka
// is down) to one line per period, saying how many were left out. Owned by whoever logs;
// thread-safe (a mutex, taken on failure paths only).
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "base/clock.h"

namespace chat::bus {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds period) : period_(period) {}

  // When this occurrence may be logged: how many were left out since the last one that was.
  // nullopt: leave this one out.
  std::optional<uint64_t> admit(SteadyClock::time_point now = SteadyClock::now()) {
    std::lock_guard lock(mutex_);
    if (logged_once_ && now < next_) {
      ++left_out_;
      return std::nullopt;
    }
    logged_once_ = true;
    next_ = now + period_;
    const uint64_t left_out = left_out_;
    left_out_ = 0;
    return left_out;
  }

 private:
  const std::chrono::milliseconds period_;
  std::mutex mutex_;
  bool logged_once_ = false;        // guarded by mutex_
  SteadyClock::time_point next_{};  // guarded by mutex_
  uint64_t left_out_ = 0;           // guarded by mutex_
};

}  // namespace chat::bus
