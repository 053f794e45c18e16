#pragma once
// Group commit for SqliteStore.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/batching_queue.h"
#include "store/store.h"
#include "store/write_jobs.h"

namespace chat::store::sqlite {

// The only thread that writes to the database. Callers enqueue jobs from any thread; the writer
// takes everything pending (at most max_batch), applies it in one BEGIN IMMEDIATE ... COMMIT with
// a savepoint per job (so a job's logical failure undoes only that job), and after COMMIT runs the
// callbacks in queue order on its own thread. If BEGIN or COMMIT fails, the whole batch is rolled
// back and every job gets unavailable. One fsync then covers the whole batch.
//
// Owns its connection, which no other thread touches. Thread-safe; drain() is idempotent but must
// not be called from a callback (it joins the writer thread).
class Writer {
 public:
  Writer(std::unique_ptr<Connection> db, std::size_t max_batch);
  ~Writer();  // drains
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void append(SendRequest request, Callback<SendResult> done);
  void create_user(std::string username, int64_t now_ms, Callback<User> done);
  void delete_user(std::string username, Callback<Ok> done);
  void touch_last_seen(std::string username, int64_t now_ms);

  // Commits everything accepted so far, runs its callbacks, then stops the thread. Later writes
  // fail with unavailable, their callback invoked inline.
  void drain();

  // Transactions committed so far: fewer than the writes when batching works.
  uint64_t commits() const { return commits_.load(); }

 private:
  // AppendJob, CreateUserJob and DeleteUserJob are in store/write_jobs.h.
  struct TouchJob {
    std::string username;
    int64_t now_ms;
    std::optional<Status> result;
  };
  using Job = std::variant<AppendJob, CreateUserJob, DeleteUserJob, TouchJob>;

  void submit(Job job);
  void run_batch(std::vector<Job>& batch);
  template <typename J>
  Status apply_in_savepoint(J& job);

  Result<SendResult> apply(const AppendJob& job);
  Result<User> apply(const CreateUserJob& job);
  Status apply(const DeleteUserJob& job);
  Status apply(const TouchJob& job);
  Result<bool> user_exists(const std::string& username);
  Result<InboxEntry> insert_entry(const SendRequest& request, const std::string& owner,
                                  const std::string& peer);

  std::unique_ptr<Connection> db_;  // used by the writer thread only
  std::atomic<uint64_t> commits_{0};

  BatchingQueue<Job> queue_;  // last: its thread starts once everything above exists
};

}  // namespace chat::store::sqlite
