#pragma once
// A Store in memory, for unit tests of code above the store.
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace chat::store {

// Same contract as RocksStore, but every write finishes and runs its callback inline, on the
// calling thread, before returning, so tests need no waiting. set_failing(true) makes writes fail
// with unavailable and store nothing, like a database that is down; reads keep working.
// Thread-safe: one mutex, never held while a callback runs (callbacks may call the store).
class InMemoryStore final : public Store {
 public:
  void set_failing(bool failing);
  // Appends report `nodes` as the route of every entry of `owner`, as a cluster store would for a
  // user connected to those instances. Without any, appends report no routes, as RocksStore.
  void set_routes(std::string owner, std::vector<std::string> nodes);

  void create_user(std::string username, int64_t now_ms, Callback<User> done) override;
  void delete_user(std::string username, Callback<Ok> done) override;
  void touch_last_seen(std::string username, int64_t now_ms) override;
  Result<User> get_user(std::string_view username) override;
  Result<UserPage> list_users(std::string_view after, int limit) override;

  void append(SendRequest request, Callback<SendResult> done) override;
  Result<std::vector<InboxEntry>> read_inbox(std::string_view owner, uint64_t after,
                                             int limit) override;
  Result<std::vector<InboxEntry>> history(std::string_view owner, std::string_view peer,
                                          uint64_t before, int limit) override;
  Result<std::vector<Conversation>> conversations(std::string_view owner, uint64_t before,
                                                  int limit) override;
  Result<uint64_t> last_seq(std::string_view owner) override;

  // Later writes fail with unavailable, as after RocksStore::drain().
  void drain() override;

 private:
  struct Sent {
    std::string msg_id;
    uint64_t seq = 0;
    int64_t ts = 0;
  };

  Status writable() const;  // requires mu_
  Result<SendResult> append_locked(const SendRequest& request);
  InboxEntry& push_entry(const SendRequest& request, const std::string& owner);

  mutable std::mutex mu_;
  bool failing_ = false;                                                 // guarded by mu_
  bool drained_ = false;                                                 // guarded by mu_
  std::map<std::string, User, std::less<>> users_;                       // guarded by mu_
  std::map<std::string, std::vector<InboxEntry>, std::less<>> inboxes_;  // guarded by mu_; [seq-1]
  std::map<std::pair<std::string, std::string>, Sent> sends_;            // guarded by mu_
  std::map<std::string, std::vector<std::string>, std::less<>> routes_;  // guarded by mu_
};

}  // namespace chat::store
