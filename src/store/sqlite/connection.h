#pragma once
// RAII over the SQLite C API: a connection that owns its cached prepared statements, and a handle
// on one statement in use. Private to store/sqlite; nothing outside it sees sqlite3.h.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"

namespace chat::store::sqlite {

// Transient conditions (busy, locked, I/O error, full disk, out of memory) become unavailable so
// that callers may retry; anything else is internal. `db` may be null.
Error to_error(sqlite3* db, int rc, std::string_view context);

// A cached prepared statement in use. Its destructor resets it, which ends the implicit read
// transaction and lets the next user of the same SQL start clean. Move-only, one thread.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are 1-based, as in the SQL (?1, ?2...). A failed bind is reported by step().
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, int64_t value);

  // true when a row is available, false when the statement is done.
  Result<bool> step();
  // Steps to completion, ignoring rows (DML, pragmas).
  Status run();

  int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const;
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// One database connection. Not thread-safe: it is used by one thread at a time (opened with
// SQLITE_OPEN_NOMUTEX), which the writer thread and the reader pool guarantee.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const std::string& path, int flags,
                                                  std::chrono::milliseconds busy_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares `sql` on first use and reuses it afterwards. A statement must not be in use twice at
  // the same time: let the previous Statement for the same SQL go out of scope first.
  Result<Statement> prepare(std::string_view sql);
  // Prepares and runs a statement that returns nothing of interest.
  Status run(std::string_view sql);
  // Runs several statements without caching them (migrations).
  Status exec_script(const std::string& sql);

  int changes() const { return sqlite3_changes(db_); }
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> cache_;
};

}  // namespace chat::store::sqlite
