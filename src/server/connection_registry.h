#pragma once
// The live connections of this node, by user: who gets a delivery, how many devices a user has,
// and whom to close at shutdown. Thread-safe: the map is split into shards, each under its own
// mutex, so that deliveries to different users do not contend on one lock.
//
// The registry does not own connections: it keeps weak references, and a connection removes
// itself when it ends.
#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/connection.h"

namespace chat::server {

class ConnectionRegistry {
 public:
  explicit ConnectionRegistry(std::size_t max_per_user) : max_per_user_(max_per_user) {}

  // Holds a place for a connection of `user` that is about to be upgraded; false when the user
  // already has max_per_user (counting held places). Deciding before the upgrade lets the refusal
  // be a plain HTTP 429.
  bool reserve(const std::string& user);
  // Turns a held place into the connection (exactly once per successful reserve).
  void attach(const std::string& user, const std::shared_ptr<Connection>& connection);
  // Frees a held place that did not become a connection.
  void release(const std::string& user);
  void remove(const std::string& user, const Connection* connection);

  std::size_t count(const std::string& user) const;
  std::size_t total() const { return total_.load(std::memory_order_relaxed); }

  // Snapshots, taken under the shard lock and used outside it.
  std::vector<std::shared_ptr<Connection>> connections_of(const std::string& user) const;
  std::vector<std::shared_ptr<Connection>> all() const;
  // Every user with at least one open connection, and how many.
  std::vector<std::pair<std::string, std::size_t>> users() const;

 private:
  struct Entry {
    const Connection* key;
    std::weak_ptr<Connection> connection;
  };
  struct UserConnections {
    std::vector<Entry> entries;
    std::size_t reserved = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, UserConnections> users;  // guarded by mutex
  };
  static constexpr std::size_t kShards = 64;

  Shard& shard_for(const std::string& user);
  const Shard& shard_for(const std::string& user) const;

  const std::size_t max_per_user_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> total_{0};
};

}  // namespace chat::server
