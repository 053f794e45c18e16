#include "cluster/node_presence.h"

namespace chat::cluster {

Result<uint64_t> NodePresence::attach(std::string_view user, std::string_view node) {
  std::shared_lock reset_lock(reset_mu_);
  Result<uint64_t> head = presence_.attach(user, node);
  if (head.ok()) {
    std::lock_guard lock(mu_);
    auto it = attached_.find(user);
    if (it == attached_.end()) it = attached_.emplace(std::string(user), 0).first;
    ++it->second;
  }
  return head;
}

void NodePresence::detach(std::string user, std::string node) {
  {
    std::lock_guard lock(mu_);
    auto it = attached_.find(user);
    if (it != attached_.end() && --it->second == 0) attached_.erase(it);
  }
  presence_.detach(std::move(user), std::move(node));
}

Result<std::vector<std::string>> NodePresence::nodes_of(std::string_view user) {
  return presence_.nodes_of(user);
}

Result<std::vector<std::string>> NodePresence::live_nodes() { return presence_.live_nodes(); }

Result<std::vector<std::size_t>> NodePresence::connection_counts(
    const std::vector<std::string>& users) {
  return presence_.connection_counts(users);
}

Status NodePresence::reset(std::string_view node) {
  std::unique_lock reset_lock(reset_mu_);
  std::vector<std::pair<std::string, std::size_t>> counts;
  {
    std::lock_guard lock(mu_);
    counts.assign(attached_.begin(), attached_.end());
  }
  return membership_.reset_presence(node, counts);
}

}  // namespace chat::cluster
