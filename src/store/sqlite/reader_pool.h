#pragma once
// Read-only connections for SqliteStore's synchronous reads.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/sqlite/connection.h"

namespace chat::store::sqlite {

// Lends each reading thread a connection of its own for the duration of one call, so that reads
// run in parallel with each other and with the writer (WAL) and see committed data only. Grows to
// the peak number of concurrent readers and keeps those connections open. Thread-safe.
class ReaderPool {
 public:
  // A borrowed connection, given back on destruction. Destroy the statements made from it first.
  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    Connection& connection() { return *connection_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  ReaderPool(std::string path, std::chrono::milliseconds busy_timeout);

  Result<Lease> acquire();

 private:
  const std::string path_;
  const std::chrono::milliseconds busy_timeout_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace chat::store::sqlite
