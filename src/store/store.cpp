#include "store/store.h"

#include <algorithm>

namespace chat::store {

Result<std::vector<uint64_t>> InboxStore::last_seqs(const std::vector<std::string>& owners) {
  std::vector<uint64_t> heads;
  heads.reserve(owners.size());
  for (const std::string& owner : owners) {
    Result<uint64_t> head = last_seq(owner);
    if (!head.ok()) return head.error();
    heads.push_back(*head);
  }
  return heads;
}

Result<std::vector<User>> UserStore::find_users(const std::vector<std::string>& usernames) {
  std::vector<User> users;
  for (const std::string& name : usernames) {
    Result<User> user = get_user(name);
    if (user.ok()) {
      users.push_back(std::move(user).value());
    } else if (user.error().code != Errc::not_found) {
      return user.error();
    }
  }
  return users;
}

std::vector<Conversation> newest_first(std::vector<Conversation> latest, uint64_t before,
                                       int limit) {
  if (before != 0) {
    std::erase_if(latest, [before](const Conversation& c) { return c.last.seq >= before; });
  }
  const auto n = std::min(latest.size(), static_cast<std::size_t>(std::max(limit, 0)));
  std::partial_sort(
      latest.begin(), latest.begin() + static_cast<std::ptrdiff_t>(n), latest.end(),
      [](const Conversation& a, const Conversation& b) { return a.last.seq > b.last.seq; });
  latest.resize(n);
  return latest;
}

}  // namespace chat::store
