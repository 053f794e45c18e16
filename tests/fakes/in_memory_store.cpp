#include "fakes/in_memory_store.h"

#include <algorithm>
#include <limits>
#include <map>

namespace chat::store {
namespace {

Status check_limit(int limit) {
  if (limit < 1) return make_error(Errc::bad_request, "limit must be at least 1");
  return Ok{};
}

std::string_view peer_of(const InboxEntry& entry) {
  return entry.from == entry.owner ? entry.to : entry.from;
}

}  // namespace

void InMemoryStore::set_failing(bool failing) {
  std::lock_guard lock(mu_);
  failing_ = failing;
}

void InMemoryStore::set_routes(std::string owner, std::vector<std::string> nodes) {
  std::lock_guard lock(mu_);
  routes_[std::move(owner)] = std::move(nodes);
}

void InMemoryStore::drain() {
  std::lock_guard lock(mu_);
  drained_ = true;
}

Status InMemoryStore::writable() const {
  if (drained_) return make_error(Errc::unavailable, "in-memory store: shut down");
  if (failing_) return make_error(Errc::unavailable, "in-memory store: failing on purpose");
  return Ok{};
}

void InMemoryStore::create_user(std::string username, int64_t now_ms, Callback<User> done) {
  Result<User> result = [&]() -> Result<User> {
    std::lock_guard lock(mu_);
    if (Status s = writable(); !s.ok()) return s.error();
    User user{username, now_ms, std::nullopt};
    if (!users_.emplace(username, user).second) {
      return make_error(Errc::conflict, "user exists: " + username);
    }
    return user;
  }();
  done(std::move(result));
}

void InMemoryStore::delete_user(std::string username, Callback<Ok> done) {
  Status result = [&]() -> Status {
    std::lock_guard lock(mu_);
    if (Status s = writable(); !s.ok()) return s;
    if (users_.erase(username) == 0) {
      return make_error(Errc::not_found, "no such user: " + username);
    }
    inboxes_.erase(username);
    auto first = sends_.lower_bound({username, std::string()});
    auto last = first;
    while (last != sends_.end() && last->first.first == username) ++last;
    sends_.erase(first, last);
    return Ok{};
  }();
  done(std::move(result));
}

void InMemoryStore::touch_last_seen(std::string username, int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (!writable().ok()) return;
  if (auto it = users_.find(username); it != users_.end()) it->second.last_seen = now_ms;
}

Result<User> InMemoryStore::get_user(std::string_view username) {
  std::lock_guard lock(mu_);
  auto it = users_.find(username);
  if (it == users_.end())
    return make_error(Errc::not_found, "no such user: " + std::string(username));
  return it->second;
}

Result<UserPage> InMemoryStore::list_users(std::string_view after, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  std::lock_guard lock(mu_);
  UserPage page;
  for (auto it = users_.upper_bound(after); it != users_.end(); ++it) {
    if (page.users.size() == static_cast<std::size_t>(limit)) {
      page.next = page.users.back().username;
      break;
    }
    page.users.push_back(it->second);
  }
  return page;
}

void InMemoryStore::append(SendRequest request, Callback<SendResult> done) {
  Result<SendResult> result = [&]() -> Result<SendResult> {
    std::lock_guard lock(mu_);
    if (Status s = writable(); !s.ok()) return s.error();
    return append_locked(request);
  }();
  done(std::move(result));
}

Result<SendResult> InMemoryStore::append_locked(const SendRequest& request) {
  if (auto it = sends_.find({request.from, request.client_id}); it != sends_.end()) {
    SendResult original;
    original.duplicate = true;
    original.msg_id = it->second.msg_id;
    original.sender_seq = it->second.seq;
    original.ts = it->second.ts;
    return original;
  }
  if (!users_.contains(request.from)) {
    return make_error(Errc::forbidden, "no such sender: " + request.from);
  }
  if (!users_.contains(request.to)) {
    return make_error(Errc::unknown_recipient, "no such user: " + request.to);
  }
  SendResult result;
  result.msg_id = request.msg_id;
  result.ts = request.ts;
  result.entries.push_back(push_entry(request, request.to));
  if (request.from != request.to) result.entries.push_back(push_entry(request, request.from));
  result.sender_seq = result.entries.back().seq;
  if (!routes_.empty()) {
    for (const InboxEntry& entry : result.entries) {
      auto route = routes_.find(entry.owner);
      result.routes.push_back(route == routes_.end() ? std::vector<std::string>{} : route->second);
    }
  }
  sends_[{request.from, request.client_id}] = Sent{request.msg_id, result.sender_seq, request.ts};
  return result;
}

InboxEntry& InMemoryStore::push_entry(const SendRequest& request, const std::string& owner) {
  std::vector<InboxEntry>& inbox = inboxes_[owner];
  return inbox.emplace_back(InboxEntry{owner, inbox.size() + 1, request.msg_id, request.from,
                                       request.to, request.body, request.ts});
}

Result<std::vector<InboxEntry>> InMemoryStore::read_inbox(std::string_view owner, uint64_t after,
                                                          int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  std::lock_guard lock(mu_);
  std::vector<InboxEntry> entries;
  auto it = inboxes_.find(owner);
  if (it == inboxes_.end()) return entries;
  const std::vector<InboxEntry>& inbox = it->second;
  // Seqs are gapless from 1, so seq s lives at index s - 1.
  for (uint64_t i = std::min<uint64_t>(after, inbox.size());
       i < inbox.size() && entries.size() < static_cast<std::size_t>(limit); ++i) {
    entries.push_back(inbox[i]);
  }
  return entries;
}

Result<std::vector<InboxEntry>> InMemoryStore::history(std::string_view owner,
                                                       std::string_view peer, uint64_t before,
                                                       int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  std::lock_guard lock(mu_);
  std::vector<InboxEntry> entries;
  auto it = inboxes_.find(owner);
  if (it == inboxes_.end()) return entries;
  const uint64_t bound = before == 0 ? std::numeric_limits<uint64_t>::max() : before;
  for (auto entry = it->second.rbegin();
       entry != it->second.rend() && entries.size() < static_cast<std::size_t>(limit); ++entry) {
    if (entry->seq < bound && peer_of(*entry) == peer) entries.push_back(*entry);
  }
  return entries;
}

Result<std::vector<Conversation>> InMemoryStore::conversations(std::string_view owner,
                                                               uint64_t before, int limit) {
  if (Status s = check_limit(limit); !s.ok()) return s.error();
  std::lock_guard lock(mu_);
  std::map<std::string, InboxEntry, std::less<>> latest;
  auto it = inboxes_.find(owner);
  if (it != inboxes_.end()) {
    for (const InboxEntry& entry : it->second) latest[std::string(peer_of(entry))] = entry;
  }
  std::vector<Conversation> all;
  for (auto& [peer, entry] : latest) all.push_back({peer, entry});
  return newest_first(std::move(all), before, limit);
}

Result<uint64_t> InMemoryStore::last_seq(std::string_view owner) {
  std::lock_guard lock(mu_);
  auto it = inboxes_.find(owner);
  return it == inboxes_.end() ? uint64_t{0} : static_cast<uint64_t>(it->second.size());
}

}  // namespace chat::store
