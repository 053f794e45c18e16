#pragma once
// RAII over libpq: one connection, always in pipeline mode, whose every exchange with the server
// is one round trip (the statements of a round, then one Sync). Private to store/postgres; nothing
// outside it sees libpq-fe.h.
#include <libpq-fe.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace chat::store::postgres {

using Clock = std::chrono::steady_clock;

// How to reach the database, and how long any exchange with it may take.
struct ConnectOptions {
  std::string url;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds statement_timeout{5000};
};

// The rows of one statement's result (none for a command). Owns its PGresult; move-only, and used
// by one thread at a time like any value.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result) {}

  int size() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  int64_t int64(int row, int column) const;  // 0 for NULL or garbage, which the SQL rules out
  bool boolean(int row, int column) const;   // PostgreSQL's text form: "t" or "f"

 private:
  struct Clear {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

// The parameters of one statement, in PostgreSQL's text format ($1, $2... in the SQL, which casts
// each one to its type: `$1::bigint`, `$2::text[]`). A plain value.
class Params {
 public:
  Params& text(std::string_view value);
  Params& int64(int64_t value);
  // Array literals ('{"a","b"}'), for the unnest()s that make one statement of a whole batch.
  Params& text_array(std::span<const std::string> values);
  Params& int64_array(std::span<const int64_t> values);

  std::size_t size() const { return values_.size(); }
  const std::string& operator[](std::size_t i) const { return values_[i]; }

 private:
  std::vector<std::string> values_;
};

// One statement of a round. `sql` must outlive the round (the SQL is always a constant). A
// statement is prepared on the connection the first time it is used (within the same round trip)
// and reused afterwards, unless `prepare` is false (migrations, session set-up).
struct Statement {
  std::string_view sql;
  Params params = {};
  bool prepare = true;
};

// True when `text` can be stored in a text column: valid UTF-8 without NUL bytes.
bool storable(std::string_view text);

// One connection to PostgreSQL. It lives in pipeline mode, non-blocking, so that a round of many
// statements costs one round trip and no wait is unbounded: each round has a deadline, past which
// the connection is declared broken.
//
// Owned by the Writer or by the Pool. Not thread-safe: one thread uses it at a time (the writer
// thread, or whoever borrowed it from the pool). Once broken() it stays broken; its owner drops it
// and connects anew.
class Connection {
 public:
  // Connects within options.connect_timeout, sets statement_timeout, and checks that the database
  // speaks UTF-8. unavailable when the server cannot be reached in time.
  static Result<std::unique_ptr<Connection>> open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends the statements followed by one Sync and waits, until `deadline`, for every result.
  // On success, one Rows per statement in order. The first failing statement fails the round
  // ("postgres: <context>: <server message>"), and the server skips the rest up to the Sync;
  // completed() and sqlstate() then tell which and why. A parameter that is not storable
  // text fails the round with bad_request before anything is sent.
  Result<std::vector<Rows>> round_trip(std::string_view context, std::span<Statement> statements,
                                       Clock::time_point deadline);
  // The same, with a deadline of statement_timeout plus a second of network slack.
  Result<std::vector<Rows>> round_trip(std::string_view context, std::span<Statement> statements);

  // Of the last round that failed: how many of its statements completed (the failing one is the
  // next; all of them when the connection failed after their results came), and the SQLSTATE of
  // the failure ("" when the connection failed).
  std::size_t completed() const { return completed_; }
  const std::string& sqlstate() const { return sqlstate_; }

  // The connection is gone (lost, timed out, or out of step with the server): drop it.
  bool broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }
  // Broken because the server stopped answering (rather than closing the connection).
  bool timed_out() const { return timed_out_; }
  // For a connection that sat idle: whether it is still usable. Anything the server sent meanwhile
  // (a termination notice, an EOF) says it is not.
  bool alive();
  // Inside a transaction block (open or failed), as of the last completed round.
  bool in_transaction() const;

  const ConnectOptions& options() const { return options_; }

 private:
  Connection(PGconn* conn, ConnectOptions options) : conn_(conn), options_(std::move(options)) {}

  Error fail(std::string_view context, std::string message, Errc code = Errc::unavailable);
  Status flush(std::string_view context, Clock::time_point deadline);
  Status wait_for_result(std::string_view context, Clock::time_point deadline);

  PGconn* conn_;
  const ConnectOptions options_;
  bool broken_ = false;
  bool timed_out_ = false;
  std::size_t completed_ = 0;
  std::string sqlstate_;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // SQL text of each statement prepared on this connection -> its name.
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> prepared_;
  uint64_t next_name_ = 0;
};

// How a failure reported by the server maps onto Errc: what a retry may cure (connection
// exceptions, deadlocks, timeouts, a server shutting down or out of resources, a read-only standby)
// is unavailable; the rest (a bug in the SQL, a broken constraint) is internal.
Errc errc_of_sqlstate(std::string_view sqlstate);

// A deadlock or a serialization failure: the transaction was rolled back and may simply be rerun.
inline bool retryable(std::string_view sqlstate) {
  return sqlstate == "40P01" || sqlstate == "40001";
}

}  // namespace chat::store::postgres
