#pragma once
// The Store for a single node: one SQLite file in WAL mode.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace chat::store {

namespace sqlite {
class ReaderPool;
class Writer;
}  // namespace sqlite

struct SqliteOptions {
  // Most writes committed in one transaction (one fsync).
  std::size_t max_batch = 512;
  // How long a statement waits for a lock held by another process (a backup, the sqlite3 shell)
  // before the operation fails with unavailable.
  std::chrono::milliseconds busy_timeout{5000};
};

// Store backed by one SQLite database file, durable on acknowledgement: a write's callback runs
// only after its transaction is committed with synchronous=FULL, so it survives kill -9 and power
// loss.
//
// Threading model. Writes go to a queue served by one writer thread that owns the only read-write
// connection and commits whatever has accumulated as one transaction (group commit, see
// sqlite/writer.h); callbacks run on that thread, after the commit, in submission order, and must
// not block or call drain(). Reads run on the calling thread on a read-only connection borrowed
// from a pool, concurrently with each other and with the writer; they see committed data only.
// Every method is safe to call from any thread.
//
// Owned by the app; destroy it (or drain() it) before whatever its callbacks call into.
class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` (a file, not ":memory:") and migrates its schema.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   SqliteOptions options = {});
  ~SqliteStore() override;  // drains
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  void create_user(std::string username, int64_t now_ms, Callback<User> done) override;
  void delete_user(std::string username, Callback<Ok> done) override;
  void touch_last_seen(std::string username, int64_t now_ms) override;
  Result<User> get_user(std::string_view username) override;
  // bad_request when limit < 1.
  Result<UserPage> list_users(std::string_view after, int limit) override;

  void append(SendRequest request, Callback<SendResult> done) override;
  // Reads below: bad_request when limit < 1; an unknown owner has an empty inbox.
  Result<std::vector<InboxEntry>> read_inbox(std::string_view owner, uint64_t after,
                                             int limit) override;
  // before == 0 means no upper bound.
  Result<std::vector<InboxEntry>> history(std::string_view owner, std::string_view peer,
                                          uint64_t before, int limit) override;
  Result<uint64_t> last_seq(std::string_view owner) override;

  void drain() override;

  // Transactions committed so far; with concurrent writers, fewer than the writes.
  uint64_t commits() const;

 private:
  SqliteStore(std::unique_ptr<sqlite::ReaderPool> readers, std::unique_ptr<sqlite::Writer> writer);

  std::unique_ptr<sqlite::ReaderPool> readers_;
  std::unique_ptr<sqlite::Writer> writer_;
};

}  // namespace chat::store
