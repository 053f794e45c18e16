#pragma once
// Where the store's connections come from, and the circuit breaker that keeps callers from waiting
// on a database that cannot be reached.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"
#include "store/postgres/connection.h"

namespace chat::store::postgres {

// Opens connections for the pool and the writer. After a connect fails (or a connection stops
// answering), further connects fail at once with unavailable for kRetryAfter; after that one caller
// tries again while the others keep failing fast, until one succeeds. So during an outage at most
// one caller at a time waits connect_timeout, and no WebSocket I/O thread queues behind it.
//
// Shared by the store's Pool and Writer (shared_ptr). Thread-safe.
class Connector {
 public:
  static constexpr std::chrono::milliseconds kRetryAfter{500};

  explicit Connector(ConnectOptions options) : options_(std::move(options)) {}

  Result<std::unique_ptr<Connection>> connect();
  // A connection stopped answering: the database counts as unreachable for kRetryAfter.
  void unreachable(const Error& error);

  const ConnectOptions& options() const { return options_; }

 private:
  void trip(const Error& error);  // requires mu_

  const ConnectOptions options_;
  std::mutex mu_;
  bool tripped_ = false;        // guarded by mu_; the last attempt failed
  bool probing_ = false;        // guarded by mu_; someone is trying again
  Clock::time_point retry_at_;  // guarded by mu_
  std::string last_error_;      // guarded by mu_
};

}  // namespace chat::store::postgres
