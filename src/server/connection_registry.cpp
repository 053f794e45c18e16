#include "server/connection_registry.h"

#include <algorithm>
#include <functional>

namespace chat::server {

ConnectionRegistry::Shard& ConnectionRegistry::shard_for(const std::string& user) {
  return shards_[std::hash<std::string>{}(user) % kShards];
}

const ConnectionRegistry::Shard& ConnectionRegistry::shard_for(const std::string& user) const {
  return shards_[std::hash<std::string>{}(user) % kShards];
}

bool ConnectionRegistry::reserve(const std::string& user) {
  Shard& shard = shard_for(user);
  std::lock_guard lock(shard.mutex);
  auto& u = shard.users[user];
  if (u.entries.size() + u.reserved >= max_per_user_) {
    if (u.entries.empty() && u.reserved == 0) shard.users.erase(user);
    return false;
  }
  ++u.reserved;
  return true;
}

void ConnectionRegistry::attach(const std::string& user,
                                const std::shared_ptr<Connection>& connection) {
  Shard& shard = shard_for(user);
  std::lock_guard lock(shard.mutex);
  auto& u = shard.users[user];
  if (u.reserved > 0) --u.reserved;
  u.entries.push_back(Entry{connection.get(), connection});
  total_.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionRegistry::release(const std::string& user) {
  Shard& shard = shard_for(user);
  std::lock_guard lock(shard.mutex);
  auto it = shard.users.find(user);
  if (it == shard.users.end()) return;
  if (it->second.reserved > 0) --it->second.reserved;
  if (it->second.entries.empty() && it->second.reserved == 0) shard.users.erase(it);
}

void ConnectionRegistry::remove(const std::string& user, const Connection* connection) {
  Shard& shard = shard_for(user);
  std::lock_guard lock(shard.mutex);
  auto it = shard.users.find(user);
  if (it == shard.users.end()) return;
  auto& list = it->second.entries;
  auto found = std::find_if(list.begin(), list.end(),
                            [connection](const Entry& e) { return e.key == connection; });
  if (found == list.end()) return;
  list.erase(found);
  total_.fetch_sub(1, std::memory_order_relaxed);
  if (list.empty() && it->second.reserved == 0) shard.users.erase(it);
}

std::size_t ConnectionRegistry::count(const std::string& user) const {
  const Shard& shard = shard_for(user);
  std::lock_guard lock(shard.mutex);
  auto it = shard.users.find(user);
  return it == shard.users.end() ? 0 : it->second.entries.size();
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::connections_of(
    const std::string& user) const {
  std::vector<std::shared_ptr<Connection>> out;
  const Shard& shard = shard_for(user);
  std::lock_guard lock(shard.mutex);
  auto it = shard.users.find(user);
  if (it == shard.users.end()) return out;
  out.reserve(it->second.entries.size());
  for (const auto& e : it->second.entries)
    if (auto c = e.connection.lock()) out.push_back(std::move(c));
  return out;
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::all() const {
  std::vector<std::shared_ptr<Connection>> out;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (const auto& [user, u] : shard.users)
      for (const auto& e : u.entries)
        if (auto c = e.connection.lock()) out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::pair<std::string, std::size_t>> ConnectionRegistry::users() const {
  std::vector<std::pair<std::string, std::size_t>> out;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (const auto& [user, u] : shard.users)
      if (!u.entries.empty()) out.emplace_back(user, u.entries.size());
  }
  return out;
}

}  // namespace chat::server
