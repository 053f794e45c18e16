#pragma once
// This instance's side of the cluster's routing registry: forwards attach/detach to the store and
// remembers what it has registered, so that after losing the database (or being reaped) it can
// write back exactly its own connections. Thread-safe.
#include <cstddef>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/presence.h"

namespace chat::cluster {

class NodePresence final : public store::Presence {
 public:
  NodePresence(store::Presence& presence, store::Membership& membership)
      : presence_(presence), membership_(membership) {}

  Result<uint64_t> attach(std::string_view user, std::string_view node) override;
  void detach(std::string user, std::string node) override;
  Result<std::vector<std::string>> nodes_of(std::string_view user) override;
  Result<std::vector<std::string>> live_nodes() override;
  Result<std::vector<std::size_t>> connection_counts(
      const std::vector<std::string>& users) override;

  // Replaces the node's rows with what it holds. Attaches wait while it runs, so none is lost
  // between the snapshot and the write; a detach still queued in the store when it runs may
  // leave a count one too low, which the next reset corrects.
  Status reset(std::string_view node);

 private:
  store::Presence& presence_;
  store::Membership& membership_;
  std::shared_mutex reset_mu_;  // shared: attach; exclusive: reset
  std::mutex mu_;
  std::map<std::string, std::size_t, std::less<>> attached_;  // guarded by mu_
};

}  // namespace chat::cluster
