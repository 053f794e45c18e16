#pragma once
// Group commit for PostgresStore.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "store/postgres/connection.h"
#include "store/postgres/connector.h"
#include "store/batching_queue.h"
#include "store/store.h"
#include "store/write_jobs.h"

namespace chat::store::postgres {

// The store's one writing thread. Callers enqueue jobs from any thread; the writer takes everything
// pending (at most max_batch jobs) and applies it in queue order, as few transactions as it can:
//  - a run of appends is one transaction in two round trips (pipeline mode). Round one locks the
//    heads of every owner of the run in one canonical order (sorted by owner), then reads the
//    idempotency keys of the run and the routes of its owners; the writer decides every append's
//    outcome from that (duplicate, unknown recipient, missing sender, or the next seqs), so no
//    statement fails for a logical reason and one append's failure never spoils the others.
//    Round two inserts all entries, advances the heads, records the keys and commits.
//    touch_last_seen and detach writes travel in round two after the COMMIT, as a transaction of
//    their own: best effort, and never holding inbox locks.
//  - a run of create_user / delete_user is one transaction in one round trip.
// A transaction that hits a deadlock or a serialization failure (another instance) is rerun as a
// whole, a few times with a short back-off; any other failure answers every job of the transaction
// with unavailable. A broken connection is replaced on the next transaction, through the
// Connector's circuit breaker, so an unreachable database fails writes fast instead of stalling the
// queue. Callbacks run on the writer thread after the COMMIT, in submission order.
//
// Owns its connection, which no other thread touches. Thread-safe; drain() is idempotent but must
// not be called from a callback (it joins the writer thread).
class Writer {
 public:
  Writer(std::shared_ptr<Connector> connector, std::unique_ptr<Connection> connection,
         std::size_t max_batch);
  ~Writer();  // drains
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void append(SendRequest request, Callback<SendResult> done);
  void create_user(std::string username, int64_t now_ms, Callback<User> done);
  void delete_user(std::string username, Callback<Ok> done);
  void touch_last_seen(std::string username, int64_t now_ms);
  void detach(std::string user, std::string node);

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
  };
  struct DetachJob {
    std::string user;
    std::string node;
  };
  using Job = std::variant<AppendJob, CreateUserJob, DeleteUserJob, TouchJob, DetachJob>;

  // The result of one attempt at a transaction.
  struct Attempt {
    Status status = Ok{};
    bool retry = false;  // failed on a deadlock or serialization failure: rerun it
  };

  void submit(Job job);
  void run_batch(std::span<Job> batch);
  void run_appends(std::span<Job> jobs);
  void run_user_ops(std::span<Job> jobs);
  Attempt try_appends(std::span<AppendJob*> appends, std::span<const TouchJob*> touches,
                      std::span<const DetachJob*> detaches);
  Attempt try_user_ops(std::span<Job*> ops);

  // Makes sure there is a live connection, opening one if needed.
  Status connect();
  // After a failed round: rolls back what is left of the transaction, drops a broken connection,
  // and says whether the transaction is worth rerunning.
  Attempt abandon(const Error& error);

  const std::shared_ptr<Connector> connector_;
  std::unique_ptr<Connection> db_;  // used by the writer thread only; null while disconnected
  std::atomic<uint64_t> commits_{0};

  BatchingQueue<Job> queue_;  // last: its thread starts once everything above exists
};

}  // namespace chat::store::postgres
