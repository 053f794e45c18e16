#pragma once
// Connections for PostgresStore's synchronous calls.
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/postgres/connection.h"
#include "store/postgres/connector.h"

namespace chat::store::postgres {

// Lends each calling thread a connection for one round trip: reads and presence calls run on the
// caller's thread, in parallel up to `size` connections. Connections are opened on demand (through
// the Connector and its circuit breaker) and kept; one that broke is dropped and replaced on a
// later call. A caller that finds all of them busy waits at most statement_timeout for one.
//
// Owned by PostgresStore. Thread-safe.
class Pool {
 public:
  Pool(std::shared_ptr<Connector> connector, std::size_t size);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs `statements` (one statement, or one transaction) as one round trip on a pooled
  // connection. A round that lost a deadlock was rolled back and is run again (a few times). An
  // `idempotent` round (a read) whose connection turns out to be lost is repeated once on a new
  // connection; any other round that loses its connection fails with unavailable, since the
  // server may have applied it.
  Result<std::vector<Rows>> run(std::string_view context, std::span<Statement> statements,
                                bool idempotent);

  // Opens (or checks) one connection now rather than on the first call.
  Status probe();

 private:
  Result<std::unique_ptr<Connection>> acquire(std::string_view context);
  void release(std::unique_ptr<Connection> connection);

  const std::shared_ptr<Connector> connector_;
  const std::size_t size_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  std::size_t open_ = 0;                           // guarded by mu_; idle, lent, or being opened
};

}  // namespace chat::store::postgres
