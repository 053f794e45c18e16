#pragma once
// The storage port. RocksDB implements it for one node (store/rocksdb), PostgreSQL for a cluster.
//
// Thread-safety: every method may be called from any thread concurrently.
// Writes are asynchronous so that an implementation can batch many of them into one commit
// (group commit); their callbacks run on a store-owned thread after the commit is durable and must
// not block: hand the result back to your own executor. Reads are synchronous and cheap.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/types.h"

namespace chat::store {

template <typename T>
using Callback = std::function<void(Result<T>)>;

class UserStore {
 public:
  virtual ~UserStore() = default;
  // conflict when the username exists.
  virtual void create_user(std::string username, int64_t now_ms, Callback<User> done) = 0;
  // not_found when missing. Removes the user, their inbox and idempotency keys.
  virtual void delete_user(std::string username, Callback<Ok> done) = 0;
  // Best effort, batched; no callback.
  virtual void touch_last_seen(std::string username, int64_t now_ms) = 0;

  virtual Result<User> get_user(std::string_view username) = 0;  // not_found when missing
  // The users of these names that exist, in the order asked. Stores over a network answer in one
  // round trip; the default asks one by one.
  virtual Result<std::vector<User>> find_users(const std::vector<std::string>& usernames);
  virtual Result<UserPage> list_users(std::string_view after, int limit) = 0;
};

class InboxStore {
 public:
  virtual ~InboxStore() = default;
  // Atomically: checks (from, client_id) for a duplicate, checks that `to` exists
  // (unknown_recipient otherwise), appends the recipient's and the sender's entries with the next
  // seq of each inbox, and records the idempotency key. `done` runs once durable.
  // On a storage failure: unavailable, and nothing was stored.
  virtual void append(SendRequest request, Callback<SendResult> done) = 0;

  // Entries of `owner` with seq > after, ascending, at most `limit`.
  virtual Result<std::vector<InboxEntry>> read_inbox(std::string_view owner, uint64_t after,
                                                     int limit) = 0;
  // Entries of `owner` exchanged with `peer` (either direction) with seq < before, newest first.
  virtual Result<std::vector<InboxEntry>> history(std::string_view owner, std::string_view peer,
                                                  uint64_t before, int limit) = 0;
  // The conversations of `owner` whose latest entry has seq < before (no bound when before is 0),
  // ordered by that entry, newest first; at most `limit`. Read from the history index (one step per
  // peer), never by scanning the inbox.
  virtual Result<std::vector<Conversation>> conversations(std::string_view owner, uint64_t before,
                                                          int limit) = 0;
  // Highest seq in owner's inbox; 0 when empty.
  virtual Result<uint64_t> last_seq(std::string_view owner) = 0;
  // last_seq of each owner, in the order asked (0 for an unknown owner). Stores over a network
  // answer in one round trip; the default asks one by one.
  virtual Result<std::vector<uint64_t>> last_seqs(const std::vector<std::string>& owners);
};

// Waits until every write accepted so far is durable and its callback has run, then stops the
// writer. Called once at shutdown, after the server stopped accepting work.
class Drainable {
 public:
  virtual ~Drainable() = default;
  virtual void drain() = 0;
};

// For implementations that find each peer's latest entry: those with seq < before (every one when
// before is 0), newest first, at most `limit`.
std::vector<Conversation> newest_first(std::vector<Conversation> latest, uint64_t before,
                                       int limit);

class Store : public UserStore, public InboxStore, public Drainable {};

}  // namespace chat::store
