#pragma once
// The Store of a cluster: PostgreSQL, shared by every instance, and with it the routing registry.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "store/presence.h"
#include "store/store.h"

namespace chat::store {

namespace postgres {
class Pool;
class Writer;
}  // namespace postgres

struct PostgresOptions {
  std::string url;              // postgresql://user:password@host:port/database[?options]
  std::size_t max_batch = 512;  // most appends committed in one transaction
  std::size_t readers = 4;      // pooled connections for synchronous reads and presence
  // Bounds on how long any caller waits on an unreachable or stuck database; past them the call
  // fails with unavailable.
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds statement_timeout{5000};
};

// Store, Presence and Membership over libpq, with the same contract as RocksStore
// (store_contract_test runs against both) and the routing registry of store/presence.h.
//
// Threading model. Writes go to a queue served by one writer thread that owns its connection and
// commits whatever has accumulated (at most max_batch appends) in one transaction, sent in
// pipeline mode; callbacks run on that thread after COMMIT, in submission order, and must not
// block or call drain(). Every write, appends and user operations alike, goes through that one
// queue in order. Reads and presence calls run on the calling thread on a connection borrowed
// from a pool. Every method is safe to call from any thread.
//
// Several instances may share one database: each batch locks the inbox heads it touches in one
// canonical order and is retried on deadlock or serialization failure; two instances racing on
// the same (sender, client_id) store one entry. A write whose COMMIT outcome is unknown (the
// connection broke after COMMIT was sent) is answered unavailable: "may have been stored; resend
// with the same id".
//
// Owned by the app; destroy it (or drain() it) before whatever its callbacks call into.
class PostgresStore final : public Store, public Presence, public Membership {
 public:
  // Connects, runs the schema migrations under an advisory lock, and probes a reader.
  static Result<std::unique_ptr<PostgresStore>> open(PostgresOptions options);
  ~PostgresStore() override;  // drains
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // UserStore
  void create_user(std::string username, int64_t now_ms, Callback<User> done) override;
  void delete_user(std::string username, Callback<Ok> done) override;
  void touch_last_seen(std::string username, int64_t now_ms) override;
  Result<User> get_user(std::string_view username) override;
  Result<std::vector<User>> find_users(const std::vector<std::string>& usernames) override;
  Result<UserPage> list_users(std::string_view after, int limit) override;

  // InboxStore
  void append(SendRequest request, Callback<SendResult> done) override;
  Result<std::vector<InboxEntry>> read_inbox(std::string_view owner, uint64_t after,
                                             int limit) override;
  Result<std::vector<InboxEntry>> history(std::string_view owner, std::string_view peer,
                                          uint64_t before, int limit) override;
  Result<std::vector<Conversation>> conversations(std::string_view owner, uint64_t before,
                                                  int limit) override;
  Result<uint64_t> last_seq(std::string_view owner) override;
  Result<std::vector<uint64_t>> last_seqs(const std::vector<std::string>& owners) override;

  void drain() override;

  // Presence
  Result<uint64_t> attach(std::string_view user, std::string_view node) override;
  void detach(std::string user, std::string node) override;
  Result<std::vector<std::string>> nodes_of(std::string_view user) override;
  Result<std::vector<std::string>> live_nodes() override;
  Result<std::vector<std::size_t>> connection_counts(
      const std::vector<std::string>& users) override;

  // Membership
  Result<bool> heartbeat(std::string_view node) override;
  Status reset_presence(std::string_view node,
                        const std::vector<std::pair<std::string, std::size_t>>& counts) override;
  Result<std::vector<std::string>> reap(std::chrono::milliseconds silent_for) override;
  Status leave(std::string_view node) override;

  // Transactions committed by the writer so far.
  uint64_t commits() const;

 private:
  PostgresStore(std::unique_ptr<postgres::Pool> readers, std::unique_ptr<postgres::Writer> writer);

  std::unique_ptr<postgres::Pool> readers_;
  std::unique_ptr<postgres::Writer> writer_;
};

}  // namespace chat::store
