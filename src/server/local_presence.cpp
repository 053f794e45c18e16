#include "server/local_presence.h"

namespace chat::server {

Result<uint64_t> LocalPresence::attach(std::string_view user, std::string_view) {
  return store_.last_seq(user);
}

void LocalPresence::detach(std::string, std::string) {}

Result<std::vector<std::string>> LocalPresence::nodes_of(std::string_view user) {
  Result<store::User> found = store_.get_user(user);
  if (!found.ok()) return found.error();
  return std::vector<std::string>{};
}

Result<std::vector<std::string>> LocalPresence::live_nodes() { return std::vector<std::string>{}; }

Result<std::vector<std::size_t>> LocalPresence::connection_counts(
    const std::vector<std::string>& users) {
  std::vector<std::size_t> counts;
  counts.reserve(users.size());
  for (const std::string& user : users) counts.push_back(registry_.count(user));
  return counts;
}

}  // namespace chat::server
