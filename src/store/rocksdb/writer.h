#pragma once
// Group commit for RocksStore, with the state that makes an append a pure write.
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "store/batching_queue.h"
#include "store/rocksdb/database.h"
#include "store/store.h"
#include "store/write_jobs.h"

namespace chat::store::rocks {

// The only thread that writes to the database. Callers enqueue jobs from any thread; the writer
// takes everything pending (at most max_batch), applies each job to one WriteBatch, writes it with
// sync = true (one WAL fdatasync for the whole batch), and then runs the callbacks in queue order
// on its own thread. A job's own failure (unknown recipient, conflict) adds nothing to the batch;
// a failed write answers every job of the batch with unavailable.
//
// What it keeps in memory, owned by its thread alone: every user (loaded at start-up), the head
// (last seq) of each inbox it has written to (loaded on first use with one backward seek), and a
// bounded FIFO of recent idempotency keys (a miss costs one Get). A batch is computed against an
// overlay of these, which is folded in only once the batch is durable, so that a failed batch
// leaves them as they were.
//
// last_seen is not a job: touch_last_seen keeps the newest time per user in memory, and the writer
// writes what is pending at most once per kTouchInterval, in whatever batch runs then (the queue
// wakes it when none does; kTouchesPerCommit a commit), and at drain(). A connect or a disconnect
// thus costs the writer no commit of its own, and a user who comes and goes within the interval is
// written once. Readers see pending times at once (pending_last_seen); a crash loses at most the
// last interval's.
//

// Thread-safe; drain() is idempotent but must not be called from a callback.
class Writer {
 public:
  Writer(Database& db, const RocksOptions& options);
  ~Writer();  // drains
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Loads the users; call once, before the first write.
  Status load();

  void append(SendRequest request, Callback<SendResult> done);
  void create_user(std::string username, int64_t now_ms, Callback<User> done);
  void delete_user(std::string username, Callback<Ok> done);
  void touch_last_seen(std::string username, int64_t now_ms);
  // A last_seen given to touch_last_seen and not written yet, if any.
  std::optional<int64_t> pending_last_seen(const std::string& username);

  static constexpr std::chrono::milliseconds kTouchInterval{1000};
  // At most this many last_seen times go into one commit, and a run of the writer makes at most
  // kTouchSharesPerRun such commits; what is left waits for the next run.
  static constexpr std::size_t kTouchesPerCommit = 256;
  static constexpr int kTouchSharesPerRun = 64;

  void drain();
  uint64_t commits() const { return commits_.load(); }

 private:
  using Job = std::variant<AppendJob, CreateUserJob, DeleteUserJob>;
  using Touches = std::unordered_map<std::string, int64_t>;  // username -> last_seen

  struct UserState {
    int64_t created_at = 0;
    std::optional<int64_t> last_seen;
    uint64_t generation = 0;  // tells a re-created user's cached keys from their predecessor's
  };
  struct SentState {
    uint64_t sender_seq = 0;
    int64_t ts = 0;
    std::string msg_id;
    uint64_t generation = 0;  // the sender's
  };
  // What the batch being built changes, on top of the committed state.
  struct Overlay {
    std::unordered_map<std::string, std::optional<UserState>> users;  // nullopt: deleted
    std::unordered_set<std::string> fresh;  // created in this batch: nothing of theirs on disk
    std::unordered_map<std::string, uint64_t> heads;
    std::unordered_map<std::string, SentState> sent;  // by send-key
  };

  void run_batch(std::vector<Job>& batch);
  // One commit: the jobs, and pending last_seen times when `with_touches`. Returns whether more
  // times are due than this commit took.
  bool write_batch(std::vector<Job>& batch, bool with_touches);
  void commit(Overlay& overlay);

  Result<SendResult> apply(const AppendJob& job);
  Result<User> apply(const CreateUserJob& job);
  Status apply(const DeleteUserJob& job);
  void apply_touches(const Touches& touches);
  void forget_touches(const Touches& written);

  const UserState* find_user(const std::string& name) const;
  Result<uint64_t> head(const std::string& owner);
  Result<std::optional<SentState>> find_sent(const std::string& key, const std::string& from,
                                             const UserState& sender);
  Status forget_messages_of(const std::string& name);
  void remember(std::string key, SentState sent);
  void put(std::string key, std::string value);
  void flush_puts();
  void put_entry(const std::string& owner, const std::string& peer, uint64_t seq,
                 const std::string& number);

  Database& db_;
  const std::size_t send_key_cache_;
  std::atomic<uint64_t> commits_{0};

  // The writer thread's own, below.
  std::unordered_map<std::string, UserState> users_;
  std::unordered_map<std::string, uint64_t> heads_;
  std::unordered_map<std::string, SentState> sent_;
  std::deque<std::string> sent_order_;  // FIFO of sent_'s keys, oldest first
  uint64_t next_generation_ = 1;
  uint64_t next_message_ = 1;        // the number of the next message committed
  uint64_t batch_next_message_ = 1;  // the same, counting the batch being built
  bool needs_reopen_ = false;
  Overlay overlay_;
  // The batch's puts, added to batch_ in key order (stable: a key's last put wins) before each
  // delete and before the write: sorted, they cost the memtable's skiplist far less to insert.
  std::vector<std::pair<std::string, std::string>> puts_;
  rocksdb::WriteBatch batch_;
  std::chrono::steady_clock::time_point next_touches_{};  // when pending touches are written

  std::mutex touches_mu_;
  Touches touches_;              // guarded by touches_mu_; an entry leaves once it is durable
  std::once_flag last_touches_;  // drain()'s

  BatchingQueue<Job> queue_;  // last: its thread starts once everything above exists
};

}  // namespace chat::store::rocks
