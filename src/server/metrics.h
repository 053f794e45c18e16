#pragma once
// Process-wide counters exported at /metrics in the Prometheus text format. Thread-safe: every
// field is atomic and updated without locks on the hot path.
#include <array>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <string>

#include "auth/jwt.h"
#include "base/error.h"
#include "bus/bus.h"
#include "server/error_mapping.h"

namespace chat::server {

// A fixed-bucket latency histogram (seconds).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void observe(double seconds);
  void render(std::string& out, const char* name) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // last one is +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

// Reasons a WebSocket or history request was refused authentication; the JWT failures plus the
// ones decided outside the token.
enum class AuthRefusal { missing, unknown_user };

class Metrics {
 public:
  std::atomic<int64_t> connections{0};
  std::atomic<uint64_t> connections_opened{0};
  std::atomic<uint64_t> messages_accepted{0};
  std::atomic<uint64_t> messages_duplicate{0};
  std::atomic<uint64_t> deliveries{0};
  std::atomic<uint64_t> typing_dropped{0};
  std::atomic<uint64_t> slow_consumer_closes{0};
  std::atomic<uint64_t> accept_failures{0};
  std::atomic<uint64_t> entries_filled{0};              // sent from the store to close a gap
  std::atomic<uint64_t> entries_dropped_as_repeats{0};  // reached a connection that had them
  std::atomic<uint64_t> catch_up_rounds{0};
  LatencyHistogram accept_to_durable;

  void auth_failure(auth::JwtFailure reason);
  void auth_failure(AuthRefusal reason);
  // A well-formed send answered with an `error` instead of `sent`; counted by the error's code on
  // the wire, so that a failing store shows as `unavailable`.
  void send_failed(Errc code);
  std::string render(const bus::BusStats& bus) const;

 private:
  std::array<std::atomic<uint64_t>, std::size(kWsErrorCodes)> send_failures_{};  // by its index
  static constexpr std::size_t kJwtFailureKinds = 9;
  std::array<std::atomic<uint64_t>, kJwtFailureKinds> jwt_failures_{};
  std::array<std::atomic<uint64_t>, 2> other_failures_{};
};

}  // namespace chat::server
