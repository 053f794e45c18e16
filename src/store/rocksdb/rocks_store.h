#pragma once
// The Store for a single node: a RocksDB database in a directory of its own.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace chat::store {

namespace rocks {
class Database;
class Writer;
}  // namespace rocks

// A test's switch for making the store's files fail as a failing disk would: while fail() is
// true, every file write and sync the store makes returns an I/O error. Thread-safe.
class FileFaults {
 public:
  // While on, writes, syncs and new files fail: with an I/O error, or as on a full disk.
  void fail(bool on) { set(on, false); }
  void fill_disk(bool on) { set(on, true); }
  bool failing() const { return failing_.load(std::memory_order_relaxed); }
  bool no_space() const { return no_space_.load(std::memory_order_relaxed); }

 private:
  void set(bool on, bool no_space) {
    no_space_.store(no_space);
    failing_.store(on);
  }
  std::atomic<bool> failing_{false};
  std::atomic<bool> no_space_{false};
};

struct RocksOptions {
  // Most writes committed in one WriteBatch (one WAL fsync).
  std::size_t max_batch = 4096;
  // Recent idempotency keys the writer answers from memory; older ones cost one lookup.
  std::size_t send_key_cache = 65536;
  // Memory bounds: each of the at most 3 memtables, and the block cache of every read.
  std::size_t write_buffer_bytes = 32 << 20;
  std::size_t block_cache_bytes = 64 << 20;
  // For tests: injected below RocksDB's file system when set.
  std::shared_ptr<FileFaults> faults = nullptr;
};

// Store backed by RocksDB, durable on acknowledgement: a write's callback runs only after its
// WriteBatch is in the write-ahead log and fsynced, so it survives kill -9 and power loss.
//
// Threading model. Writes go to a queue served by one writer thread (rocksdb/writer.h), which
// keeps the users, the inbox heads and recent idempotency keys in memory, turns everything pending
// into one WriteBatch (group commit), and after the sync runs the callbacks in submission order on
// its own thread; they must not block or call drain(). Reads run on the calling thread, straight
// on RocksDB, and see committed data only. Every method is safe to call from any thread.
//
// When a commit fails, every write of its batch is answered unavailable and none of it becomes
// visible, then or after a restart; the writer reopens the database before its next batch, so
// that the store serves again once the fault is gone. Meanwhile reads are served from the database
// opened read-only (a full disk stops writes, not reads).
//
// Owned by the app; destroy it (or drain() it) before whatever its callbacks call into.
class RocksStore final : public Store {
 public:
  // Opens or creates the database in directory `path` (created if missing, with its parent).
  static Result<std::unique_ptr<RocksStore>> open(const std::string& path,
                                                  RocksOptions options = {});
  ~RocksStore() override;  // drains
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

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
  // A skip scan of the history index: two seeks per peer of the owner, whatever the inbox's size.
  Result<std::vector<Conversation>> conversations(std::string_view owner, uint64_t before,
                                                  int limit) override;
  Result<uint64_t> last_seq(std::string_view owner) override;

  void drain() override;

  // WriteBatches committed so far; with concurrent writers, fewer than the writes.
  uint64_t commits() const;

 private:
  RocksStore(std::unique_ptr<rocks::Database> db, std::unique_ptr<rocks::Writer> writer);
  // `user` as read, with a newer last_seen the writer holds and has not written yet.
  User with_pending_last_seen(User user);

  std::unique_ptr<rocks::Database> db_;
  std::unique_ptr<rocks::Writer> writer_;
};

}  // namespace chat::store
