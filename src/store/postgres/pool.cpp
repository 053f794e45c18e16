#include "store/postgres/pool.h"

#include <algorithm>
#include <utility>

namespace chat::store::postgres {
namespace {

// Runs of a round that lost a deadlock (it was rolled back, so it may simply run again).
constexpr int kMaxAttempts = 3;

}  // namespace

Pool::Pool(std::shared_ptr<Connector> connector, std::size_t size)
    : connector_(std::move(connector)), size_(std::max<std::size_t>(size, 1)) {}

Result<std::vector<Rows>> Pool::run(std::string_view context, std::span<Statement> statements,
                                    bool idempotent) {
  bool reconnected = false;
  for (int attempt = 1;; ++attempt) {
    Result<std::unique_ptr<Connection>> leased = acquire(context);
    if (!leased.ok()) return leased.error();
    Connection& connection = **leased;
    Result<std::vector<Rows>> rows = connection.round_trip(context, statements);
    const std::string sqlstate = connection.sqlstate();  // before the ROLLBACK's round resets it
    if (!rows.ok() && !connection.broken() && connection.in_transaction()) {
      // A failed BEGIN ... COMMIT leaves the session in an aborted transaction block.
      Statement rollback[] = {{.sql = "ROLLBACK"}};
      (void)connection.round_trip(context, rollback);
    }
    const bool lost = connection.broken();
    const bool timed_out = connection.timed_out();
    release(std::move(leased).value());
    if (rows.ok()) return rows;
    // A server that stopped answering makes the others fail fast instead of waiting as long.
    if (timed_out) connector_->unreachable(rows.error());
    if (lost && !timed_out && idempotent && !reconnected) {
      reconnected = true;  // the connection died under us: once more on a new one
    } else if (!retryable(sqlstate) || attempt >= kMaxAttempts) {
      return rows;
    }
  }
}

Status Pool::probe() {
  Result<std::unique_ptr<Connection>> connection = acquire("connect");
  if (!connection.ok()) return connection.error();
  release(std::move(connection).value());
  return Ok{};
}

Result<std::unique_ptr<Connection>> Pool::acquire(std::string_view context) {
  const Clock::time_point deadline = Clock::now() + connector_->options().statement_timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    while (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      // Killed while idle (a server restart, pg_terminate_backend): drop it, try the next.
      if (connection->alive()) return connection;
      --open_;
    }
    if (open_ < size_) break;
    if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= size_) {
      return make_error(Errc::unavailable, "postgres: " + std::string(context) + ": all " +
                                               std::to_string(size_) + " connections are busy");
    }
  }
  ++open_;
  lock.unlock();
  // Opened outside the lock: it may take up to connect_timeout (the breaker permitting).
  Result<std::unique_ptr<Connection>> connection = connector_->connect();
  if (!connection.ok()) {
    lock.lock();
    --open_;
    returned_.notify_one();
  }
  return connection;
}

void Pool::release(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mu_);
    if (connection->broken()) {
      --open_;
    } else {
      idle_.push_back(std::move(connection));
    }
  }
  returned_.notify_one();
  // A broken connection is closed here, outside the lock.
}

}  // namespace chat::store::postgres
