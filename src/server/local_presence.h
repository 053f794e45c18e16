#pragma once
// The routing registry of a single node: its own connection registry is the whole truth, so
// nothing is recorded anywhere and every route is empty (the in-process bus reaches every
// connection). Thread-safe; borrows the store and the registry, which must outlive it.
#include "server/connection_registry.h"
#include "store/presence.h"
#include "store/store.h"

namespace chat::server {

class LocalPresence final : public store::Presence {
 public:
  LocalPresence(store::Store& store, const ConnectionRegistry& registry)
      : store_(store), registry_(registry) {}

  // The inbox head. The connection is already in the registry, so an entry committed after this
  // read is delivered to it in-process.
  Result<uint64_t> attach(std::string_view user, std::string_view node) override;
  void detach(std::string user, std::string node) override;
  // Empty when the user exists: nobody else is to be told.
  Result<std::vector<std::string>> nodes_of(std::string_view user) override;
  Result<std::vector<std::string>> live_nodes() override;
  Result<std::vector<std::size_t>> connection_counts(
      const std::vector<std::string>& users) override;

 private:
  store::Store& store_;
  const ConnectionRegistry& registry_;
};

}  // namespace chat::server
