#include "store/sqlite/reader_pool.h"

#include <utility>

namespace chat::store::sqlite {

ReaderPool::Lease::~Lease() {
  if (connection_ == nullptr) return;  // moved from
  std::lock_guard lock(pool_->mu_);
  pool_->idle_.push_back(std::move(connection_));
}

ReaderPool::ReaderPool(std::string path, std::chrono::milliseconds busy_timeout)
    : path_(std::move(path)), busy_timeout_(busy_timeout) {}

Result<ReaderPool::Lease> ReaderPool::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
  }
  // Opened outside the lock: it touches the file system.
  Result<std::unique_ptr<Connection>> connection =
      Connection::open(path_, SQLITE_OPEN_READONLY, busy_timeout_);
  if (!connection.ok()) return connection.error();
  return Lease(this, std::move(connection).value());
}

}  // namespace chat::store::sqlite
