#pragma once
// A token bucket for per-connection rate limiting. Pure: the caller passes the time.
// Not thread-safe; each connection owns one and uses it from its own strand.
#include <optional>

namespace chat::core {

class TokenBucket {
 public:
  // `rate` tokens per second refill a bucket holding at most `burst`; it starts full.
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes one token if there is one at time `now_seconds` (any monotonic origin).
  bool try_take(double now_seconds) {
    if (!last_) {
      last_ = now_seconds;  // the clock's origin is unknown: time starts at the first call
    } else if (now_seconds > *last_) {
      tokens_ += (now_seconds - *last_) * rate_;
      if (tokens_ > burst_) tokens_ = burst_;
      last_ = now_seconds;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::optional<double> last_;
};

}  // namespace chat::core
